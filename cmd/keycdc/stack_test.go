package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/events"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// stack is the whole world of an end-to-end test on real sockets: a Kafka broker (kfake),
// a schema registry (srfake) and a Keycloak twin.
type stack struct {
	t         *testing.T
	kafka     *kfake.Cluster
	reg       *srfake.Registry
	twin      *kctwin.Twin
	kcSrv     *httptest.Server
	realms    []string
	dir       string
	syncExtra string // lines added to the sync section of the generated configuration
	// representations: admin events carry their (redacted) representation.
	representations bool
}

func newStack(t *testing.T, version string, specs ...kctwin.GenerateSpec) *stack {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	tw, err := kctwin.New(kctwin.KeycloakVersion(version))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	s := &stack{t: t, kafka: kc, reg: reg, twin: tw, dir: t.TempDir()}
	for _, sp := range specs {
		if err := tw.Generate(sp); err != nil {
			t.Fatal(err)
		}
		s.realms = append(s.realms, sp.Name)
		if err := tw.SetPollerSecret(sp.Name, "s3cret-"+sp.Name); err != nil {
			t.Fatal(err)
		}
	}
	s.kcSrv = httptest.NewServer(tw)
	t.Cleanup(s.kcSrv.Close)
	return s
}

// config writes the configuration file and returns its path. All realms share one client
// secret only if the caller sets it so; each generated realm has its own poller client, so
// the file names auth_realm only when there is one realm.
func (s *stack) config(realms ...string) string {
	s.t.Helper()
	return s.configWith(realms)
}

