package snapshot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// memTopics is a committer that keeps what a compacted topic would end up holding.
type memTopics struct {
	t       *testing.T
	tables  expected.Tables
	log     []schemas.Change
	commits int
}

func newMemTopics(t *testing.T) *memTopics { return &memTopics{t: t, tables: expected.Tables{}} }

func (m *memTopics) Commit(_ context.Context, changes []schemas.Change) error {
	m.commits++
	for _, c := range changes {
		k, err := c.Table.DecodeKey(c.Key)
		if err != nil {
			m.t.Fatalf("decode %s key: %v", c.Table.Name(), err)
		}
		var v schemas.Row
		if c.Value != nil {
			if v, err = c.Table.DecodeValue(c.Value); err != nil {
				m.t.Fatalf("decode %s value: %v", c.Table.Name(), err)
			}
		}
		m.tables.Apply(c.Table, k, v)
		m.log = append(m.log, c)
	}
	return nil
}

type fixture struct {
	twin  *kctwin.Twin
	srv   *httptest.Server
	kc    *keycloak.Client
	realm string
}

func newFixture(t *testing.T, version string, spec string) *fixture {
	t.Helper()
	tw, err := kctwin.New(kctwin.KeycloakVersion(version))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	gs, err := kctwin.ParseGenerateSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Generate(gs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	cred, err := tw.PollerCredentials(gs.Name)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)}, keycloak.Retries(5, time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{twin: tw, srv: srv, kc: kc, realm: gs.Name}
}

func (f *fixture) scanner(t *testing.T, opts ...Option) *Scanner {
	t.Helper()
	s, err := New(f.kc, f.realm, append([]Option{PageSize(7), MaxBatch(50)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) checkEqual(t *testing.T, got expected.Tables) {
	t.Helper()
	d, err := f.twin.DumpRealm(f.realm)
	if err != nil {
		t.Fatal(err)
	}
	want := expected.Entities(d, f.twin.Version())
	for _, tb := range Tables() {
		if diff := expected.Diff(tb.Name(), want[tb.Name()], got[tb.Name()], 5); diff != "" {
			t.Errorf("%s", diff)
		}
	}
}

func TestFullScanEqualsRealm(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, v, "name=acme,users=240,groups=30,roles=12,clients=6,events=0,admin-events=0,seed=7")
			m := newMemTopics(t)
			s := f.scanner(t)
			st, err := s.Scan(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			f.checkEqual(t, m.tables)
			if st.total() != len(m.log) || st.Lookups != 0 {
				t.Errorf("stats %+v vs %d changes", st, len(m.log))
			}
			for _, c := range m.log {
				if c.Value == nil {
					t.Fatalf("first scan wrote a tombstone for %s", c.Table.Name())
				}
			}
			if m.commits < len(m.log)/50 {
				t.Errorf("%d commits for %d changes with MaxBatch 50", m.commits, len(m.log))
			}

			// A second scan of an unchanged realm writes nothing.
			before := len(m.log)
			st, err = s.Scan(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.log) != before || st.Lookups != 0 {
				t.Fatalf("quiet scan wrote %d changes and made %d lookups", len(m.log)-before, st.Lookups)
			}

			// A scanner restored from the topics' content also writes nothing.
			r := f.scanner(t)
			for _, c := range m.log {
				if err := r.Restore(c.Table, c.Key, c.Value); err != nil {
					t.Fatal(err)
				}
			}
			st, err = r.Scan(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.log) != before {
				t.Fatalf("restored scanner wrote %d changes on an unchanged realm", len(m.log)-before)
			}
		})
	}
}

// Users created and deleted while a scan pages through users, role holders and group
// members shift Keycloak's offset pages. No row may be tombstoned unless its entity is
// really gone, and the next scan repairs whatever the shifting pages hid.
func TestChurnDuringScanCausesNoFalseDelete(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, v, "name=acme,users=300,groups=20,roles=6,clients=3,events=0,admin-events=0,seed=9")
			m := newMemTopics(t)
			s := f.scanner(t, PageSize(20))
			if _, err := s.Scan(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			d, _ := f.twin.DumpRealm(f.realm)
			var mu sync.Mutex // the hook runs on concurrent requests
			var deleted []string
			n := 0
			f.twin.SetHook(func(route string, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch route {
				case "GET /admin/realms/{realm}/users", "GET /admin/realms/{realm}/groups/{id}/members",
					"GET /admin/realms/{realm}/roles/{role-name}/users":
				default:
					return
				}
				n++
				if n%2 == 0 && n/2 < len(d.Users)-10 {
					u := d.Users[n/2+5]
					if err := f.twin.DeleteUser(f.realm, u.ID); err == nil {
						deleted = append(deleted, u.ID)
					}
				}
				if _, err := f.twin.CreateUser(f.realm, kctwin.UserInput{Username: fmt.Sprintf("aaa-%04d", n), Enabled: true}); err != nil {
					t.Error(err)
				}
			})
			before := len(m.log)
			if _, err := s.Scan(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			f.twin.SetHook(nil)
			if n < 10 || len(deleted) < 5 {
				t.Fatalf("the hook ran %d times and deleted %d users: no churn", n, len(deleted))
			}
			gone := map[string]bool{}
			for _, id := range deleted {
				gone[id] = true
			}
			now, _ := f.twin.DumpRealm(f.realm)
			exists := map[string]bool{}
			for _, u := range now.Users {
				exists[u.ID] = true
			}
			for _, c := range m.log[before:] {
				if c.Value != nil || c.Table != schemas.User {
					continue
				}
				k, _ := c.Table.DecodeKey(c.Key)
				id := k["id"].(string)
				if exists[id] || !gone[id] {
					t.Errorf("false delete of user %s", id)
				}
			}
			// Everything that really went was removed by this scan or is removed by the next,
			// and the next one leaves the topics equal to the realm.
			if _, err := s.Scan(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			f.checkEqual(t, m.tables)
		})
	}
}
