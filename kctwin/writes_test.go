package kctwin_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/keycdc/keycdc/kctwin"
)

// adminEvents returns the stored admin events after the first skip ones, oldest first.
func adminEventsAfter(t *testing.T, tw *kctwin.Twin, skip int) []kctwin.AdminEvent {
	t.Helper()
	d, err := tw.DumpRealm("acme")
	if err != nil {
		t.Fatal(err)
	}
	return d.AdminEvents[skip:]
}

func paths(evs []kctwin.AdminEvent) []string {
	return names(evs, func(e kctwin.AdminEvent) string { return e.OperationType + " " + e.ResourceType + " " + e.ResourcePath })
}

func TestWritesThroughGocloak(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, loadAcme(t))
			ctx, tok, gc := e.ctx, e.admin, e.gc
			// The clock does not move, so events are ordered by (time, id); give each write its
			// own millisecond to read them back in order.
			tick := func() { e.clock.Advance(time.Millisecond) }
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				tick()
			}
			uid, err := gc.CreateUser(ctx, tok, "acme", gocloak.User{Username: gocloak.StringP("Dora"), Email: gocloak.StringP("dora@acme.example"),
				Enabled: gocloak.BoolP(true), Attributes: &map[string][]string{"team": {"a", "b"}}})
			must(err)
			u, err := gc.GetUserByID(ctx, tok, "acme", uid)
			if err != nil || *u.Username != "dora" || (*u.Attributes)["team"][1] != "b" {
				t.Fatalf("created user %+v %v", u, err)
			}
			if _, err := gc.CreateUser(ctx, tok, "acme", gocloak.User{Username: gocloak.StringP("dora")}); err == nil ||
				!strings.Contains(err.Error(), "409") {
				t.Fatalf("duplicate user: %v", err)
			}
			u.FirstName = gocloak.StringP("Dora")
			u.RequiredActions = &[]string{"VERIFY_EMAIL"}
			must(gc.UpdateUser(ctx, tok, "acme", *u))
			eng, _ := e.tw.GroupID("acme", "/Engineering")
			must(gc.AddUserToGroup(ctx, tok, "acme", uid, eng))
			must(gc.DeleteUserFromGroup(ctx, tok, "acme", uid, eng))
			mgr, _ := gc.GetRealmRole(ctx, tok, "acme", "manager")
			must(gc.AddRealmRoleToUser(ctx, tok, "acme", uid, []gocloak.Role{*mgr}))
			hr, _ := e.tw.ClientUUID("acme", "hr-portal")
			approve, _ := gc.GetClientRole(ctx, tok, "acme", hr, "approve")
			must(gc.AddClientRolesToUser(ctx, tok, "acme", hr, uid, []gocloak.Role{*approve}))
			must(gc.DeleteClientRolesFromUser(ctx, tok, "acme", hr, uid, []gocloak.Role{*approve}))
			must(gc.DeleteRealmRoleFromUser(ctx, tok, "acme", uid, []gocloak.Role{*mgr}))
			gid, err := gc.CreateGroup(ctx, tok, "acme", gocloak.Group{Name: gocloak.StringP("Ops")})
			must(err)
			cid, err := gc.CreateChildGroup(ctx, tok, "acme", gid, gocloak.Group{Name: gocloak.StringP("oncall")})
			must(err)
			must(gc.UpdateGroup(ctx, tok, "acme", gocloak.Group{ID: &gid, Name: gocloak.StringP("Operations")}))
			kids, _ := e.tw.GroupID("acme", "/Operations/oncall")
			if kids != cid {
				t.Fatalf("child path after rename: %q want %q", kids, cid)
			}
			_, err = gc.CreateRealmRole(ctx, tok, "acme", gocloak.Role{Name: gocloak.StringP("auditor"), Description: gocloak.StringP("Reads logs")})
			must(err)
			emp, _ := gc.GetRealmRole(ctx, tok, "acme", "employee")
			must(gc.AddRealmRoleComposite(ctx, tok, "acme", "auditor", []gocloak.Role{*emp}))
			comps, _ := gc.GetCompositeRealmRoles(ctx, tok, "acme", "auditor")
			if len(comps) != 1 || *comps[0].Name != "employee" {
				t.Fatalf("composites %v", comps)
			}
			must(gc.DeleteRealmRoleComposite(ctx, tok, "acme", "auditor", []gocloak.Role{*emp}))
			must(gc.UpdateRealmRole(ctx, tok, "acme", "auditor", gocloak.Role{Name: gocloak.StringP("log-auditor")}))
			newC, err := gc.CreateClient(ctx, tok, "acme", gocloak.Client{ClientID: gocloak.StringP("reports"), ServiceAccountsEnabled: gocloak.BoolP(true),
				PublicClient: gocloak.BoolP(false)})
			must(err)
			sa, err := gc.GetClientServiceAccount(ctx, tok, "acme", newC)
			if err != nil || *sa.Username != "service-account-reports" {
				t.Fatalf("service account of new client: %v %v", sa, err)
			}
			_, err = gc.CreateClientRole(ctx, tok, "acme", newC, gocloak.Role{Name: gocloak.StringP("export")})
			must(err)
			must(gc.UpdateClient(ctx, tok, "acme", gocloak.Client{ID: &newC, ClientID: gocloak.StringP("reports"), Name: gocloak.StringP("Reports")}))
			must(gc.DeleteClientRole(ctx, tok, "acme", newC, "export"))
			must(gc.DeleteClient(ctx, tok, "acme", newC))
			must(gc.DeleteRealmRole(ctx, tok, "acme", "log-auditor"))
			must(gc.DeleteGroup(ctx, tok, "acme", gid))
			must(gc.DeleteUser(ctx, tok, "acme", uid))

			want := []string{
				"CREATE USER users/" + uid,
				"UPDATE USER users/" + uid,
				"CREATE GROUP_MEMBERSHIP users/" + uid + "/groups/" + eng,
				"DELETE GROUP_MEMBERSHIP users/" + uid + "/groups/" + eng,
				"CREATE REALM_ROLE_MAPPING users/" + uid + "/role-mappings/realm",
				"CREATE CLIENT_ROLE_MAPPING users/" + uid + "/role-mappings/clients/" + hr,
				"DELETE CLIENT_ROLE_MAPPING users/" + uid + "/role-mappings/clients/" + hr,
				"DELETE REALM_ROLE_MAPPING users/" + uid + "/role-mappings/realm",
				"CREATE GROUP groups/" + gid,
				"CREATE GROUP groups/" + gid + "/children",
				"UPDATE GROUP groups/" + gid,
				"CREATE REALM_ROLE roles/auditor",
				"CREATE REALM_ROLE roles/auditor/composites",
				"DELETE REALM_ROLE roles/auditor/composites",
				"UPDATE REALM_ROLE roles/auditor",
				"CREATE CLIENT clients/" + newC,
				"CREATE CLIENT_ROLE clients/" + newC + "/roles/export",
				"UPDATE CLIENT clients/" + newC,
				"DELETE CLIENT_ROLE clients/" + newC + "/roles/export",
				"DELETE CLIENT clients/" + newC,
				"DELETE REALM_ROLE roles/log-auditor",
				"DELETE GROUP groups/" + gid,
				"DELETE USER users/" + uid,
			}
			got := paths(adminEventsAfter(t, e.tw, 0))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("admin events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			evs := adminEventsAfter(t, e.tw, 0)
			if evs[0].Representation == nil || !strings.Contains(*evs[0].Representation, `"username":"dora"`) {
				t.Errorf("create representation %v", evs[0].Representation)
			}
			if !strings.Contains(*evs[9].Representation, cid) {
				t.Errorf("child create must carry the child id in its representation: %s", *evs[9].Representation)
			}
			if strings.Contains(*evs[15].Representation, `"secret":"`) && !strings.Contains(*evs[15].Representation, `"**********"`) {
				t.Errorf("client secret leaked into an admin event: %s", *evs[15].Representation)
			}
			master, _ := gc.GetRealm(ctx, tok, "master")
			if evs[0].AuthRealmID != *master.ID || evs[0].AuthIPAddress != "127.0.0.1" {
				t.Errorf("auth details %+v", evs[0])
			}
			// Over the API, 25.0 hides ids and details.
			var raw []map[string]any
			e.get("/admin/realms/acme/admin-events?max=1&operationTypes=CREATE&resourceTypes=GROUP_MEMBERSHIP", tok, &raw)
			_, hasID := raw[0]["id"]
			_, hasDetails := raw[0]["details"]
			if hasID != (v == kctwin.Version26) || hasDetails != (v == kctwin.Version26) {
				t.Errorf("%s: admin event rep %v", v, raw[0])
			}
		})
	}
}

