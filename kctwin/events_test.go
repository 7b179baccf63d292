package kctwin_test

import (
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/keycdc/keycdc/kctwin"
)

type evRep struct {
	ID       *string           `json:"id"`
	Time     int64             `json:"time"`
	Type     string            `json:"type"`
	ClientID string            `json:"clientId"`
	UserID   string            `json:"userId"`
	Error    string            `json:"error"`
	Details  map[string]string `json:"details"`
}

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// seedEvents stores a known set of events in acme (besides the poller's CLIENT_LOGIN at
// the clock's now, 2026-11-20T12:00Z).
func seedEvents(t *testing.T, tw *kctwin.Twin) {
	for _, e := range []kctwin.Event{
		{ID: "t1", Time: ms("2026-11-18T00:00:00Z"), Type: "LOGIN", UserID: "u1", ClientID: "hr-portal"},
		{ID: "t2", Time: ms("2026-11-18T23:59:59.999Z"), Type: "LOGOUT", UserID: "u1"},
		{ID: "c", Time: ms("2026-11-19T10:00:00Z"), Type: "LOGIN", UserID: "u2"},
		{ID: "a", Time: ms("2026-11-19T10:00:00Z"), Type: "LOGIN_ERROR", UserID: "u3", Error: "invalid_user_credentials"},
		{ID: "b", Time: ms("2026-11-19T10:00:00Z"), Type: "CODE_TO_TOKEN", UserID: "u2"},
		{ID: "t4", Time: ms("2026-11-17T12:00:00Z"), Type: "UPDATE_PROFILE", UserID: "u1", Details: map[string]string{"updated_email": "x@y"}},
	} {
		if _, err := tw.InjectEvent("acme", e); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *testEnv) events(query string) []evRep {
	e.t.Helper()
	var out []evRep
	e.get("/admin/realms/acme/events?"+query, e.poller, &out)
	return out
}

func eventIDs(tw *kctwin.Twin, t *testing.T, evs []evRep) []string {
	// Map reps back to stored ids by (time, type, user) for the version without ids.
	d, err := tw.DumpRealm("acme")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range evs {
		for _, s := range d.Events {
			if s.Time == r.Time && s.Type == r.Type && s.UserID == r.UserID {
				if len(s.ID) > 2 {
					out = append(out, "own")
				} else {
					out = append(out, s.ID)
				}
			}
		}
	}
	return out
}

func TestEvents26(t *testing.T) {
	e := newEnv(t, kctwin.Version26, func(tw *kctwin.Twin) { loadAcme(t)(tw); seedEvents(t, tw) })
	check := func(query string, want ...string) {
		t.Helper()
		got := eventIDs(e.tw, t, e.events(query))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events?%s = %v, want %v", query, got, want)
		}
	}
	// Newest first; inside one millisecond the order is by id in both directions.
	check("", "own", "a", "b", "c", "t2", "t1", "t4")
	check("direction=desc", "own", "a", "b", "c", "t2", "t1", "t4")
	check("direction=asc", "t4", "t1", "t2", "a", "b", "c", "own")
	// Dates are UTC days, dateTo the end of its day, bounds inclusive.
	check("dateFrom=2026-11-18&dateTo=2026-11-18&direction=asc", "t1", "t2")
	check(fmt.Sprintf("dateFrom=%d&dateTo=%d&direction=asc", ms("2026-11-18T23:59:59.999Z"), ms("2026-11-19T10:00:00Z")), "t2", "a", "b", "c")
	check("type=LOGIN&type=LOGOUT&direction=asc", "t1", "t2", "c")
	check("user=u2", "b", "c")
	check("client=hr-portal", "t1")
	check("first=2&max=3", "b", "c", "t2")
	check("max=-1&direction=asc&first=5", "c", "own")
	evs := e.events("max=1")
	if evs[0].ID == nil || evs[0].Type != "CLIENT_LOGIN" || evs[0].ClientID != "keycdc" {
		t.Errorf("own CLIENT_LOGIN event %+v", evs[0])
	}
	if evs := e.events("type=LOGIN_ERROR"); evs[0].Error != "invalid_user_credentials" {
		t.Errorf("error field: %+v", evs)
	}
	e.expect("GET", "/admin/realms/acme/events?direction=up", e.poller, nil, 400, "")
	e.expect("GET", "/admin/realms/acme/events?dateFrom=yesterday-ish", e.poller, nil, 400, "")
	e.expect("GET", "/admin/realms/acme/events?type=NO_SUCH_TYPE", e.poller, nil, 500,
		`{"error":"unknown_error","error_description":"For more on this error consult the server log."}`)
	// gocloak's wrapper (no direction, no id) works against it.
	gev, err := e.gc.GetEvents(e.ctx, e.poller, "acme", gocloak.GetEventsParams{Max: gocloak.Int32P(3)})
	if err != nil || len(gev) != 3 || gocloak.PString(gev[0].Type) != "CLIENT_LOGIN" {
		t.Fatalf("gocloak GetEvents: %v %v", gev, err)
	}
}

