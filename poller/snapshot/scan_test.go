package snapshot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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

// A first snapshot read while users and memberships come and go still holds every row
// that existed throughout the scan: anchored pages let no shifting listing skip one.
func TestFirstScanUnderChurnSkipsNothing(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, v, "name=acme,users=400,groups=12,roles=5,clients=3,events=0,admin-events=0,seed=13")
			before, _ := f.twin.DumpRealm(f.realm)
			var mu sync.Mutex
			n := 0
			var churned int
			f.twin.SetHook(func(route string, r *http.Request) {
				if !strings.Contains(route, "/users") && !strings.Contains(route, "/members") {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				n++
				if n%4 != 0 {
					return // a change every fourth page read
				}
				switch n / 4 % 3 {
				case 0: // a user early in username order goes away: later pages shift up
					if err := f.twin.DeleteUser(f.realm, before.Users[n%len(before.Users)].ID); err == nil {
						churned++
					}
				case 1: // a user sorting first arrives: later pages shift down
					id, err := f.twin.CreateUser(f.realm, kctwin.UserInput{Username: fmt.Sprintf("aa-%05d", n), Enabled: true})
					if err == nil && len(before.Groups) > 0 {
						f.twin.JoinGroup(f.realm, id, before.Groups[n%len(before.Groups)].ID)
						churned++
					}
				case 2: // someone leaves a group: its member pages shift up
					u := before.Users[(n*7)%len(before.Users)]
					if len(u.Groups) > 0 {
						if err := f.twin.LeaveGroup(f.realm, u.ID, u.Groups[0]); err == nil {
							churned++
						}
					}
				}
			})
			m := newMemTopics(t)
			st, err := f.scanner(t, PageSize(20)).Scan(context.Background(), m)
			f.twin.SetHook(nil)
			if err != nil {
				t.Fatal(err)
			}
			if churned < 10 {
				t.Fatalf("only %d changes during the scan", churned)
			}
			after, _ := f.twin.DumpRealm(f.realm)
			wantBefore, wantAfter := expected.Entities(before, v), expected.Entities(after, v)
			// A row may only be missing if the listing it comes from was reported uncertain.
			covered := func(table string, r schemas.Row) bool {
				var listing string
				switch table {
				case "user", "user_attribute", "user_required_action":
					listing = "users ("
				case "user_realm_role":
					listing = fmt.Sprintf("users of role %q", r["role_name"])
				case "user_client_role":
					listing = fmt.Sprintf("users of role %q of client %q", r["role_name"], r["client_id"])
				case "group_member":
					listing = fmt.Sprintf("members of group %s", r["group_id"])
				default:
					return false
				}
				for _, u := range st.Uncertain {
					if strings.HasPrefix(u, listing) {
						return true
					}
				}
				return false
			}
			missing, uncovered := 0, 0
			for table, rows := range wantBefore {
				for k, r := range rows {
					if a, ok := wantAfter[table][k]; !ok || expected.Diff(table, map[string]schemas.Row{k: r}, map[string]schemas.Row{k: a}, 1) != "" {
						continue // changed or gone during the scan: hints cover it
					}
					if _, ok := m.tables[table][k]; !ok {
						missing++
						if !covered(table, r) {
							uncovered++
							if uncovered < 5 {
								t.Errorf("%s: row %q existed throughout the scan, was not written, and no uncertain listing covers it", table, k)
							}
						}
					}
				}
			}
			t.Logf("%d changes during the scan, %d listings read again, %d rows missing, uncertain listings: %v", churned, st.Rereads, missing, st.Uncertain)
			if st.Rereads == 0 {
				t.Error("no listing shifted: the test did not exercise anchored paging")
			}
			// The next scan (which the poller runs at once after an uncertain one) completes
			// the topics.
			again := f.scanner(t)
			for _, c := range m.log {
				again.Restore(c.Table, c.Key, c.Value)
			}
			if _, err := again.Scan(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			f.checkEqual(t, m.tables)
		})
	}
}

// A 404 from something in front of Keycloak (an ingress without a route) is not Keycloak
// saying an entity is gone: a refresh or scan that meets one fails and writes no tombstone.
func TestProxy404IsNoProofOfDeletion(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=60,groups=12,roles=4,clients=2,events=0,admin-events=0,seed=5")
	var proxy404 atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxy404.Load() && strings.HasPrefix(r.URL.Path, "/admin/") {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		f.twin.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cred, _ := f.twin.PollerCredentials(f.realm)
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)}, keycloak.Retries(1, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	f.kc = kc
	m := newMemTopics(t)
	s := f.scanner(t)
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d, _ := f.twin.DumpRealm(f.realm)
	var h Hints
	for _, g := range d.Groups {
		h.AdminEvent("UPDATE", "GROUP", "groups/"+g.ID)
	}
	h.AdminEvent("UPDATE", "USER", "users/"+d.Users[0].ID)
	h.AdminEvent("CREATE", "GROUP_MEMBERSHIP", "users/"+d.Users[1].ID+"/groups/"+d.Groups[0].ID)
	before := len(m.log)
	proxy404.Store(true)
	_, refreshErr := s.Refresh(context.Background(), &h, m)
	_, scanErr := f.scanner(t).Scan(context.Background(), m)
	proxy404.Store(false)
	if refreshErr == nil || scanErr == nil {
		t.Errorf("refresh err %v, scan err %v: a proxy's 404 went unnoticed", refreshErr, scanErr)
	}
	for _, c := range m.log[before:] {
		if c.Value == nil {
			t.Fatalf("tombstone in %s written on a proxy's 404", c.Table.Name())
		}
	}
}

