package poller

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keycdc/keycdc/checkpoint"
	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/events"
	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var update = os.Getenv("KEYCDC_UPDATE_GOLDEN") == "1"

// The checkpoint's wire format is pinned by a golden file: a change to it must be
// deliberate, with a new version number.
func TestPositionGolden(t *testing.T) {
	p := Position{
		Events:       events.Position{Watermark: 1_763_900_000_123, Seen: events.Seen{3, 1 << 40}},
		AdminEvents:  events.Position{Watermark: 1_763_900_000_456},
		LastFullScan: 1_763_899_000_000,
		Rescan:       true,
		Instance:     "host-a/42/Q2ZX7LPM",
	}
	got, err := p.encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "position.golden.json")
	if update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with KEYCDC_UPDATE_GOLDEN=1 to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("position encodes as\n%s\nwant\n%s", got, want)
	}
	back, err := ParsePosition(want)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(back); string(b) != string(want) {
		t.Fatalf("round trip: %s", b)
	}
	if _, err := ParsePosition(checkpoint.Position(`{"v":99}`)); err == nil {
		t.Fatal("a newer format was accepted")
	}
	if p, err := ParsePosition(nil); err != nil || p.Version != positionVersion {
		t.Fatalf("no checkpoint: %v %v", p, err)
	}
}

// harness runs a Poller on kfake, srfake and the twin.
type harness struct {
	t     *testing.T
	twin  *kctwin.Twin
	kafka *kfake.Cluster
	codec *schemas.Codec
	kc    *keycloak.Client
	url   string // the twin's
	realm string
}

func newHarness(t *testing.T, twinClock func() time.Time) *harness {
	t.Helper()
	tw, err := kctwin.New(kctwin.Clock(twinClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	if err := tw.Generate(kctwin.GenerateSpec{Name: "acme", Users: 40, Groups: 4, Roles: 3, Clients: 2, Events: 20, AdminEvents: 5, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	ks := httptest.NewServer(tw)
	t.Cleanup(ks.Close)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	rc, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := tw.PollerCredentials("acme")
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: ks.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, twin: tw, kafka: cluster, codec: schemas.NewCodec(rc), kc: kc, url: ks.URL, realm: "acme"}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	specs := map[string]topics.Spec{topics.CheckpointTopic("keycloak"): topics.CheckpointSpec(1)}
	for _, tb := range schemas.Tables() {
		name := topics.Name("keycloak", "acme", tb)
		specs[name] = topics.DataSpec(1, 1)
		if err := h.codec.Register(ctx, name, tb); err != nil {
			t.Fatal(err)
		}
	}
	if err := topics.Ensure(ctx, kadm.NewClient(cl), specs); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) poller(cfg Config, opts ...Option) *Poller {
	h.t.Helper()
	cfg.Realm = h.realm
	brokers := h.kafka.ListenAddrs()
	p, err := New(cfg, h.kc, Kafka{
		NewProducer: func() (*kgo.Client, error) {
			return kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("keycdc-test-acme"))
		},
		NewConsumer: func() (*kgo.Client, error) {
			return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, topics.ReplayOpts()...)...)
		},
	}, h.codec, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// useKeycloak replaces the harness's Keycloak client with one built with opts that reaches
// the twin through a server calling observe (when not nil) with every request first.
func (h *harness) useKeycloak(observe func(*http.Request), opts ...keycloak.Option) {
	h.t.Helper()
	url := h.url
	if observe != nil {
		ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			observe(r)
			h.twin.ServeHTTP(w, r)
		}))
		h.t.Cleanup(ks.Close)
		url = ks.URL
	}
	cred, _ := h.twin.PollerCredentials(h.realm)
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: url, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)}, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.kc = kc
}

// userRows reads the user topic back: id → username.
func (h *harness) userRows() map[string]string {
	h.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(h.kafka.ListenAddrs()...)}, topics.ReplayOpts()...)...)
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]string{}
	ctx := context.Background()
	err = topics.Replay(ctx, cl, []string{topics.Name("keycloak", "acme", schemas.User)}, func(r *kgo.Record) error {
		d, err := h.codec.Decode(ctx, r.Topic, r.Key, r.Value)
		if err != nil {
			return err
		}
		id := d.Key["id"].(string)
		if d.Value == nil {
			delete(out, id)
		} else {
			out[id], _ = d.Value["first_name"].(string)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// Keycloak's clock running behind keycdc's must not make keycdc ignore the admin events
// of changes made right after a full scan started: they are stamped before it.
func TestHintsSurviveKeycloakClockSkew(t *testing.T) {
	skew := 10 * time.Second
	h := newHarness(t, func() time.Time { return time.Now().Add(-skew) })
	p := h.poller(Config{PollInterval: 50 * time.Millisecond, FullScanInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return !p.Status().LastCycle.IsZero() })
	d, _ := h.twin.DumpRealm(h.realm)
	u := d.Users[2]
	if err := h.twin.UpdateUser(h.realm, u.ID, func(in *kctwin.UserInput) { in.FirstName = "Skewed" }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.userRows()[u.ID] == "Skewed" })
}

// With Once, Run commits one complete cycle and returns; a second Once on an unchanged
// realm commits no data record, and the checkpoint records the scan.
func TestOnceCommitsACycle(t *testing.T) {
	h := newHarness(t, time.Now)
	if err := h.poller(Config{Once: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	users := h.userRows()
	if len(users) < 40 {
		t.Fatalf("%d users written", len(users))
	}
	p := h.poller(Config{Once: true})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.Status().Records[schemas.User.Name()]; n != 0 {
		t.Fatalf("a quiet cycle wrote %d user records", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