func TestEvents25(t *testing.T) {
	e := newEnv(t, kctwin.Version25, func(tw *kctwin.Twin) { loadAcme(t)(tw); seedEvents(t, tw) })
	check := func(query string, want ...string) {
		t.Helper()
		got := eventIDs(e.tw, t, e.events(query))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events?%s = %v, want %v", query, got, want)
		}
	}
	check("", "own", "a", "b", "c", "t2", "t1", "t4")
	check("direction=asc", "own", "a", "b", "c", "t2", "t1", "t4") // silently ignored
	// dateTo is 00:00 of its day: the day itself is excluded.
	check("dateFrom=2026-11-18&dateTo=2026-11-19", "t2", "t1")
	check("dateFrom=2026-11-18&dateTo=2026-11-18", "t1")
	for _, ev := range e.events("") {
		if ev.ID != nil {
			t.Fatalf("25.0 event has an id: %+v", ev)
		}
	}
	e.expect("GET", "/admin/realms/acme/events?dateFrom="+strconv.FormatInt(ms("2026-11-18T00:00:00Z"), 10), e.poller, nil, 400,
		`{"error":"Invalid value for 'Date(From)', expected format is yyyy-MM-dd"}`)
	e.expect("GET", "/admin/realms/acme/events?dateTo=1763000000000", e.poller, nil, 400,
		`{"error":"Invalid value for 'Date(To)', expected format is yyyy-MM-dd"}`)
}

type adminEvRep struct {
	ID             *string `json:"id"`
	Time           int64   `json:"time"`
	OperationType  string  `json:"operationType"`
	ResourceType   string  `json:"resourceType"`
	ResourcePath   string  `json:"resourcePath"`
	Representation *string `json:"representation"`
	AuthDetails    struct {
		RealmID, ClientID, UserID, IPAddress string
	} `json:"authDetails"`
	Details map[string]string `json:"details"`
}

func TestAdminEventsQuery(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, generate(t, "name=acme,users=50,groups=8,roles=4,clients=4,events=0,admin-events=120,seed=9"))
			var all []adminEvRep
			e.get("/admin/realms/acme/admin-events?max=-1", e.poller, &all)
			if len(all) != 120 {
				t.Fatalf("got %d admin events", len(all))
			}
			for i := 1; i < len(all); i++ {
				if all[i].Time > all[i-1].Time {
					t.Fatalf("not newest first at %d", i)
				}
			}
			var users []adminEvRep
			e.get("/admin/realms/acme/admin-events?max=-1&resourcePath=users/*&operationTypes=UPDATE", e.poller, &users)
			if len(users) == 0 {
				t.Fatal("no user updates")
			}
			for _, u := range users {
				if u.ResourceType != "USER" || u.OperationType != "UPDATE" || u.Representation == nil {
					t.Fatalf("filtered event %+v", u)
				}
				if (v == kctwin.Version26) != (u.ID != nil && u.Details["username"] != "") {
					t.Fatalf("%s: id/details presence wrong: %+v", v, u)
				}
			}
			e.expect("GET", "/admin/realms/acme/admin-events?resourceTypes=NOPE", e.poller, nil, 500, "")
			var asc []adminEvRep
			e.get("/admin/realms/acme/admin-events?max=-1&direction=asc", e.poller, &asc)
			ascending := asc[0].Time <= asc[len(asc)-1].Time && asc[0].Time != asc[len(asc)-1].Time
			if ascending != (v == kctwin.Version26) {
				t.Fatalf("%s: direction=asc honoured=%v", v, ascending)
			}
		})
	}
}

func TestEventsConfig(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	var cfg map[string]any
	e.get("/admin/realms/acme/events/config", e.poller, &cfg)
	if cfg["eventsEnabled"] != true || cfg["eventsExpiration"] != 604800.0 || cfg["adminEventsDetailsEnabled"] != true {
		t.Fatalf("config %v", cfg)
	}
	types := cfg["enabledEventTypes"].([]any)
	if len(types) < 40 {
		t.Errorf("empty enabledEventTypes should read back as the saved-by-default list, got %d", len(types))
	}
}