// Deleting a client deletes its service-account user, and Keycloak records only the
// client's admin event: the refresh that follows must remove the user too.
func TestDeletedClientTakesItsServiceAccountUser(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=20,groups=3,roles=3,clients=2,events=0,admin-events=0,seed=5")
	id, err := f.twin.CreateClient(f.realm, kctwin.ClientInput{ClientID: "batch-job", Enabled: true, ServiceAccountsEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemTopics(t)
	s := f.scanner(t)
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := f.twin.DeleteClient(f.realm, id); err != nil {
		t.Fatal(err)
	}
	var h Hints
	h.AdminEvent("DELETE", "CLIENT", "clients/"+id) // the only admin event Keycloak writes
	if _, err := s.Refresh(context.Background(), &h, m); err != nil {
		t.Fatal(err)
	}
	f.checkEqual(t, m.tables)
}

// With sync.tables leaving the user table out, the rows of deleted users in the tables
// that are written still go.
func TestDeletedUsersRowsGoWithoutTheUserTable(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=40,groups=3,roles=3,clients=2,events=0,admin-events=0,seed=5")
	m := newMemTopics(t)
	s := f.scanner(t, Only(schemas.UserAttribute, schemas.UserRequiredAction))
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d, _ := f.twin.DumpRealm(f.realm)
	deleted := 0
	for _, u := range d.Users {
		if len(u.Attributes) > 0 && deleted < 3 {
			if err := f.twin.DeleteUser(f.realm, u.ID); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	now, _ := f.twin.DumpRealm(f.realm)
	want := expected.Entities(now, f.twin.Version())
	for _, tb := range []*schemas.Table{schemas.UserAttribute, schemas.UserRequiredAction} {
		if diff := expected.Diff(tb.Name(), want[tb.Name()], m.tables[tb.Name()], 3); diff != "" {
			t.Errorf("%s", diff)
		}
	}
}

// A server (or proxy) that drops the first parameter makes a scan fail in bounded time
// instead of reading the same page forever.
func TestServerIgnoringFirstFailsTheScan(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=300,groups=3,roles=3,clients=2,events=0,admin-events=0,seed=5")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/members") || strings.HasSuffix(r.URL.Path, "/users") {
			q := r.URL.Query()
			q.Del("first")
			r.URL.RawQuery = q.Encode()
		}
		f.twin.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cred, _ := f.twin.PollerCredentials(f.realm)
	kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)})
	if err != nil {
		t.Fatal(err)
	}
	f.kc = kc
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = f.scanner(t, PageSize(5)).Scan(ctx, newMemTopics(t))
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "ignore the first parameter") {
		t.Fatalf("err = %v", err)
	}
}

// A client whose service accounts are switched off between the client listing and the
// lookup of its service-account user (Keycloak answers 400 "Service account not enabled")
// does not fail the scan: it has no service-account user, as if it had been listed so.
func TestServiceAccountSwitchedOffDuringScan(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=20,groups=3,roles=3,clients=2,events=0,admin-events=0,seed=5")
	id, err := f.twin.CreateClient(f.realm, kctwin.ClientInput{ClientID: "batch-job", Enabled: true, ServiceAccountsEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var flipped atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.twin.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/clients") && !flipped.Swap(true) {
			if err := f.twin.UpdateClient(f.realm, id, func(in *kctwin.ClientInput) { in.ServiceAccountsEnabled = false }); err != nil {
				t.Error(err)
			}
		}
	}))
	t.Cleanup(srv.Close)
	cred, _ := f.twin.PollerCredentials(f.realm)
	f.kc, err = keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
		ClientSecret: keycloak.Secret(cred.ClientSecret)}, keycloak.Retries(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	m := newMemTopics(t)
	s := f.scanner(t)
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if !flipped.Load() {
		t.Fatal("the client listing was not seen: the test did not switch the service account off")
	}
	// The admin event of the change brings the client row up to date.
	var h Hints
	h.AdminEvent("UPDATE", "CLIENT", "clients/"+id)
	if _, err := s.Refresh(context.Background(), &h, m); err != nil {
		t.Fatal(err)
	}
	f.checkEqual(t, m.tables)
}
