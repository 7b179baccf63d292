package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKC is a tiny scripted Keycloak: tests set handle to answer admin requests.
type fakeKC struct {
	mu      sync.Mutex
	grants  int
	tokens  map[string]bool
	handle  func(w http.ResponseWriter, r *http.Request)
	secret  string
	expires int
}

func newFakeKC(t *testing.T) (*fakeKC, *httptest.Server) {
	f := &fakeKC{tokens: map[string]bool{}, secret: "s3cret", expires: 300}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") {
			id, sec, _ := r.BasicAuth()
			r.ParseForm()
			if r.Form.Get("grant_type") != "client_credentials" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
				return
			}
			if id != "keycdc" || sec != f.secret {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`)
				return
			}
			f.mu.Lock()
			f.grants++
			tok := fmt.Sprintf("tok-%d", f.grants)
			f.tokens[tok] = true
			exp := f.expires
			f.mu.Unlock()
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, tok, exp)
			return
		}
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		ok := f.tokens[auth]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"HTTP 401 Unauthorized"}`)
			return
		}
		f.handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeKC) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = map[string]bool{}
}

func newTestClient(t *testing.T, url string, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{Retries(4, time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := New(&http.Client{}, Config{URL: url, ClientID: "keycdc", ClientSecret: "s3cret"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUsersDecodesAndSendsFilters(t *testing.T) {
	f, srv := newFakeKC(t)
	var query string
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/realms/acme/users" {
			t.Errorf("path %q", r.URL.Path)
		}
		query = r.URL.RawQuery
		fmt.Fprint(w, `[{"id":"u1","username":"alice","email":"a@x","enabled":true,"createdTimestamp":17,
			"attributes":{"dept":["a","b"]},"requiredActions":["VERIFY_EMAIL"],"access":{"view":true}},
			{"id":"u2","username":"bob","enabled":false}]`)
	}
	c := newTestClient(t, srv.URL)
	users, err := c.Users(context.Background(), "acme", true, 200, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first=200", "max=100", "enabled=true", "briefRepresentation=false"} {
		if !strings.Contains(query, want) {
			t.Errorf("query %q lacks %s", query, want)
		}
	}
	if len(users) != 2 || users[0].Username != "alice" || *users[0].Email != "a@x" || users[1].Email != nil ||
		users[0].Attributes["dept"][1] != "b" || *users[0].CreatedTimestamp != 17 || users[0].RequiredActions[0] != "VERIFY_EMAIL" {
		t.Fatalf("decoded %+v", users)
	}
}

func TestTokenIsCachedAndRenewedAfterRevocation(t *testing.T) {
	f, srv := newFakeKC(t)
	f.handle = func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) }
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := c.Groups(ctx, "acme", 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	if f.grants != 1 {
		t.Fatalf("grants = %d, want 1 (token cached)", f.grants)
	}
	f.revokeAll()
	if _, err := c.Groups(ctx, "acme", 0, 10); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if f.grants != 2 {
		t.Fatalf("grants = %d, want 2 (one re-authentication)", f.grants)
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	f, srv := newFakeKC(t)
	f.expires = 10
	f.handle = func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) }
	c := newTestClient(t, srv.URL)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	c.Groups(ctx, "acme", 0, 10)
	now = now.Add(7 * time.Second) // before 80% of 10s
	c.Groups(ctx, "acme", 0, 10)
	if f.grants != 1 {
		t.Fatalf("grants = %d before renewal point", f.grants)
	}
	now = now.Add(2 * time.Second) // past 80%
	c.Groups(ctx, "acme", 0, 10)
	if f.grants != 2 {
		t.Fatalf("grants = %d, want renewal before expiry", f.grants)
	}
}

func TestPersistent401FailsClearly(t *testing.T) {
	f, srv := newFakeKC(t)
	var calls atomic.Int32
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"HTTP 401 Unauthorized"}`)
	}
	c := newTestClient(t, srv.URL)
	_, err := c.Groups(context.Background(), "acme", 0, 10)
	if err == nil || !strings.Contains(err.Error(), "fresh token was refused") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("admin calls = %d, want 2 (one re-authentication, no retries)", calls.Load())
	}
}

func TestBadCredentials(t *testing.T) {
	_, srv := newFakeKC(t)
	c, _ := New(&http.Client{}, Config{URL: srv.URL, ClientID: "keycdc", ClientSecret: "wrong-secret-value"})
	_, err := c.Groups(context.Background(), "acme", 0, 10)
	var ae *AuthError
	if !errors.As(err, &ae) || IsRetryable(err) {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatal("error text contains the secret")
	}
	if !strings.Contains(err.Error(), "client_secret") {
		t.Fatalf("error gives no hint: %v", err)
	}
}

func TestForbiddenNamesRole(t *testing.T) {
	f, srv := newFakeKC(t)
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprint(w, `{"error":"HTTP 403 Forbidden"}`)
	}
	c := newTestClient(t, srv.URL)
	_, err := c.Events(context.Background(), "acme", EventsQuery{Max: 10})
	var fe *ForbiddenError
	if !errors.As(err, &fe) || fe.Role != "view-events" || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestRetriesTransientAndHonoursRetryAfter(t *testing.T) {
	f, srv := newFakeKC(t)
	var n atomic.Int32
	var first, second time.Time
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		case 2:
			second = time.Now()
			w.WriteHeader(503)
		case 3:
			w.WriteHeader(502)
			fmt.Fprint(w, "<html>bad gateway</html>")
		default:
			fmt.Fprint(w, `[{"id":"g","name":"g","path":"/g"}]`)
		}
	}
	c := newTestClient(t, srv.URL, Retries(4, time.Millisecond, 2*time.Second))
	gs, err := c.Groups(context.Background(), "acme", 0, 10)
	if err != nil || len(gs) != 1 {
		t.Fatalf("groups %v err %v", gs, err)
	}
	if gap := second.Sub(first); gap < time.Second {
		t.Fatalf("retried after %v, Retry-After said 1s", gap)
	}
}

func TestRetryBudgetIsBounded(t *testing.T) {
	f, srv := newFakeKC(t)
	var n atomic.Int32
	f.handle = func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.WriteHeader(500) }
	c := newTestClient(t, srv.URL, Retries(3, time.Millisecond, time.Millisecond))
	_, err := c.Clients(context.Background(), "acme", 0, 10)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 4 {
		t.Fatalf("attempts = %d, want 1 + 3 retries", n.Load())
	}
}

func TestNotFoundAndMalformed(t *testing.T) {
	f, srv := newFakeKC(t)
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/users/") {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"User not found"}`)
			return
		}
		fmt.Fprint(w, `{"not":"a list"}`)
	}
	c := newTestClient(t, srv.URL)
	_, err := c.User(context.Background(), "acme", "nope")
	if !IsNotFound(err) || IsRetryable(err) || !strings.Contains(err.Error(), "User not found") {
		t.Fatalf("err = %v", err)
	}
	_, err = c.Groups(context.Background(), "acme", 0, 1)
	var de *DecodeError
	if !errors.As(err, &de) || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	f, srv := newFakeKC(t)
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	f.handle = func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		fmt.Fprint(w, `[]`)
	}
	c := newTestClient(t, srv.URL, MaxConcurrent(3))
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Groups(context.Background(), "acme", i, 1) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for inflight.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak in-flight = %d, want 3", p)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := Config{URL: "http://x", ClientID: "c", ClientSecret: "hunter2"}
	b, _ := json.Marshal(cfg)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.ClientSecret), string(b)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestConfigValidateReportsEveryField(t *testing.T) {
	err := Config{URL: "ftp://x"}.Validate()
	for _, want := range []string{"keycloak.url", "keycloak.client_id", "keycloak.client_secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

// Only Keycloak's own entity 404 counts as "not found": keycdc writes tombstones on it.
func TestIsNotFoundOnlyForKeycloakEntity404(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"error":"User not found"}`, true},
		{`{"error":"Could not find group by id"}`, true},
		{`{"error":"Could not find role"}`, true},
		{`{"error":"Could not find client"}`, true},
		{`404 page not found`, false},                  // an ingress without a route
		{`<html><body>Not Found</body></html>`, false}, // a proxy
		{`{"error":"HTTP 404 Not Found"}`, false},      // an unknown path: a wrong base URL
		{`{"error":"Realm not found."}`, false},        // the realm itself is gone: not a row's fate
		{``, false},
	} {
		kc, desc := parseErrorBody([]byte(c.body))
		err := &StatusError{Status: 404, KCError: kc, Description: desc}
		if got := IsNotFound(err); got != c.want {
			t.Errorf("404 %q: IsNotFound = %v, want %v", c.body, got, c.want)
		}
	}
	if IsNotFound(&StatusError{Status: 500, KCError: "User not found"}) {
		t.Error("a 500 taken for not found")
	}
}

// An answer larger than the client holds in memory fails as a decode error that names the
// setting to lower, for both decoders; one just within the bound decodes.
func TestOversizedAnswerFailsClearly(t *testing.T) {
	f, srv := newFakeKC(t)
	page := `[` + strings.Repeat(`{"time":1,"type":"LOGIN","details":{"k":"0123456789abcdef"}},`, 40) + `{"time":2,"type":"LOGIN"}]`
	f.handle = func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) }
	c := newTestClient(t, srv.URL)
	c.maxBody = int64(len(page))
	if evs, err := c.Events(context.Background(), "acme", EventsQuery{}); err != nil || len(evs) != 41 {
		t.Fatalf("within the bound: %d events, %v", len(evs), err)
	}
	if gs, err := c.Groups(context.Background(), "acme", 0, 1); err != nil || len(gs) != 41 {
		t.Fatalf("within the bound: %d groups, %v", len(gs), err)
	}
	c.maxBody = int64(len(page)) - 1
	var de *DecodeError
	if _, err := c.Events(context.Background(), "acme", EventsQuery{}); !errors.As(err, &de) || !strings.Contains(err.Error(), "keycloak.page_size") {
		t.Fatalf("events: %v", err)
	}
	if _, err := c.Groups(context.Background(), "acme", 0, 1); !errors.As(err, &de) {
		t.Fatalf("groups: %v", err)
	}
}