func TestAuthErrors(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, loadAcme(t))
			tok := "/realms/acme/protocol/openid-connect/token"
			creds, _ := e.tw.PollerCredentials("acme")
			cases := []struct {
				vals   url.Values
				status int
				body   string
			}{
				{url.Values{"grant_type": {"client_credentials"}, "client_id": {"nope"}, "client_secret": {"x"}}, 401,
					`{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}`},
				{url.Values{"grant_type": {"client_credentials"}, "client_id": {"keycdc"}, "client_secret": {"wrong"}}, 401,
					`{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`},
				{url.Values{"grant_type": {"client_credentials"}, "client_id": {"keycdc"}}, 401,
					`{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`},
				{url.Values{"client_id": {"keycdc"}, "client_secret": {creds.ClientSecret}}, 400,
					`{"error":"invalid_request","error_description":"Missing form parameter: grant_type"}`},
				{url.Values{"grant_type": {"magic"}, "client_id": {"keycdc"}, "client_secret": {creds.ClientSecret}}, 400,
					`{"error":"unsupported_grant_type","error_description":"Unsupported grant_type"}`},
				{url.Values{"grant_type": {"client_credentials"}, "client_id": {"account"}}, 401,
					`{"error":"unauthorized_client","error_description":"Public client not allowed to retrieve service account"}`},
			}
			for _, c := range cases {
				st, b := e.form(tok, c.vals)
				if st != c.status || string(b) != c.body {
					t.Errorf("token %v: %d %s, want %d %s", c.vals, st, b, c.status, c.body)
				}
			}
			if st, _ := e.form("/realms/nope/protocol/openid-connect/token", url.Values{"grant_type": {"client_credentials"}}); st != 404 {
				t.Errorf("unknown realm token: %d", st)
			}
			if _, err := e.gc.LoginAdmin(e.ctx, "admin", "wrong", "master"); err == nil {
				t.Error("admin login with a wrong password succeeded")
			}
			unauth := `{"error":"HTTP 401 Unauthorized"}`
			e.expect("GET", "/admin/realms/acme/users", "", nil, 401, unauth)
			e.expect("GET", "/admin/realms/acme/users", "garbage", nil, 401, unauth)
			forbidden := `{"error":"HTTP 403 Forbidden"}`
			if v == kctwin.Version25 {
				forbidden = `{"error":"unknown_error","error_description":"For more on this error consult the server log at the debug level."}`
			}
			// payroll-sync's service account holds view-users only.
			jwt, err := e.gc.LoginClient(e.ctx, "payroll-sync", "payroll-sync-secret-0123456789", "acme")
			if err != nil {
				t.Fatal(err)
			}
			e.expect("GET", "/admin/realms/acme/events", jwt.AccessToken, nil, 403, forbidden)
			e.expect("GET", "/admin/realms/acme/clients", jwt.AccessToken, nil, 403, forbidden)
			e.expect("GET", "/admin/realms/acme/users?max=1", jwt.AccessToken, nil, 200, "")
			// A realm's token is no good for another realm; unknown realms are 404 first.
			e.expect("GET", "/admin/realms/master/users", e.poller, nil, 403, forbidden)
			e.expect("GET", "/admin/realms/nope/users", e.poller, nil, 404, `{"error":"Realm not found."}`)
			e.expect("GET", "/admin/realms/acme/users/nope", e.poller, nil, 404, `{"error":"User not found"}`)
			e.expect("GET", "/admin/realms/acme/no-such-thing", e.poller, nil, 404, "")
			// Expiry follows the clock; revocation is immediate.
			e.clock.Advance(299 * time.Second)
			e.expect("GET", "/admin/realms/acme/users?max=1", e.poller, nil, 200, "")
			e.clock.Advance(2 * time.Second)
			e.expect("GET", "/admin/realms/acme/users?max=1", e.poller, nil, 401, unauth)
			jwt, _ = e.gc.LoginClient(e.ctx, creds.ClientID, creds.ClientSecret, "acme")
			if jwt.ExpiresIn != 300 {
				t.Errorf("expires_in %d", jwt.ExpiresIn)
			}
			e.expect("GET", "/admin/realms/acme/users?max=1", jwt.AccessToken, nil, 200, "")
			e.tw.RevokeTokens()
			e.expect("GET", "/admin/realms/acme/users?max=1", jwt.AccessToken, nil, 401, unauth)
			// The master admin sees every realm.
			realms, err := e.gc.GetRealms(e.ctx, e.admin)
			if err != nil {
				jwt, _ := e.gc.LoginAdmin(e.ctx, "admin", "admin", "master")
				realms, err = e.gc.GetRealms(e.ctx, jwt.AccessToken)
			}
			if err != nil || len(realms) != 2 {
				t.Fatalf("realms %v %v", realms, err)
			}
		})
	}
}

func TestClientLoginEventsRecorded(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	creds, _ := e.tw.PollerCredentials("acme")
	for i := 0; i < 3; i++ {
		if _, err := e.gc.LoginClient(e.ctx, creds.ClientID, creds.ClientSecret, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.events("type=CLIENT_LOGIN&client=keycdc")
	if len(evs) != 4 { // the one in newEnv plus three
		t.Fatalf("CLIENT_LOGIN events: %d", len(evs))
	}
	if evs[0].Details["grant_type"] != "client_credentials" || evs[0].Details["username"] != "service-account-keycdc" {
		t.Errorf("details %v", evs[0].Details)
	}
	e.form("/realms/acme/protocol/openid-connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"keycdc"}, "client_secret": {"bad"}})
	if evs := e.events("type=CLIENT_LOGIN_ERROR"); len(evs) != 1 || evs[0].Error != "invalid_client_credentials" {
		t.Errorf("CLIENT_LOGIN_ERROR: %+v", evs)
	}
}