func TestWritePermissionsAndErrors(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	forbidden := `{"error":"HTTP 403 Forbidden"}`
	e.expect("POST", "/admin/realms/acme/users", e.poller, map[string]any{"username": "x"}, 403, forbidden)
	e.expect("DELETE", "/admin/realms/acme/roles/employee", e.poller, nil, 403, forbidden)
	e.expect("POST", "/admin/realms/acme/users", e.admin, map[string]any{"username": "alice"}, 409, `{"errorMessage":"User exists with same username"}`)
	e.expect("POST", "/admin/realms/acme/users", e.admin, map[string]any{"username": "x", "email": "ALICE@acme.example"}, 409, `{"errorMessage":"User exists with same email"}`)
	e.expect("POST", "/admin/realms/acme/users", e.admin, "{not json", 400, "")
	e.expect("POST", "/admin/realms/acme/groups", e.admin, map[string]any{"name": "Sales"}, 409, `{"errorMessage":"Top level group named 'Sales' already exists."}`)
	e.expect("POST", "/admin/realms/acme/roles", e.admin, map[string]any{"name": "employee"}, 409, `{"errorMessage":"Role with name employee already exists"}`)
	e.expect("POST", "/admin/realms/acme/clients", e.admin, map[string]any{"clientId": "hr-portal"}, 409, `{"errorMessage":"Client hr-portal already exists"}`)
	e.expect("DELETE", "/admin/realms/acme/users/nope", e.admin, nil, 404, `{"error":"User not found"}`)
	e.expect("PUT", "/admin/realms/acme/users/a1000000-0000-4000-8000-000000000001/groups/nope", e.admin, nil, 404, `{"error":"Group not found"}`)
	e.expect("POST", "/admin/realms/acme/users/a1000000-0000-4000-8000-000000000001/role-mappings/realm", e.admin,
		[]map[string]any{{"id": "nope", "name": "employee"}}, 404, `{"error":"Role not found"}`)
	// Events config through the API.
	e.expect("PUT", "/admin/realms/acme/events/config", e.admin, map[string]any{"eventsEnabled": false, "adminEventsDetailsEnabled": false}, 204, "")
	var cfg map[string]any
	e.get("/admin/realms/acme/events/config", e.poller, &cfg)
	if cfg["eventsEnabled"] != false || cfg["adminEventsDetailsEnabled"] != false || cfg["adminEventsEnabled"] != true {
		t.Fatalf("config %v", cfg)
	}
	// With details off, admin events carry no representation; with events off no logins.
	before := len(adminEventsAfter(t, e.tw, 0))
	e.expect("PUT", "/admin/realms/acme/users/a1000000-0000-4000-8000-000000000002", e.admin, map[string]any{"lastName": "Builder"}, 204, "")
	evs := adminEventsAfter(t, e.tw, before)
	if len(evs) != 1 || evs[0].Representation != nil {
		t.Fatalf("update without details: %+v", evs)
	}
	d, _ := e.tw.DumpRealm("acme")
	nEvents := len(d.Events)
	if _, err := e.gc.LoginClient(e.ctx, "keycdc", mustCreds(t, e.tw).ClientSecret, "acme"); err != nil {
		t.Fatal(err)
	}
	d, _ = e.tw.DumpRealm("acme")
	if len(d.Events) != nEvents {
		t.Fatal("a login was stored with events disabled")
	}
	// A partial PUT keeps the other fields.
	var bob map[string]any
	e.get("/admin/realms/acme/users/a1000000-0000-4000-8000-000000000002", e.poller, &bob)
	if bob["lastName"] != "Builder" || bob["firstName"] != "Bob" || bob["email"] != "bob@acme.example" {
		t.Fatalf("partial update: %v", bob)
	}
}

