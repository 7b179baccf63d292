package kctwin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

func TestFaultsDeterministicAndShaped(t *testing.T) {
	run := func() []int {
		e := newEnv(t, kctwin.Version26, loadAcme(t))
		if err := e.tw.SetFaults(kctwin.Faults{Rate: 0.5, Seed: 99, Routes: []string{"/users"}}); err != nil {
			t.Fatal(err)
		}
		var out []int
		for i := 0; i < 40; i++ {
			st, b, h := e.do("GET", "/admin/realms/acme/users?max=1", e.poller, nil)
			out = append(out, st)
			switch st {
			case 429, 503:
				if h.Get("Retry-After") != "1" {
					t.Errorf("%d without Retry-After", st)
				}
			case 500:
				if string(b) != `{"error":"unknown_error","error_description":"For more on this error consult the server log."}` {
					t.Errorf("500 body %s", b)
				}
			case 502, 504:
				if !strings.Contains(string(b), "<html>") {
					t.Errorf("%d body %s", st, b)
				}
			case 200:
			default:
				t.Errorf("unexpected status %d", st)
			}
		}
		// Routes outside the filter are untouched.
		for i := 0; i < 10; i++ {
			e.expect("GET", "/admin/realms/acme/groups", e.poller, nil, 200, "")
		}
		st := e.tw.Stats()
		users := st.Routes["GET /admin/realms/{realm}/users"]
		if users.Count != 40 || users.Statuses["200"] == 40 || users.Bytes == 0 {
			t.Errorf("stats %+v", users)
		}
		return out
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	bad := 0
	for _, s := range a {
		if s != 200 {
			bad++
		}
	}
	if bad < 10 || bad > 30 {
		t.Fatalf("%d of 40 failed at rate 0.5", bad)
	}
}

func TestFailNextAndLatency(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	if err := e.tw.FailNext(503, 429, 502); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{503, 429, 502, 200} {
		if st, _, _ := e.do("GET", "/admin/realms/acme/users?max=1", e.poller, nil); st != want {
			t.Fatalf("got %d want %d", st, want)
		}
	}
	if err := e.tw.FailNext(418); err == nil {
		t.Fatal("FailNext accepted 418")
	}
	// Latency: the request takes at least that long.
	if err := e.tw.SetFaults(kctwin.Faults{Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.expect("GET", "/admin/realms/acme/users?max=1", e.poller, nil, 200, "")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("latency not applied: %v", d)
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	if err := e.tw.SetFaults(kctwin.Faults{HangRate: 1, HangFor: time.Hour, Routes: []string{"/users"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/admin/realms/acme/users", nil)
	req.Header.Set("Authorization", "Bearer "+e.poller)
	_, err := e.srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: %v", err)
	}
	// A short hang passes and the connection is dropped without a response.
	if err := e.tw.SetFaults(kctwin.Faults{HangRate: 1, HangFor: 10 * time.Millisecond, Routes: []string{"/users"}}); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/admin/realms/acme/users", nil)
	req.Header.Set("Authorization", "Bearer "+e.poller)
	if resp, err := e.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("short hang answered %d", resp.StatusCode)
	}
}

func TestSlowResponseStillComplete(t *testing.T) {
	e := newEnv(t, kctwin.Version26, generate(t, "name=acme,users=50,groups=2,roles=2,clients=1,events=0,admin-events=0,seed=1"))
	if err := e.tw.SetFaults(kctwin.Faults{SlowRate: 1, SlowFor: 40 * time.Millisecond, Routes: []string{"/users"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var users []map[string]any
	e.get("/admin/realms/acme/users", e.poller, &users)
	if len(users) != 50 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("slow response: %d users in %v", len(users), time.Since(start))
	}
}

func TestConcurrencyCap(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t), kctwin.MaxConcurrent(2))
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	e.tw.SetHook(func(route string, r *http.Request) {
		if r.URL.Query().Get("block") == "1" {
			entered.Done()
			<-release
		}
	})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", e.srv.URL+"/admin/realms/acme/users?block=1", nil)
			req.Header.Set("Authorization", "Bearer "+e.poller)
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	entered.Wait()
	st, _, h := e.do("GET", "/admin/realms/acme/users", e.poller, nil)
	if st != 503 || h.Get("Retry-After") != "1" {
		t.Errorf("above the cap: %d %v", st, h)
	}
	close(release)
	wg.Wait()
	s := e.tw.Stats()
	if s.Rejected != 1 || s.PeakConcurrent != 2 || s.Routes["GET /admin/realms/{realm}/users"].Statuses["503"] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestControlEndpoints(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	e.expect("GET", "/admin/realms/acme/users?max=1", e.poller, nil, 200, "")
	var st kctwin.Stats
	e.get("/_twin/stats", "", &st)
	if st.Routes["POST /realms/{realm}/protocol/openid-connect/token"].Count != 2 || st.Routes["GET /admin/realms/{realm}/users"].Count != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.expect("DELETE", "/_twin/stats", "", nil, 204, "")
	e.get("/_twin/stats", "", &st)
	if st.Total != 0 {
		t.Fatalf("after reset %+v", st)
	}
	e.expect("PUT", "/_twin/faults", "", map[string]any{"latency": "1ms", "rate": 0.25, "statuses": []int{503}, "seed": 3}, 200, "")
	f := e.tw.Faults()
	if f.Latency != time.Millisecond || f.Rate != 0.25 || len(f.Statuses) != 1 {
		t.Fatalf("faults %+v", f)
	}
	e.expect("PUT", "/_twin/faults", "", map[string]any{"rate": 2}, 400, "")
	e.expect("PUT", "/_twin/faults", "", map[string]any{"latency": "soon"}, 400, "")
	e.expect("PUT", "/_twin/faults", "", map[string]any{}, 200, "")
	e.expect("POST", "/_twin/faults/fail-next", "", map[string]any{"statuses": []int{504}}, 204, "")
	e.expect("GET", "/admin/realms/acme/users?max=1", e.poller, nil, 504, "")
	e.expect("PUT", "/_twin/tokens/lifespan", "", map[string]any{"lifespan": "5s"}, 204, "")
	jwt, err := e.gc.LoginClient(e.ctx, "keycdc", mustCreds(t, e.tw).ClientSecret, "acme")
	if err != nil || jwt.ExpiresIn != 5 {
		t.Fatalf("lifespan: %+v %v", jwt, err)
	}
	e.expect("POST", "/_twin/tokens/revoke", "", nil, 204, "")
	e.expect("GET", "/admin/realms/acme/users?max=1", jwt.AccessToken, nil, 401, "")
	var realms []kctwin.Credentials
	e.get("/_twin/realms", "", &realms)
	if len(realms) != 2 || realms[0].Realm != "acme" || realms[0].ClientSecret == "" {
		t.Fatalf("realms %+v", realms)
	}
	var d kctwin.RealmDump
	e.get("/_twin/realms/acme/dump", "", &d)
	if d.Realm != "acme" || len(d.Users) != 5 {
		t.Fatalf("dump %d users", len(d.Users))
	}
	e.expect("GET", "/_twin/realms/nope/dump", "", nil, 404, "")
	st0, b, _ := e.do("POST", "/_twin/realms/acme/events", "", map[string]any{"type": "LOGIN", "time": 1700000000000, "userId": "u"})
	if st0 != 201 || !strings.Contains(string(b), `"id"`) {
		t.Fatalf("inject: %d %s", st0, b)
	}
	e.expect("POST", "/_twin/realms/acme/admin-events", "", map[string]any{"operationType": "CREATE"}, 400, "")
	e.expect("POST", "/_twin/events/expire", "", nil, 204, "")
	e.expect("GET", "/_twin/nothing", "", nil, 404, "")
}

func TestActivityGenerator(t *testing.T) {
	e := newEnv(t, kctwin.Version26, generate(t, "name=acme,users=30,groups=4,roles=3,clients=2,events=0,admin-events=0,seed=1"))
	d0, _ := e.tw.DumpRealm("acme")
	e.expect("PUT", "/_twin/activity", "", map[string]any{"realm": "acme", "eventsPerSecond": 400, "changesPerSecond": 200, "seed": 5}, 200, "")
	var a kctwin.Activity
	e.get("/_twin/activity", "", &a)
	if a.Realm != "acme" || a.EventsPerSecond != 400 {
		t.Fatalf("activity %+v", a)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, _ := e.tw.DumpRealm("acme")
		if len(d.Events) >= len(d0.Events)+20 && len(d.AdminEvents) >= len(d0.AdminEvents)+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("activity produced %d events, %d admin events", len(d.Events)-len(d0.Events), len(d.AdminEvents)-len(d0.AdminEvents))
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.expect("DELETE", "/_twin/activity", "", nil, 204, "")
	if _, ok := e.tw.Activity(); ok {
		t.Fatal("still running")
	}
	e.expect("PUT", "/_twin/activity", "", map[string]any{"realm": "nope", "eventsPerSecond": 1}, 400, "")
	if _, err := kctwin.ParseActivitySpec("events=20,changes=2"); err != nil {
		t.Fatal(err)
	}
	if _, err := kctwin.ParseActivitySpec("events=-1"); err == nil || !strings.Contains(err.Error(), "events") {
		t.Fatalf("bad spec: %v", err)
	}
	// Close stops a running generator.
	if err := e.tw.StartActivity(kctwin.Activity{EventsPerSecond: 10}); err != nil {
		t.Fatal(err)
	}
	e.tw.Close()
	if _, ok := e.tw.Activity(); ok {
		t.Fatal("Close left the generator running")
	}
}

// TestCloseRacingStartActivity: whichever of Close and StartActivity comes first, once both
// have returned no generator is registered or running. A start that loses the race is
// refused; one that wins is stopped by Close. Close is released after a varying spin so
// that over the rounds it lands at every point of StartActivity.
func TestCloseRacingStartActivity(t *testing.T) {
	for i := 0; i < 2000; i++ {
		tw, err := kctwin.New()
		if err != nil {
			t.Fatal(err)
		}
		gate := make(chan struct{})
		started := make(chan error, 1)
		go func() {
			<-gate
			started <- tw.StartActivity(kctwin.Activity{Realm: "master", EventsPerSecond: 1})
		}()
		close(gate)
		for spin := 0; spin < i%400; spin++ {
			runtime.Gosched()
		}
		tw.Close()
		err = <-started
		if a, running := tw.Activity(); running {
			t.Fatalf("round %d: Close has returned, StartActivity returned %v, yet %+v is registered", i, err, a)
		}
		if err != nil && !strings.Contains(err.Error(), "closed") {
			t.Fatalf("round %d: StartActivity: %v", i, err)
		}
	}
}
