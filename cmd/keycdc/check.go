package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/poller/snapshot"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

func cmdCheck(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("check", e)
	c, err := commandConfig(fs, e, args, needKeycloak|needKafka|needRegistry)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r := &report{}
	preflight(ctx, c, r)
	r.print(e.stdout)
	if n := r.failures(); n > 0 {
		return fmt.Errorf("%d check(s) failed; fix them and run keycdc check again", n)
	}
	return nil
}

type verdict string

const (
	pass verdict = "OK"
	warn verdict = "WARN"
	fail verdict = "FAIL"
)

type finding struct {
	verdict       verdict
	check, detail string
	fix           string
}

type report struct{ findings []finding }

func (r *report) add(v verdict, check, detail, fix string) {
	r.findings = append(r.findings, finding{v, check, detail, fix})
}

func (r *report) failures() (n int) {
	for _, f := range r.findings {
		if f.verdict == fail {
			n++
		}
	}
	return n
}

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tDETAIL")
	for _, f := range r.findings {
		detail := f.detail
		if f.fix != "" {
			detail += " — fix: " + f.fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.verdict, f.check, detail)
	}
	tw.Flush()
}

// preflight checks everything keycdc run needs, without writing anything.
func preflight(ctx context.Context, c *config, r *report) {
	tables, _ := tablesOf(c.Sync.Tables)
	wants := map[*schemas.Table]bool{}
	for _, t := range tables {
		wants[t] = true
	}
	checkKeycloak(ctx, c, r, wants)
	checkKafka(ctx, c, r, tables)
	checkRegistry(ctx, c, r)
}

func checkKeycloak(ctx context.Context, c *config, r *report, wants map[*schemas.Table]bool) {
	// Any HTTP answer proves the server is reachable; whether the realms exist and the
	// credentials work is the token check's business.
	hc := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.Keycloak.URL, "/")+"/", nil)
	if err != nil {
		r.add(fail, "keycloak reachable", err.Error(), "check keycloak.url")
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		r.add(fail, "keycloak reachable", fmt.Sprintf("%s: %v", c.Keycloak.URL, scrubURL(err)),
			"check keycloak.url and that Keycloak is running")
		return
	}
	resp.Body.Close()
	r.add(pass, "keycloak reachable", c.Keycloak.URL, "")

	kc, err := keycloakClient(c, noop.NewMeterProvider())
	if err != nil {
		r.add(fail, "keycloak client", err.Error(), "")
		return
	}
	for _, realm := range c.Keycloak.Realms {
		checkRealm(ctx, kc, realm, r, wants)
	}
}

func checkRealm(ctx context.Context, kc *keycloak.Client, realm string, r *report, wants map[*schemas.Table]bool) {
	name := func(s string) string { return fmt.Sprintf("realm %s: %s", realm, s) }
	if err := kc.Token(ctx, realm); err != nil {
		var ae *keycloak.AuthError
		fix := "check keycloak.client_id and keycloak.client_secret"
		if errors.As(err, &ae) {
			fix = ""
		}
		r.add(fail, name("token"), err.Error(), fix)
		return
	}
	r.add(pass, name("token"), "client credentials accepted", "")
	role := func(r0 string, err error, detail string) {
		switch {
		case keycloak.IsForbidden(err):
			r.add(fail, name("role "+r0), "the service account lacks "+r0,
				"Clients → (keycdc's client) → Service account roles → assign realm-management "+r0)
		case err != nil:
			r.add(fail, name("role "+r0), err.Error(), "")
		default:
			r.add(pass, name("role "+r0), detail, "")
		}
	}
	entities := false // an entity table is written: users, groups, roles, clients are read
	for _, t := range snapshot.Tables() {
		entities = entities || wants[t]
	}
	if entities {
		checkEntityRoles(ctx, kc, realm, role, func(v verdict, what, detail, fix string) { r.add(v, name(what), detail, fix) })
	}
	cfg, err := kc.EventsConfig(ctx, realm)
	role("view-events", err, "events visible")
	if err != nil {
		return
	}
	if !cfg.EventsEnabled {
		v := warn
		if wants[schemas.Event] {
			v = fail
		}
		r.add(v, name("user events"), "the realm does not save user events: the event table stays empty",
			"Realm settings → Events → User events settings → Save events: on (or leave event out of sync.tables)")
	} else {
		d := "saved"
		if cfg.EventsExpiration != nil && *cfg.EventsExpiration > 0 {
			d = fmt.Sprintf("saved, expiring after %v: keycdc must not be stopped longer than that", time.Duration(*cfg.EventsExpiration)*time.Second)
		}
		r.add(pass, name("user events"), d, "")
	}
	switch {
	case cfg.AdminEventsEnabled:
		r.add(pass, name("admin events"), "saved: entity changes arrive within a poll interval", "")
	case wants[schemas.AdminEvent]:
		r.add(fail, name("admin events"), "the realm does not save admin events: the admin_event table stays empty",
			"Realm settings → Events → Admin events settings → Save events: on (or leave admin_event out of sync.tables)")
	case entities:
		r.add(warn, name("admin events"), "the realm does not save admin events: entity changes wait for the next full scan (sync.full_scan_interval)",
			"Realm settings → Events → Admin events settings → Save events: on")
	}
}

