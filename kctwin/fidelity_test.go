package kctwin_test

import (
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// Behaviour measured on a live Keycloak 26.x that the twin reproduces on its 26.2 line.

func TestEventListingParameterOrder(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	jwt, err := e.gc.LoginClient(e.ctx, "payroll-sync", "payroll-sync-secret-0123456789", "acme")
	if err != nil {
		t.Fatal(err)
	}
	weak := jwt.AccessToken // view-users only
	const ev = "/admin/realms/acme/events"
	// A malformed bound is answered before the caller's role; every other bad parameter after.
	e.expect("GET", ev+"?first=abc", weak, nil, 404, `{"error":"HTTP 404 Not Found"}`)
	e.expect("GET", ev+"?type=NOPE", weak, nil, 403, `{"error":"HTTP 403 Forbidden"}`)
	e.expect("GET", ev+"?first=abc&type=NOPE", e.poller, nil, 404, `{"error":"HTTP 404 Not Found"}`)
	e.expect("GET", ev+"?dateFrom=x&type=NOPE", e.poller, nil, 500, `{"error":"unknown_error","error_description":"For more on this error consult the server log."}`)
	e.expect("GET", ev+"?dateFrom=x&direction=y", e.poller, nil, 400, `{"error":"Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"}`)
	e.expect("GET", ev+"?dateTo=2020-13-01", e.poller, nil, 400, `{"error":"Invalid value for 'dateTo', expected format is yyyy-MM-dd or an Epoch timestamp"}`)
	e.expect("GET", ev+"?dateFrom=2020-1-1", e.poller, nil, 400, "")
	e.expect("GET", ev+"?dateFrom=20200101&dateTo=0", e.poller, nil, 200, "[]")
	e.expect("GET", ev+"?direction=DESC", e.poller, nil, 400, `{"error":"Invalid value for sortDirection, expected value is asc or desc"}`)
	e.expect("GET", ev+"?type=login", e.poller, nil, 500, "")
	e.expect("GET", ev+"?first=-1&max=-1&direction=&dateFrom=", e.poller, nil, 200, "")
	e.expect("GET", "/admin/realms/acme/admin-events?max=1.5", e.poller, nil, 404, `{"error":"HTTP 404 Not Found"}`)
	e.expect("GET", "/admin/realms/acme/users?max=99999999999", e.poller, nil, 404, `{"error":"HTTP 404 Not Found"}`)
}

func TestEventsConfigWrites(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	const cfg = "/admin/realms/acme/events/config"
	read := func() map[string]any {
		var m map[string]any
		e.get(cfg, e.poller, &m)
		return m
	}
	e.expect("PUT", cfg, e.admin, map[string]any{"enabledEventTypes": []string{"LOGIN", "NOT_A_TYPE"}, "eventsExpiration": -5,
		"eventsEnabled": true}, 204, "")
	m := read()
	if m["eventsExpiration"] != -5.0 || len(m["enabledEventTypes"].([]any)) != 2 {
		t.Fatalf("after PUT: %v", m)
	}
	// {} replaces eventsEnabled and eventsExpiration and merges the rest.
	e.expect("PUT", cfg, e.admin, map[string]any{}, 204, "")
	m = read()
	if _, ok := m["eventsExpiration"]; ok || m["eventsEnabled"] != false || len(m["enabledEventTypes"].([]any)) != 2 ||
		m["adminEventsEnabled"] != true || m["eventsListeners"].([]any)[0] != "jboss-logging" {
		t.Fatalf("after PUT {}: %v", m)
	}
	e.expect("PUT", cfg, e.admin, map[string]any{"eventsListeners": []string{"nope"}}, 400, `{"error":"Unknown event listener"}`)
	e.expect("PUT", cfg, e.admin, map[string]any{"eventsListeners": []string{"workflow-event-listener"}}, 400,
		`{"error":"Global event listeners not allowed in realm specific configuration"}`)
	e.expect("PUT", cfg, e.admin, `{"zz":1}`, 400,
		`{"error":"Invalid json representation for RealmEventsConfigRepresentation. Unrecognized field \"zz\" at line 1 column 8."}`)
	e.expect("PUT", cfg, e.admin, `{`, 400, `{"error":"invalid_request","error_description":"Cannot parse the JSON"}`)
	e.expect("PUT", cfg, e.admin, `{"eventsEnabled":"yes"}`, 400, `{"error":"unknown_error","error_description":"Cannot parse the JSON"}`)
	e.expect("PUT", cfg, e.admin, `null`, 500, "")
	e.expect("PUT", cfg, e.poller, map[string]any{}, 403, "")
	// Switching admin events off is recorded; a PUT while off is not; details follow the new value.
	count := func() int {
		d, _ := e.tw.DumpRealm("acme")
		return len(d.AdminEvents)
	}
	n := count()
	e.clock.Advance(time.Millisecond)
	e.expect("PUT", cfg, e.admin, map[string]any{"adminEventsEnabled": false, "adminEventsDetailsEnabled": false}, 204, "")
	if count() != n+1 {
		t.Fatal("switching admin events off was not recorded")
	}
	d, _ := e.tw.DumpRealm("acme")
	if d.AdminEvents[len(d.AdminEvents)-1].Representation != nil {
		t.Error("switch-off recorded with a representation although details went off")
	}
	e.expect("PUT", cfg, e.admin, map[string]any{"eventsEnabled": true}, 204, "")
	if count() != n+1 {
		t.Fatal("a PUT with admin events off was recorded")
	}
}

func TestRoutingAndOrdering(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	// A known path with the wrong method and an unknown path answer different 404s.
	e.expect("PATCH", "/admin/realms/acme/users", e.admin, nil, 404, `{"error":"HTTP 404 Not Found"}`)
	e.expect("GET", "/admin/realms/acme/nothing-here", e.admin, nil, 404, `{"error":"Unable to find matching target resource method"}`)
	jwt, _ := e.gc.LoginClient(e.ctx, "payroll-sync", "payroll-sync-secret-0123456789", "acme")
	weak := jwt.AccessToken // view-users only
	// roles-by-id: the 404 precedes the 403; a group is resolved before the caller is judged.
	e.expect("GET", "/admin/realms/acme/roles-by-id/nope", weak, nil, 404, `{"error":"Could not find role with id"}`)
	e.expect("GET", "/admin/realms/acme/roles-by-id/5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0004", weak, nil, 403, "")
	e.expect("GET", "/admin/realms/acme/groups/nope/members", weak, nil, 404, `{"error":"Could not find group by id"}`)
}

func TestWriteSemantics(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	const alice = "/admin/realms/acme/users/a1000000-0000-4000-8000-000000000001"
	// The username is immutable by default: a free name is ignored, a taken one is a 409.
	e.expect("PUT", alice, e.admin, map[string]any{"username": "alicia", "firstName": "Al"}, 204, "")
	var u map[string]any
	e.get(alice, e.admin, &u)
	if u["username"] != "alice" || u["firstName"] != "Al" {
		t.Fatalf("after rename attempt: %v", u)
	}
	e.expect("PUT", alice, e.admin, map[string]any{"username": "bob"}, 409, `{"errorMessage":"User exists with same username"}`)
	// A role PUT replaces: the description goes when the body omits it.
	e.expect("PUT", "/admin/realms/acme/roles/employee", e.admin, map[string]any{"name": "employee"}, 204, "")
	var r map[string]any
	e.get("/admin/realms/acme/roles/employee", e.admin, &r)
	if _, ok := r["description"]; ok {
		t.Fatalf("role description survived a replacing PUT: %v", r)
	}
	// Body failures: empty is a 500, syntax invalid_request, role arrays unknown_error.
	e.expect("POST", "/admin/realms/acme/users", e.admin, "", 500, "")
	e.expect("POST", "/admin/realms/acme/users", e.admin, "{", 400, `{"error":"invalid_request","error_description":"Cannot parse the JSON"}`)
	e.expect("POST", "/admin/realms/acme/users", e.admin, `{"enabled":"x"}`, 400, `{"error":"unknown_error","error_description":"Cannot parse the JSON"}`)
	e.expect("POST", alice+"/role-mappings/realm", e.admin, "[", 400, `{"error":"unknown_error","error_description":"Cannot parse the JSON"}`)
	// Membership listing: no subGroupCount; group listing: an access block.
	var gs []map[string]any
	e.get(alice+"/groups", e.admin, &gs)
	if _, ok := gs[0]["subGroupCount"]; ok || len(gs) != 1 {
		t.Fatalf("membership listing %v", gs)
	}
	e.get("/admin/realms/acme/groups", e.poller, &gs)
	if acc, ok := gs[0]["access"].(map[string]any); !ok || acc["view"] != true || acc["manage"] != false {
		t.Fatalf("group listing access %v", gs[0])
	}
}