func mustCreds(t *testing.T, tw *kctwin.Twin) kctwin.Credentials {
	c, err := tw.PollerCredentials("acme")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGoMutationsMatchAdminAPI(t *testing.T) {
	clock := newClock()
	tw, err := kctwin.New(kctwin.Clock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	if err := tw.LoadFiles("testdata/acme-realm.json", "testdata/acme-users-0.json"); err != nil {
		t.Fatal(err)
	}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Millisecond)
	}
	uid, err := tw.CreateUser("acme", kctwin.UserInput{Username: "eve", Enabled: true})
	step(err)
	step(tw.SetUserAttributes("acme", uid, map[string][]string{"k": {"v1", "v2"}}))
	step(tw.SetRequiredActions("acme", uid, []string{"CONFIGURE_TOTP"}))
	g, err := tw.CreateGroup("acme", "", "Temp")
	step(err)
	child, err := tw.CreateGroup("acme", g, "Sub")
	step(err)
	step(tw.JoinGroup("acme", uid, child))
	step(tw.RenameGroup("acme", g, "Temporary"))
	step(tw.GrantRoles("acme", uid, kctwin.RoleRef{Name: "employee"}))
	step(tw.GrantRoles("acme", uid, kctwin.RoleRef{ClientID: "hr-portal", Name: "view"}))
	step(tw.RevokeRoles("acme", uid, kctwin.RoleRef{Name: "employee"}))
	_, err = tw.CreateRole("acme", kctwin.RoleRef{ClientID: "hr-portal", Name: "audit"}, "")
	step(err)
	step(tw.AddComposites("acme", kctwin.RoleRef{Name: "manager"}, kctwin.RoleRef{ClientID: "hr-portal", Name: "audit"}))
	step(tw.RemoveComposites("acme", kctwin.RoleRef{Name: "manager"}, kctwin.RoleRef{ClientID: "hr-portal", Name: "audit"}))
	step(tw.RenameRole("acme", kctwin.RoleRef{ClientID: "hr-portal", Name: "audit"}, "auditing"))
	step(tw.DeleteRole("acme", kctwin.RoleRef{ClientID: "hr-portal", Name: "auditing"}))
	cid, err := tw.CreateClient("acme", kctwin.ClientInput{ClientID: "svc", Enabled: true, ServiceAccountsEnabled: true})
	step(err)
	step(tw.UpdateClient("acme", cid, func(c *kctwin.ClientInput) { c.Description = "d" }))
	step(tw.DeleteClient("acme", cid))
	step(tw.LeaveGroup("acme", uid, child))
	step(tw.DeleteGroup("acme", g))
	step(tw.UpdateUser("acme", uid, func(u *kctwin.UserInput) { u.Username = "eve2" }))
	if u, _ := tw.User("acme", uid); u.Username != "eve" {
		t.Fatalf("renamed without editUsernameAllowed: %q", u.Username)
	}
	if err := tw.SetEditUsernameAllowed("acme", true); err != nil {
		t.Fatal(err)
	}
	step(tw.UpdateUser("acme", uid, func(u *kctwin.UserInput) { u.Username = "eve2" }))
	if u, _ := tw.User("acme", uid); u.Username != "eve2" {
		t.Fatalf("not renamed with editUsernameAllowed: %q", u.Username)
	}
	step(tw.DeleteUser("acme", uid))
	hr, _ := tw.ClientUUID("acme", "hr-portal")
	want := []string{
		"CREATE USER users/" + uid, "UPDATE USER users/" + uid, "UPDATE USER users/" + uid,
		"CREATE GROUP groups/" + g, "CREATE GROUP groups/" + g + "/children",
		"CREATE GROUP_MEMBERSHIP users/" + uid + "/groups/" + child, "UPDATE GROUP groups/" + g,
		"CREATE REALM_ROLE_MAPPING users/" + uid + "/role-mappings/realm",
		"CREATE CLIENT_ROLE_MAPPING users/" + uid + "/role-mappings/clients/" + hr,
		"DELETE REALM_ROLE_MAPPING users/" + uid + "/role-mappings/realm",
		"CREATE CLIENT_ROLE clients/" + hr + "/roles/audit",
		"CREATE REALM_ROLE roles/manager/composites", "DELETE REALM_ROLE roles/manager/composites",
		"UPDATE CLIENT_ROLE clients/" + hr + "/roles/audit", "DELETE CLIENT_ROLE clients/" + hr + "/roles/auditing",
		"CREATE CLIENT clients/" + cid, "UPDATE CLIENT clients/" + cid, "DELETE CLIENT clients/" + cid,
		"DELETE GROUP_MEMBERSHIP users/" + uid + "/groups/" + child, "DELETE GROUP groups/" + g,
		"UPDATE USER users/" + uid, "UPDATE USER users/" + uid, "DELETE USER users/" + uid,
	}
	got := paths(adminEventsAfter(t, tw, 0))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("admin events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := tw.DeleteUser("acme", "nope"); !errors.Is(err, kctwin.ErrNotFound) {
		t.Errorf("delete missing user: %v", err)
	}
	if _, err := tw.CreateUser("acme", kctwin.UserInput{Username: "alice"}); !errors.Is(err, kctwin.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := tw.CreateUser("nope", kctwin.UserInput{Username: "x"}); !errors.Is(err, kctwin.ErrNotFound) {
		t.Errorf("missing realm: %v", err)
	}
}

func TestSimulatedUserActivity(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	tw := e.tw
	e.clock.Advance(time.Millisecond) // after the poller's own CLIENT_LOGIN
	d0, _ := tw.DumpRealm("acme")
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Millisecond)
	}
	step(tw.SimulateLogin("acme", "alice", "hr-portal"))
	step(tw.SimulateLoginError("acme", "alice", "hr-portal"))
	step(tw.SimulateLoginError("acme", "nobody", "hr-portal"))
	step(tw.SimulateLogout("acme", "alice", "hr-portal"))
	step(tw.SimulatePasswordUpdate("acme", "alice", "new-secret"))
	step(tw.SimulateProfileUpdate("acme", "alice", "Alicia", "Liddell"))
	id, err := tw.SimulateRegistration("acme", kctwin.UserInput{Username: "newbie", Email: "newbie@acme.example", Enabled: true}, "account-console")
	step(err)
	step(tw.SimulateAccountDeletion("acme", "newbie"))
	d, _ := tw.DumpRealm("acme")
	evs := d.Events[len(d0.Events):]
	got := names(evs, func(e kctwin.Event) string { return e.Type + ":" + e.Error })
	want := []string{"LOGIN:", "LOGIN_ERROR:invalid_user_credentials", "LOGIN_ERROR:user_not_found", "LOGOUT:",
		"UPDATE_PASSWORD:", "UPDATE_PROFILE:", "REGISTER:", "DELETE_ACCOUNT:"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if evs[6].UserID != id || evs[5].Details["updated_first_name"] != "Alicia" {
		t.Errorf("details: %+v %+v", evs[6], evs[5])
	}
	if len(d.AdminEvents) != len(d0.AdminEvents) {
		t.Errorf("self-service activity recorded %d admin events", len(d.AdminEvents)-len(d0.AdminEvents))
	}
	u, err := e.gc.GetUserByID(e.ctx, e.poller, "acme", "a1000000-0000-4000-8000-000000000001")
	if err != nil || *u.FirstName != "Alicia" {
		t.Fatalf("profile update not visible: %v %v", u, err)
	}
}