// checkEntityRoles checks the roles that reading users, groups, roles and clients needs.
func checkEntityRoles(ctx context.Context, kc *keycloak.Client, realm string, role func(string, error, string),
	add func(v verdict, what, detail, fix string)) {
	n, err := kc.UsersCount(ctx, realm, true)
	if err == nil {
		var users []keycloak.User
		users, err = kc.Users(ctx, realm, true, 0, 1)
		if err == nil && n > 0 && len(users) == 0 {
			// With query-users only, Keycloak counts users but lists none.
			add(fail, "role view-users", fmt.Sprintf("%d users counted but none listed: the service account can query but not view users", n),
				"assign realm-management view-users to keycdc's service account")
		} else {
			role("view-users", err, fmt.Sprintf("%d enabled users visible", n))
		}
	} else {
		role("view-users", err, "")
	}
	_, err = kc.RealmRoles(ctx, realm)
	role("view-realm", err, "realm roles visible")
	_, err = kc.Clients(ctx, realm, 0, 1)
	role("view-clients", err, "clients visible")
}

func checkKafka(ctx context.Context, c *config, r *report, tables []*schemas.Table) {
	base, err := kafkaOpts(c)
	if err != nil {
		r.add(fail, "kafka", err.Error(), "")
		return
	}
	cl, err := kgo.NewClient(base...)
	if err != nil {
		r.add(fail, "kafka", err.Error(), "")
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	kctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	meta, err := adm.BrokerMetadata(kctx)
	if err != nil {
		r.add(fail, "kafka reachable", fmt.Sprintf("brokers %s: %v", strings.Join(c.Kafka.Brokers, ","), err),
			"check kafka.brokers, kafka.tls and kafka.sasl, and that Kafka is running")
		return
	}
	r.add(pass, "kafka reachable", fmt.Sprintf("%d broker(s), cluster %s", len(meta.Brokers), meta.Cluster), "")

	specs := map[string]topics.Spec{topics.CheckpointTopic(c.Kafka.TopicPrefix): topics.CheckpointSpec(int16(c.Kafka.ReplicationFactor))}
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			specs[topics.Name(c.Kafka.TopicPrefix, realm, t)] = topics.DataSpec(int32(c.Kafka.Partitions), int16(c.Kafka.ReplicationFactor))
		}
	}
	missing, err := topics.Verify(kctx, adm, specs)
	switch {
	case err != nil && topics.IsFatal(err):
		r.add(fail, "kafka topics", err.Error(), "")
	case err != nil:
		r.add(warn, "kafka topics", err.Error(), "")
	case len(missing) > 0:
		r.add(pass, "kafka topics", fmt.Sprintf("%d of %d exist and are compacted; keycdc run creates the other %d", len(specs)-len(missing), len(specs), len(missing)), "")
	default:
		r.add(pass, "kafka topics", fmt.Sprintf("all %d exist and are compacted", len(specs)), "")
	}

	// Transactions: initialising a producer id for a transactional id of our own is what
	// keycdc run does first; it needs the TransactionalId ACLs and a transaction coordinator.
	tx, err := kgo.NewClient(append(append([]kgo.Opt{}, base...), kgo.TransactionalID("keycdc:check:"+c.Kafka.TopicPrefix))...)
	if err != nil {
		r.add(fail, "kafka transactions", err.Error(), "")
		return
	}
	defer tx.Close()
	if _, _, err := tx.ProducerID(kctx); err != nil {
		r.add(fail, "kafka transactions", err.Error(),
			"allow transactional producers: the transaction state topic must be available, and with ACLs grant WRITE and DESCRIBE on TransactionalId prefix keycdc:")
		return
	}
	r.add(pass, "kafka transactions", "transactional producer initialised", "")
}

func checkRegistry(ctx context.Context, c *config, r *report) {
	reg, err := registryClient(c)
	if err != nil {
		r.add(fail, "schema registry", err.Error(), "")
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := reg.Subjects(sctx); err != nil {
		r.add(fail, "schema registry", fmt.Sprintf("%s: %v", c.SchemaRegistry.URL, err),
			"check schema_registry.url and its username/password")
		return
	}
	r.add(pass, "schema registry", c.SchemaRegistry.URL, "")
}

// scrubURL keeps an error message free of the URL it repeats.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
