package kctwin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/keycdc/keycdc/kctwin"
)

// fakeClock is a settable clock for the twin.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testEnv is a twin behind a real HTTP server with a gocloak client and tokens.
type testEnv struct {
	t      *testing.T
	tw     *kctwin.Twin
	srv    *httptest.Server
	clock  *fakeClock
	gc     *gocloak.GoCloak
	admin  string // master admin token (password grant, admin-cli)
	poller string // token of realm "acme"'s keycdc client, when acme exists
	ctx    context.Context
}

func newEnv(t *testing.T, version string, setup func(tw *kctwin.Twin), opts ...kctwin.Option) *testEnv {
	t.Helper()
	clock := newClock()
	opts = append([]kctwin.Option{kctwin.KeycloakVersion(version), kctwin.Clock(clock.Now)}, opts...)
	tw, err := kctwin.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	if setup != nil {
		setup(tw)
	}
	srv := httptest.NewServer(tw)
	t.Cleanup(srv.Close)
	e := &testEnv{t: t, tw: tw, srv: srv, clock: clock, gc: gocloak.NewClient(srv.URL), ctx: context.Background()}
	jwt, err := e.gc.LoginAdmin(e.ctx, "admin", "admin", "master")
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	e.admin = jwt.AccessToken
	if creds, err := tw.PollerCredentials("acme"); err == nil {
		jwt, err := e.gc.LoginClient(e.ctx, creds.ClientID, creds.ClientSecret, "acme")
		if err != nil {
			t.Fatalf("poller login: %v", err)
		}
		e.poller = jwt.AccessToken
	}
	return e
}

func loadAcme(t *testing.T) func(*kctwin.Twin) {
	return func(tw *kctwin.Twin) {
		if err := tw.LoadFiles("testdata/acme-users-0.json", "testdata/acme-realm.json"); err != nil {
			t.Fatal(err)
		}
	}
}

func generate(t *testing.T, spec string) func(*kctwin.Twin) {
	return func(tw *kctwin.Twin) {
		s, err := kctwin.ParseGenerateSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.Generate(s); err != nil {
			t.Fatal(err)
		}
	}
}

// do sends a raw request and returns status and body.
func (e *testEnv) do(method, path, token string, body any) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				e.t.Fatal(err)
			}
			rd = strings.NewReader(string(j))
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// get GETs path and decodes a 200 JSON body into v.
func (e *testEnv) get(path, token string, v any) {
	e.t.Helper()
	st, b, _ := e.do("GET", path, token, nil)
	if st != 200 {
		e.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// expect checks a raw response's status and exact JSON body.
func (e *testEnv) expect(method, path, token string, body any, status int, want string) {
	e.t.Helper()
	st, b, _ := e.do(method, path, token, body)
	if st != status || (want != "" && strings.TrimSpace(string(b)) != want) {
		e.t.Fatalf("%s %s: got %d %s, want %d %s", method, path, st, b, status, want)
	}
}

func (e *testEnv) form(path string, vals url.Values) (int, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().PostForm(e.srv.URL+path, vals)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func names[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func userNames(us []*gocloak.User) []string {
	return names(us, func(u *gocloak.User) string { return gocloak.PString(u.Username) })
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// relogin fetches fresh tokens after the clock moved past their expiry.
func (e *testEnv) relogin() {
	e.t.Helper()
	jwt, err := e.gc.LoginAdmin(e.ctx, "admin", "admin", "master")
	if err != nil {
		e.t.Fatal(err)
	}
	e.admin = jwt.AccessToken
	creds, err := e.tw.PollerCredentials("acme")
	if err != nil {
		e.t.Fatal(err)
	}
	jwt, err = e.gc.LoginClient(e.ctx, creds.ClientID, creds.ClientSecret, "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	e.poller = jwt.AccessToken
}