// configWith writes the configuration for realms (all when empty) after replacing, in
// its text, each old string of the pairs with the new one; a pair that matches nothing
// fails the test.
func (s *stack) configWith(realms []string, pairs ...string) string {
	s.t.Helper()
	if len(realms) == 0 {
		realms = s.realms
	}
	body := fmt.Sprintf(`keycloak:
  url: %s
  realms: [%s]
  client_id: keycdc
  client_secret: s3cret-%s
  page_size: 13
kafka:
  brokers: [%s]
  partitions: 2
  replication_factor: 1
  max_transaction_records: 200
schema_registry:
  url: %s
sync:
  poll_interval: 50ms
  events_overlap: 2s
%smetrics:
  listen: ""
`, s.kcSrv.URL, strings.Join(realms, ", "), realms[0], strings.Join(s.kafka.ListenAddrs(), ","), s.reg.URL(), s.syncExtra)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(body, pairs[i]) {
			s.t.Fatalf("configuration has no %q to replace", pairs[i])
		}
		body = strings.Replace(body, pairs[i], pairs[i+1], 1)
	}
	p := filepath.Join(s.dir, fmt.Sprintf("keycdc-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// runOnce runs `keycdc run --once` in-process and returns its stderr.
func (s *stack) runOnce(cfg string) (string, error) {
	var out, errb syncBuffer
	e := env{stdout: &out, stderr: &errb, lookupEnv: noEnv}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cmdRun(ctx, e, []string{"--config", cfg, "--once"})
	return errb.String(), err
}

// contents reads a realm's topics as a read_committed consumer sees them and folds them
// into tables; it fails the test on a record that does not decode and counts records per key
// of the event tables (a repeated event id is a duplicate visible to readers).
type contents struct {
	tables      expected.Tables
	events      map[string]schemas.Row
	adminEvents map[string]schemas.Row
	records     int
	dupEvents   []string
	raw         []*kgo.Record
}

func (s *stack) read(realm string) contents {
	s.t.Helper()
	c, err := s.tryRead(realm)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *stack) tryRead(realm string) (contents, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.kafka.ListenAddrs()...)}, topics.ReplayOpts()...)...)
	if err != nil {
		return contents{}, err
	}
	defer cl.Close()
	rc, err := sr.NewClient(sr.URLs(s.reg.URL()))
	if err != nil {
		return contents{}, err
	}
	codec := schemas.NewCodec(rc)
	c := contents{tables: expected.Tables{}, events: map[string]schemas.Row{}, adminEvents: map[string]schemas.Row{}}
	var names []string
	for _, t := range schemas.Tables() {
		names = append(names, topics.Name("keycloak", realm, t))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = topics.Replay(ctx, cl, names, func(r *kgo.Record) error {
		d, err := codec.Decode(ctx, r.Topic, r.Key, r.Value)
		if err != nil {
			return fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		c.records++
		c.raw = append(c.raw, r)
		switch d.Table {
		case schemas.Event, schemas.AdminEvent:
			m := c.events
			if d.Table == schemas.AdminEvent {
				m = c.adminEvents
			}
			id := d.Key["id"].(string)
			if _, dup := m[id]; dup {
				c.dupEvents = append(c.dupEvents, id)
			}
			m[id] = d.Value
		default:
			c.tables.Apply(d.Table, d.Key, d.Value)
		}
		return nil
	})
	return c, err
}

// check compares a realm's topics with the twin's ground truth.
func (s *stack) check(realm string, c contents) {
	s.t.Helper()
	if d := s.diff(realm, c); d != "" {
		s.t.Errorf("realm %s:\n%s", realm, d)
	}
}

// diff describes how a realm's topics differ from the twin's ground truth ("" if equal).
func (s *stack) diff(realm string, c contents) string {
	d, err := s.twin.DumpRealm(realm)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	add := func(x string) {
		if x != "" {
			out = append(out, x)
		}
	}
	v := s.twin.Version()
	want := expected.Entities(d, v)
	for _, t := range schemas.Tables() {
		if t == schemas.Event || t == schemas.AdminEvent {
			continue
		}
		add(expected.Diff(t.Name(), want[t.Name()], c.tables[t.Name()], 5))
	}
	if len(c.dupEvents) > 0 {
		add(fmt.Sprintf("%d events visible twice, e.g. %s", len(c.dupEvents), c.dupEvents[0]))
	}
	wantEv, wantAdm := expected.Events(d, "keycdc"), expected.AdminEvents(d, v)
	if s.representations {
		for _, e := range d.AdminEvents {
			if e.Representation != nil {
				if r := events.Redact(*e.Representation); r != nil {
					wantAdm[e.ID]["representation"] = *r
				}
			}
		}
	}
	if v >= "26.2" {
		add(expected.Diff("event", wantEv, c.events, 5))
		add(expected.Diff("admin_event", wantAdm, c.adminEvents, 5))
		return strings.Join(out, "\n")
	}
	for name, pair := range map[string][2]map[string]int{
		"event":       {expected.WithoutID(wantEv), expected.WithoutID(c.events)},
		"admin_event": {expected.WithoutID(wantAdm), expected.WithoutID(c.adminEvents)},
	} {
		w, g := pair[0], pair[1]
		var bad []string
		for k, n := range w {
			if g[k] != n {
				bad = append(bad, fmt.Sprintf("%dx want, %dx got: %s", n, g[k], k))
			}
		}
		for k, n := range g {
			if _, ok := w[k]; !ok {
				bad = append(bad, fmt.Sprintf("0x want, %dx got: %s", n, k))
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			add(fmt.Sprintf("%d %s contents differ from the twin's (%d want, %d got), e.g.\n  %s", len(bad), name, len(w), len(g),
				strings.Join(bad[:min(len(bad), 5)], "\n  ")))
		}
	}
	return strings.Join(out, "\n")
}

// eventually waits until the realm's topics equal the twin's truth, failing after timeout
// with the last difference.
func (s *stack) eventually(realm string, timeout time.Duration) contents {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := s.tryRead(realm)
		d := fmt.Sprint(err)
		if err == nil {
			if d = s.diff(realm, c); d == "" {
				return c
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("realm %s did not converge in %v:\n%s", realm, timeout, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start runs `keycdc run` (continuous) in-process until the returned stop is called.
func (s *stack) start(cfg string) (stop func() string) {
	s.t.Helper()
	var out, errb syncBuffer
	e := env{stdout: &out, stderr: &errb, lookupEnv: noEnv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdRun(ctx, e, []string{"--config", cfg}) }()
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				s.t.Errorf("keycdc run: %v\n%s", err, errb.String())
			}
		}
		return errb.String()
	}
	s.t.Cleanup(func() { stop() })
	return stop
}

// uncommittedRecords counts the data records of a realm's topics that a read_uncommitted
// consumer sees, aborted transactions included.
func (s *stack) uncommittedRecords(realm string) int {
	s.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka.ListenAddrs()...), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var names []string
	for _, t := range schemas.Tables() {
		names = append(names, topics.Name("keycloak", realm, t))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		s.t.Fatal(err)
	}
	want := map[string]map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if want[o.Topic] == nil {
				want[o.Topic] = map[int32]kgo.Offset{}
			}
			want[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
			remaining++
		}
	})
	cl.AddConsumePartitions(want)
	n := 0
	_ = remaining
	for {
		// Stop once a whole second brings nothing: every partition has been read to its end.
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		got := fs.NumRecords()
		n += got
		if got == 0 {
			break
		}
	}
	return n
}
