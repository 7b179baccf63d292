package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

type fixture struct {
	twin  *kctwin.Twin
	kc    *keycloak.Client
	realm string
	owner string
	now   time.Time
}

// clock is fixed so that day windows and generated event times are deterministic.
var clock = time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC)

func newFixture(t *testing.T, version string, events, adminEvents int) *fixture {
	t.Helper()
	f := &fixture{now: clock}
	tw, err := kctwin.New(kctwin.KeycloakVersion(version), kctwin.Clock(func() time.Time { return f.now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	spec := kctwin.GenerateSpec{Name: "acme", Users: 30, Groups: 3, Roles: 3, Clients: 2, Events: events, AdminEvents: adminEvents, Seed: 3}
	if err := tw.Generate(spec); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	cred, _ := tw.PollerCredentials("acme")
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)}, keycloak.Retries(3, time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	f.twin, f.kc, f.realm, f.owner = tw, kc, "acme", cred.ClientID
	return f
}

func (f *fixture) stream(t *testing.T, k Kind, opts ...Option) *Stream {
	t.Helper()
	s, err := New(f.kc, f.realm, k, append([]Option{PageSize(16), MaxBatch(40), OwnClient(f.owner, false),
		Clock(func() time.Time { return f.now })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sink collects what a stream emits, as the topic would hold it.
type sink struct {
	t       *testing.T
	rows    map[string]schemas.Row
	records int
	batches int
	fail    func(Batch) error
}

func newSink(t *testing.T) *sink { return &sink{t: t, rows: map[string]schemas.Row{}} }

func (s *sink) emit(_ context.Context, b Batch) error {
	if s.fail != nil {
		if err := s.fail(b); err != nil {
			return err
		}
	}
	s.batches++
	for _, c := range b.Changes {
		k, err := c.Table.DecodeKey(c.Key)
		if err != nil {
			s.t.Fatal(err)
		}
		v, err := c.Table.DecodeValue(c.Value)
		if err != nil {
			s.t.Fatal(err)
		}
		id := k["id"].(string)
		if _, dup := s.rows[id]; dup {
			s.t.Errorf("event %s written twice", id)
		}
		s.rows[id] = v
		s.records++
	}
	return nil
}

func (f *fixture) want(t *testing.T, k Kind) map[string]schemas.Row {
	d, err := f.twin.DumpRealm(f.realm)
	if err != nil {
		t.Fatal(err)
	}
	if k == Admin {
		return expected.AdminEvents(d, f.twin.Version())
	}
	return expected.Events(d, f.owner)
}

// check compares by id where the server has ids, else by content.
func (f *fixture) check(t *testing.T, k Kind, got map[string]schemas.Row) {
	t.Helper()
	want := f.want(t, k)
	if f.twin.Version() >= "26.2" {
		if diff := expected.Diff(k.Table().Name(), want, got, 5); diff != "" {
			t.Fatal(diff)
		}
		return
	}
	w, g := expected.WithoutID(want), expected.WithoutID(got)
	for c, n := range w {
		if g[c] != n {
			t.Errorf("event %s: want %d, got %d", c, n, g[c])
		}
	}
	for c, n := range g {
		if _, ok := w[c]; !ok {
			t.Errorf("unexpected event %s (%d)", c, n)
		}
	}
}

func start() time.Time { return clock.Add(-30 * 24 * time.Hour) }

func TestStreamsEveryEventOnce(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		for _, k := range []Kind{User, Admin} {
			t.Run(v+"/"+k.String(), func(t *testing.T) {
				f := newFixture(t, v, 400, 120)
				s := f.stream(t, k)
				out := newSink(t)
				pos, err := s.Poll(context.Background(), Position{}, start(), out.emit)
				if err != nil {
					t.Fatal(err)
				}
				if epoch, _ := s.EpochFilters(); epoch != (v == "26.2") {
					t.Fatalf("detected epoch filters = %v on %s", epoch, v)
				}
				f.check(t, k, out.rows)
				if out.batches < out.records/40 {
					t.Errorf("%d batches for %d records, MaxBatch 40", out.batches, out.records)
				}

				// Quiet: nothing new, nothing emitted (own token grants do not count).
				before := out.batches
				f.kc.Token(context.Background(), f.realm)
				pos2, err := s.Poll(context.Background(), pos, start(), out.emit)
				if err != nil {
					t.Fatal(err)
				}
				if out.batches != before {
					t.Fatalf("quiet poll emitted %d batches", out.batches-before)
				}

				// New events: a same-millisecond burst (two of them identical), and one that
				// arrives late: its time is before the watermark but within the overlap.
				f.now = f.now.Add(time.Minute)
				ms := f.now.UnixMilli()
				inject := func(typ, user string, at int64) {
					var err error
					if k == Admin {
						_, err = f.twin.InjectAdminEvent(f.realm, kctwin.AdminEvent{Time: at, OperationType: "UPDATE",
							ResourceType: "USER", ResourcePath: "users/" + user})
					} else {
						_, err = f.twin.InjectEvent(f.realm, kctwin.Event{Time: at, Type: typ, UserID: user, ClientID: "app", IPAddress: "10.0.0.1"})
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				inject("LOGIN", "u1", ms)
				inject("LOGIN", "u1", ms)
				inject("LOGOUT", "u2", ms)
				pos3, err := s.Poll(context.Background(), pos2, start(), out.emit)
				if err != nil {
					t.Fatal(err)
				}
				inject("LOGIN_ERROR", "u3", ms-5000) // late: became visible after the watermark passed it
				if _, err := s.Poll(context.Background(), pos3, start(), out.emit); err != nil {
					t.Fatal(err)
				}
				f.check(t, k, out.rows)
			})
		}
	}
}

// A failure to commit a batch leaves the stream at the last accepted position; resuming
// from there writes every event exactly once.
func TestResumeAfterFailedBatch(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, v, 300, 0)
			out := newSink(t)
			var accepted Position
			n := 0
			out.fail = func(b Batch) error {
				n++
				if n%3 == 0 {
					return errors.New("commit failed")
				}
				accepted = b.Position
				return nil
			}
			for i := 0; i < 50; i++ {
				s := f.stream(t, User) // a new process each time: nothing survives but the position
				_, err := s.Poll(context.Background(), accepted, start(), out.emit)
				if err == nil {
					break
				}
			}
			f.check(t, User, out.rows)
		})
	}
}

func TestRedact(t *testing.T) {
	in := `{"clientId":"app","secret":"hunter2","attributes":{"client.secret.rotated":"old","saml.signing.private.key":"k","x":"y"},
		"credentials":[{"type":"password","value":"pw"}],"nested":[{"password":"p"}],"enabled":true}`
	out := Redact(in)
	if out == nil {
		t.Fatal("nil")
	}
	for _, leak := range []string{"hunter2", `"old"`, `"k"`, `"pw"`, `"p"`} {
		if contains(*out, leak) {
			t.Errorf("redacted representation still holds %s: %s", leak, *out)
		}
	}
	if !contains(*out, `"x":"y"`) || !contains(*out, `"clientId":"app"`) {
		t.Errorf("redaction removed harmless fields: %s", *out)
	}
	if Redact("not json") != nil {
		t.Error("non-JSON representation kept")
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestSyntheticIDsAreDeterministicUUIDs(t *testing.T) {
	a, b := syntheticID(User, "fp", 0), syntheticID(User, "fp", 0)
	if a != b || a == syntheticID(User, "fp", 1) || a == syntheticID(Admin, "fp", 0) {
		t.Fatal("ids not deterministic or not distinct")
	}
	if len(a) != 36 || a[14] != '5' {
		t.Fatalf("%s is not a version-5 UUID", a)
	}
}

// A burst of events in the overlap window costs 8 bytes of checkpoint per event, and a
// position written by an older keycdc (ids as strings) still reads.
func TestPositionStaysSmallUnderABurst(t *testing.T) {
	f := newFixture(t, "26.2", 0, 0)
	f.now = f.now.Add(time.Minute)
	base := f.now.UnixMilli() - 20_000
	const n = 20_000
	for i := 0; i < n; i++ {
		if _, err := f.twin.InjectEvent(f.realm, kctwin.Event{Time: base + int64(i), Type: "LOGIN_ERROR",
			UserID: fmt.Sprintf("u%d", i%50), ClientID: "app", IPAddress: "10.0.0.1", Error: "invalid_user_credentials"}); err != nil {
			t.Fatal(err)
		}
	}
	s := f.stream(t, User, PageSize(500), MaxBatch(5000))
	largest := 0
	pos, err := s.Poll(context.Background(), Position{}, f.now.Add(-time.Hour), func(_ context.Context, b Batch) error {
		raw, _ := json.Marshal(b.Position)
		largest = max(largest, len(raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos.Seen) < n/2 || largest > 12*n {
		t.Fatalf("position holds %d ids in %d bytes", len(pos.Seen), largest)
	}
	var back Position
	raw, _ := json.Marshal(pos)
	if err := json.Unmarshal(raw, &back); err != nil || !slices.Equal(back.Seen, pos.Seen) {
		t.Fatalf("position does not round-trip: %v", err)
	}
	var legacy Position
	if err := json.Unmarshal([]byte(`{"watermark":5,"seen":["a","b"]}`), &legacy); err != nil || !legacy.Seen.Has("a") || legacy.Seen.Has("c") {
		t.Fatalf("legacy position: %v %v", legacy, err)
	}
}

// Tiny pages on an old server still make progress.
func TestSmallPagesOnOldServers(t *testing.T) {
	f := newFixture(t, "25.0", 200, 0)
	for _, size := range []int{2, 3, 8} {
		s := f.stream(t, User, PageSize(size))
		out := newSink(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_, err := s.Poll(ctx, Position{}, start(), out.emit)
		cancel()
		if err != nil {
			t.Fatalf("page size %d: %v", size, err)
		}
		f.check(t, User, out.rows)
	}
}