// TestHookChurnWhilePaging changes the realm from the hook while a client pages through
// users, the way a churn test does.
func TestHookChurnWhilePaging(t *testing.T) {
	e := newEnv(t, kctwin.Version26, generate(t, "name=acme,users=120,groups=2,roles=2,clients=1,events=0,admin-events=0,seed=2"))
	var n atomic.Int32
	e.tw.SetHook(func(route string, r *http.Request) {
		if route != "GET /admin/realms/{realm}/users" || r.URL.Query().Get("first") != "50" {
			return
		}
		if n.Add(1) == 1 {
			// A user sorting first appears between pages: offset paging now repeats one.
			if _, err := e.tw.CreateUser("acme", kctwin.UserInput{Username: "aaa-latecomer", Enabled: true}); err != nil {
				t.Error(err)
			}
		}
	})
	p1, _ := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{First: gocloak.IntP(0), Max: gocloak.IntP(50)})
	p2, _ := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{First: gocloak.IntP(50), Max: gocloak.IntP(50)})
	if n.Load() != 1 || *p1[49].Username != *p2[0].Username {
		t.Fatalf("hook ran %d times; page boundary %s / %s", n.Load(), *p1[49].Username, *p2[0].Username)
	}
	e.tw.SetHook(nil)
}

func TestEventExpiration(t *testing.T) {
	e := newEnv(t, kctwin.Version26, func(tw *kctwin.Twin) { loadAcme(t)(tw); seedEvents(t, tw) })
	stored := func() string {
		d, _ := e.tw.DumpRealm("acme")
		var ids []string
		for _, ev := range d.Events {
			if len(ev.ID) > 2 {
				ids = append(ids, "own")
			} else {
				ids = append(ids, ev.ID)
			}
		}
		return strings.Join(ids, " ")
	}
	all := "t4 t1 t2 a b c own"
	if got := stored(); got != all {
		t.Fatalf("stored %q", got)
	}
	// acme keeps user events 7 days; expiration happens only when the cleanup runs, never
	// at read time.
	e.clock.Advance(6 * 24 * time.Hour) // now 2026-11-26T12:00Z
	e.relogin()
	if evs := e.events("max=-1"); len(evs) != 8 {
		t.Fatalf("events expired at read time: %d", len(evs))
	}
	e.tw.ExpireEvents() // cut 2026-11-19T12:00Z
	if got := stored(); got != "own own" {
		t.Fatalf("after cleanup: %q", got)
	}
	// Admin events follow the adminEventsExpiration attribute (30 days in acme).
	if _, err := e.tw.InjectAdminEvent("acme", kctwin.AdminEvent{Time: e.clock.Now().Add(-31 * 24 * time.Hour).UnixMilli(),
		OperationType: "UPDATE", ResourceType: "USER", ResourcePath: "users/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tw.InjectAdminEvent("acme", kctwin.AdminEvent{Time: e.clock.Now().Add(-29 * 24 * time.Hour).UnixMilli(),
		OperationType: "UPDATE", ResourceType: "USER", ResourcePath: "users/y"}); err != nil {
		t.Fatal(err)
	}
	e.tw.ExpireEvents()
	d, _ := e.tw.DumpRealm("acme")
	if len(d.AdminEvents) != 1 || d.AdminEvents[0].ResourcePath != "users/y" {
		t.Fatalf("admin events after cleanup: %+v", d.AdminEvents)
	}
}

// A POST of an existing group's id to /groups or /groups/{parent}/children moves it with
// its subtree and members, answers 204 and records an UPDATE whose path is the request's
// (no id in it); an unknown id is a 404, a move under its own subtree a 400.
func TestMoveGroup(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, loadAcme(t))
			ops, err := e.tw.CreateGroup("acme", "", "Ops")
			if err != nil {
				t.Fatal(err)
			}
			oncall, err := e.tw.CreateGroup("acme", ops, "oncall")
			if err != nil {
				t.Fatal(err)
			}
			night, err := e.tw.CreateGroup("acme", oncall, "night")
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Millisecond) // admin events are read back in (time, id) order
			d, _ := e.tw.DumpRealm("acme")
			before := len(d.AdminEvents)
			eng, _ := e.tw.GroupID("acme", "/Engineering")
			base := "/admin/realms/acme/groups"
			if st, body, _ := e.do("POST", base+"/"+eng+"/children", e.admin, map[string]string{"id": oncall, "name": "oncall"}); st != 204 {
				t.Fatalf("move under Engineering: %d %s", st, body)
			}
			if id, _ := e.tw.GroupID("acme", "/Engineering/oncall/night"); id != night {
				t.Fatalf("the subtree did not move: %q", id)
			}
			e.clock.Advance(time.Millisecond)
			if st, body, _ := e.do("POST", base, e.admin, map[string]string{"id": oncall, "name": "oncall"}); st != 204 {
				t.Fatalf("move to the top level: %d %s", st, body)
			}
			if id, _ := e.tw.GroupID("acme", "/oncall/night"); id != night {
				t.Fatalf("the subtree did not move to the top level: %q", id)
			}
			st, body, _ := e.do("POST", base+"/"+night+"/children", e.admin, map[string]string{"id": oncall, "name": "oncall"})
			if st != 400 {
				t.Fatalf("move under its own subgroup: %d %s", st, body)
			}
			st, body, _ = e.do("POST", base, e.admin, map[string]string{"id": "00000000-0000-0000-0000-000000000000", "name": "x"})
			if st != 404 || !strings.Contains(string(body), "Could not find child by id") {
				t.Fatalf("unknown id: %d %s", st, body)
			}
			got := paths(adminEventsAfter(t, e.tw, before))
			want := []string{"UPDATE GROUP groups/" + eng + "/children", "UPDATE GROUP groups"}
			if !slices.Equal(got, want) {
				t.Fatalf("admin events %q, want %q", got, want)
			}
		})
	}
}
