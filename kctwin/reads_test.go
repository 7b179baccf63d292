package kctwin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Nerzal/gocloak/v13"

	"github.com/keycdc/keycdc/kctwin"
)

var versions = []string{kctwin.Version26, kctwin.Version25}

func TestUsersPagingOrderAndPopulation(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, generate(t, "name=acme,users=250,groups=12,roles=6,clients=4,events=0,admin-events=0,seed=7"))
			d, err := e.tw.DumpRealm("acme")
			if err != nil {
				t.Fatal(err)
			}
			var humans, all []string
			for _, u := range d.Users {
				all = append(all, u.Username)
				if u.ServiceAccountClientID == "" {
					humans = append(humans, u.Username)
				}
			}
			if len(all)-len(humans) < 2 {
				t.Fatalf("want service accounts in the realm, got %d", len(all)-len(humans))
			}
			// Default page: 100 users, by username, no service accounts.
			page, err := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{})
			if err != nil {
				t.Fatal(err)
			}
			if got := userNames(page); !equalStrings(got, humans[:100]) {
				t.Fatalf("default page: got %d users starting %v, want the first 100 humans by username", len(got), got[:3])
			}
			// Paging beyond the default with first/max, until an empty page.
			var seen []string
			for first := 0; ; first += 70 {
				p, err := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{First: gocloak.IntP(first), Max: gocloak.IntP(70)})
				if err != nil {
					t.Fatal(err)
				}
				if len(p) == 0 {
					break
				}
				seen = append(seen, userNames(p)...)
			}
			if !equalStrings(seen, humans) {
				t.Fatalf("paged walk: got %d users, want %d humans in order", len(seen), len(humans))
			}
			// max=-1 disables the limit.
			p, _ := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{Max: gocloak.IntP(-1)})
			if len(p) != len(humans) {
				t.Fatalf("max=-1: got %d, want %d", len(p), len(humans))
			}
			// Any field filter brings service accounts in; count never does.
			var filtered []*gocloak.User
			for first := 0; ; first += 100 {
				p, err := e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{Enabled: gocloak.BoolP(true), First: gocloak.IntP(first)})
				if err != nil {
					t.Fatal(err)
				}
				if len(p) == 0 {
					break
				}
				filtered = append(filtered, p...)
			}
			sa := 0
			for _, u := range filtered {
				if strings.HasPrefix(*u.Username, "service-account-") {
					sa++
				}
			}
			if sa < 2 {
				t.Fatalf("enabled=true: want service accounts included, got %d", sa)
			}
			n, err := e.gc.GetUserCount(e.ctx, e.poller, "acme", gocloak.GetUsersParams{})
			if err != nil || n != len(humans) {
				t.Fatalf("count: %d %v, want %d", n, err, len(humans))
			}
			n, _ = e.gc.GetUserCount(e.ctx, e.poller, "acme", gocloak.GetUsersParams{Username: gocloak.StringP("service-account")})
			if n != 0 {
				t.Fatalf("count with username filter counted %d service accounts", n)
			}
			// search is a prefix match and excludes service accounts.
			p, _ = e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{Search: gocloak.StringP("service-account"), Max: gocloak.IntP(-1)})
			if len(p) != 0 {
				t.Fatalf("search found %d service accounts", len(p))
			}
			p, _ = e.gc.GetUsers(e.ctx, e.poller, "acme", gocloak.GetUsersParams{Search: gocloak.StringP(humans[3]), Max: gocloak.IntP(-1)})
			if len(p) == 0 || *p[0].Username != humans[3] {
				t.Fatalf("search %q: %v", humans[3], userNames(p))
			}
		})
	}
}

func TestUserRepresentations(t *testing.T) {
	e := newEnv(t, kctwin.Version26, loadAcme(t))
	var full, brief []map[string]any
	e.get("/admin/realms/acme/users?username=alice&exact=true", e.poller, &full)
	e.get("/admin/realms/acme/users?username=alice&exact=true&briefRepresentation=true", e.poller, &brief)
	if len(full) != 1 || len(brief) != 1 {
		t.Fatalf("want alice once: %v %v", full, brief)
	}
	for _, k := range []string{"attributes", "requiredActions", "totp", "notBefore", "disableableCredentialTypes", "access"} {
		if _, ok := full[0][k]; !ok {
			t.Errorf("full rep lacks %q", k)
		}
	}
	for _, k := range []string{"attributes", "requiredActions", "totp"} {
		if _, ok := brief[0][k]; ok {
			t.Errorf("brief rep has %q", k)
		}
	}
	for _, k := range []string{"realmRoles", "clientRoles", "groups", "credentials", "serviceAccountClientId"} {
		if _, ok := full[0][k]; ok {
			t.Errorf("full rep has export-only field %q", k)
		}
	}
	// The listing's access is getAccessForListing's one key; a single read has the full map.
	if access := full[0]["access"].(map[string]any); len(access) != 1 || access["manage"] != false {
		t.Errorf("listing access = %v", access)
	}
	var one map[string]any
	e.get("/admin/realms/acme/users/"+full[0]["id"].(string), e.poller, &one)
	if access := one["access"].(map[string]any); access["view"] != true || access["manage"] != false || len(access) != 6 {
		t.Errorf("read access = %v", access)
	}
	// Absent optional fields stay absent.
	var carol map[string]any
	e.get("/admin/realms/acme/users/a1000000-0000-4000-8000-000000000003", e.poller, &carol)
	if _, ok := carol["email"]; ok {
		t.Errorf("carol has an email: %v", carol)
	}
	if carol["username"] != "carol" || carol["federationLink"] != "6f1e2d3c-4b5a-4978-8877-665544332211" {
		t.Errorf("carol = %v", carol)
	}
	// The service-account user is reachable through its client, without serviceAccountClientId.
	clients, _ := e.gc.GetClients(e.ctx, e.poller, "acme", gocloak.GetClientsParams{ClientID: gocloak.StringP("payroll-sync")})
	if len(clients) != 1 {
		t.Fatalf("payroll-sync: %v", clients)
	}
	sa, err := e.gc.GetClientServiceAccount(e.ctx, e.poller, "acme", *clients[0].ID)
	if err != nil || *sa.Username != "service-account-payroll-sync" || sa.ServiceAccountClientID != nil {
		t.Fatalf("service account: %+v %v", sa, err)
	}
}

func TestLoadedExportReadsBack(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) { testLoadedExportReadsBack(t, v) })
	}
}

func testLoadedExportReadsBack(t *testing.T, v string) {
	e := newEnv(t, v, loadAcme(t))
	var export struct {
		Users []struct {
			ID, Username, Email, FirstName, LastName string
			Enabled, EmailVerified                   bool
			CreatedTimestamp                         int64
			Attributes                               map[string][]string
			RequiredActions                          []string
			RealmRoles                               []string
			ClientRoles                              map[string][]string
			Groups                                   []string
		}
	}
	readJSON(t, "testdata/acme-users-0.json", &export)
	for _, xu := range export.Users {
		u, err := e.gc.GetUserByID(e.ctx, e.poller, "acme", xu.ID)
		if err != nil {
			t.Fatalf("user %s: %v", xu.Username, err)
		}
		if *u.Username != strings.ToLower(xu.Username) || gocloak.PString(u.Email) != xu.Email ||
			gocloak.PString(u.FirstName) != xu.FirstName || gocloak.PString(u.LastName) != xu.LastName ||
			*u.Enabled != xu.Enabled || *u.EmailVerified != xu.EmailVerified || *u.CreatedTimestamp != xu.CreatedTimestamp {
			t.Errorf("user %s read back as %+v", xu.Username, u)
		}
		if fmt.Sprint(derefMap(u.Attributes)) != fmt.Sprint(xu.Attributes) && !(u.Attributes == nil && len(xu.Attributes) == 0) {
			t.Errorf("user %s attributes %v, want %v", xu.Username, derefMap(u.Attributes), xu.Attributes)
		}
		if fmt.Sprint(gocloak.PStringSlice(u.RequiredActions)) != fmt.Sprint(nonNilS(xu.RequiredActions)) {
			t.Errorf("user %s required actions %v, want %v", xu.Username, gocloak.PStringSlice(u.RequiredActions), xu.RequiredActions)
		}
		m, err := e.gc.GetRoleMappingByUserID(e.ctx, e.poller, "acme", xu.ID)
		if err != nil {
			t.Fatal(err)
		}
		var realmRoles []string
		if m.RealmMappings != nil {
			for _, r := range *m.RealmMappings {
				realmRoles = append(realmRoles, *r.Name)
			}
		}
		if !equalStrings(sortedCopy(realmRoles), sortedCopy(xu.RealmRoles)) {
			t.Errorf("user %s realm roles %v, want %v", xu.Username, realmRoles, xu.RealmRoles)
		}
		got := map[string][]string{}
		if m.ClientMappings != nil {
			for cid, cm := range m.ClientMappings {
				for _, r := range *cm.Mappings {
					got[cid] = append(got[cid], *r.Name)
				}
				if *cm.Client != cid {
					t.Errorf("clientMappings key %q has client %q", cid, *cm.Client)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(nonNilM(xu.ClientRoles)) {
			t.Errorf("user %s client roles %v, want %v", xu.Username, got, xu.ClientRoles)
		}
		groups, err := e.gc.GetUserGroups(e.ctx, e.poller, "acme", xu.ID, gocloak.GetGroupsParams{})
		if err != nil {
			t.Fatal(err)
		}
		paths := names(groups, func(g *gocloak.Group) string { return *g.Path })
		if !equalStrings(sortedCopy(paths), sortedCopy(xu.Groups)) {
			t.Errorf("user %s groups %v, want %v", xu.Username, paths, xu.Groups)
		}
	}
	// Groups, roles and clients as in the file.
	top, err := e.gc.GetGroups(e.ctx, e.poller, "acme", gocloak.GetGroupsParams{})
	if err != nil || len(top) != 2 || *top[0].Name != "Engineering" || *top[1].Name != "Sales" {
		t.Fatalf("top groups: %v %v", top, err)
	}
	var eng map[string]any
	e.get("/admin/realms/acme/groups/3a6f1c2e-0001-4c3b-9e8d-7f6a5b4c3d01", e.poller, &eng)
	if fmt.Sprint(eng["attributes"]) != "map[costCenter:[4711]]" || fmt.Sprint(eng["realmRoles"]) != "[employee]" || eng["subGroupCount"] != 2.0 {
		t.Errorf("Engineering = %v", eng)
	}
	mgr, err := e.gc.GetRealmRole(e.ctx, e.poller, "acme", "manager")
	if err != nil || !*mgr.Composite || *mgr.Description != "People managers" || *mgr.ID != "5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0005" {
		t.Fatalf("manager: %+v %v", mgr, err)
	}
	comps, _ := e.gc.GetCompositeRealmRoles(e.ctx, e.poller, "acme", "manager")
	if got := names(comps, func(r *gocloak.Role) string { return *r.Name }); !equalStrings(got, []string{"employee", "approve"}) {
		t.Errorf("manager composites %v", got)
	}
	hr, err := e.gc.GetClient(e.ctx, e.poller, "acme", "7e2d9b6c-0c4a-4f55-8b0e-2a9c1d3e4f51")
	if err != nil || *hr.ClientID != "hr-portal" || *hr.Name != "HR portal" || *hr.Description != "Leave and expenses" ||
		*hr.RootURL != "https://hr.acme.example" || *hr.BaseURL != "/home" || *hr.PublicClient || !*hr.Enabled {
		t.Fatalf("hr-portal: %+v %v", hr, err)
	}
	// The masked secret of the export was replaced by a usable one, shown in plaintext.
	if s := gocloak.PString(hr.Secret); s == "" || s == "**********" {
		t.Errorf("hr-portal secret %q", s)
	}
	// Carol's plain password from the export works with the password grant of hr-portal.
	if _, err := e.gc.Login(e.ctx, "hr-portal", *hr.Secret, "acme", "carol", "carol-password"); err != nil {
		t.Errorf("carol login: %v", err)
	}
	// Realm settings.
	rm, err := e.gc.GetRealm(e.ctx, e.poller, "acme")
	if err != nil || *rm.ID != "0d7c0f3e-7a51-4b8e-9a35-3f1e5a3c2b10" || *rm.DisplayName != "ACME Corp" {
		t.Fatalf("realm: %+v %v", rm, err)
	}
	var raw map[string]any
	e.get("/admin/realms/acme", e.poller, &raw)
	if raw["attributes"].(map[string]any)["adminEventsExpiration"] != "2592000" || raw["eventsExpiration"] != 604800.0 {
		t.Errorf("realm rep: %v", raw)
	}
}

func TestGroupsChildrenMembers(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) { testGroupsChildrenMembers(t, v) })
	}
}

func testGroupsChildrenMembers(t *testing.T, v string) {
	e := newEnv(t, v, generate(t, "name=acme,users=300,groups=40,roles=4,clients=2,events=0,admin-events=0,seed=3"))
	var top []map[string]any
	e.get("/admin/realms/acme/groups", e.poller, &top)
	d, _ := e.tw.DumpRealm("acme")
	nTop := 0
	for _, g := range d.Groups {
		if g.ParentID == "" {
			nTop++
		}
	}
	if len(top) != nTop {
		t.Fatalf("GET /groups returned %d groups, want the %d top-level ones", len(top), nTop)
	}
	big := top[0]
	if big["name"] != "Engineering" || big["subGroupCount"].(float64) <= 10 || len(big["subGroups"].([]any)) != 0 {
		t.Fatalf("first group %v: want Engineering with >10 children and no inlined subGroups", big)
	}
	id := big["id"].(string)
	// /children defaults to max 10; page with first until empty.
	var kids []map[string]any
	e.get("/admin/realms/acme/groups/"+id+"/children", e.poller, &kids)
	if len(kids) != 10 {
		t.Fatalf("children default page: %d, want 10", len(kids))
	}
	if _, ok := kids[0]["attributes"]; !ok {
		t.Errorf("children are full representations by default: %v", kids[0])
	}
	var all []string
	for first := 0; ; first += 10 {
		var p []map[string]any
		e.get(fmt.Sprintf("/admin/realms/acme/groups/%s/children?first=%d", id, first), e.poller, &p)
		if len(p) == 0 {
			break
		}
		for _, k := range p {
			all = append(all, k["name"].(string))
			if k["parentId"] != id {
				t.Errorf("child %v has parentId %v", k["name"], k["parentId"])
			}
		}
	}
	if int(big["subGroupCount"].(float64)) != len(all) || !equalStrings(all, sortedCopy(all)) {
		t.Fatalf("children walk: %v (subGroupCount %v)", all, big["subGroupCount"])
	}
	// Members: default max 100, ordered by username, direct members only.
	members, err := e.gc.GetGroupMembers(e.ctx, e.poller, "acme", id, gocloak.GetGroupsParams{})
	if err != nil || len(members) != 100 {
		t.Fatalf("members default page: %d %v", len(members), err)
	}
	var walk []string
	for first := 0; ; first += 100 {
		p, err := e.gc.GetGroupMembers(e.ctx, e.poller, "acme", id, gocloak.GetGroupsParams{First: gocloak.IntP(first), Max: gocloak.IntP(100)})
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		walk = append(walk, userNames(p)...)
	}
	want := 0
	for _, u := range d.Users {
		for _, g := range u.Groups {
			if g == id {
				want++
			}
		}
	}
	if len(walk) != want || want <= 100 || !equalStrings(walk, sortedCopy(walk)) {
		t.Fatalf("members walk: %d sorted=%v, want %d (>100)", len(walk), equalStrings(walk, sortedCopy(walk)), want)
	}
	// Count and 404.
	n, _ := e.gc.GetGroupsCount(e.ctx, e.poller, "acme", gocloak.GetGroupsParams{})
	if n != len(d.Groups) {
		t.Errorf("groups count %d, want %d", n, len(d.Groups))
	}
	e.expect("GET", "/admin/realms/acme/groups/nope", e.poller, nil, 404, `{"error":"Could not find group by id"}`)
	e.expect("GET", "/admin/realms/acme/groups/nope/children", e.poller, nil, 404, `{"error":"Could not find group by id"}`)
	// Search returns matches nested under their ancestors.
	var found []map[string]any
	deep := ""
	for _, g := range d.Groups {
		if strings.Count(g.Path, "/") >= 3 {
			deep = g.Name
			break
		}
	}
	if deep == "" {
		t.Fatal("no group three levels deep")
	}
	e.get("/admin/realms/acme/groups?search="+deep+"&exact=true", e.poller, &found)
	if len(found) != 1 || found[0]["parentId"] != nil || len(found[0]["subGroups"].([]any)) != 1 {
		t.Fatalf("search %q: %v", deep, found)
	}
}

func TestRolesAndClients(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) { testRolesAndClients(t, v) })
	}
}

func testRolesAndClients(t *testing.T, v string) {
	e := newEnv(t, v, generate(t, "name=acme,users=260,groups=5,roles=12,clients=6,events=0,admin-events=0,seed=5"))
	roles, err := e.gc.GetRealmRoles(e.ctx, e.poller, "acme", gocloak.GetRoleParams{})
	if err != nil {
		t.Fatal(err)
	}
	// Unpaged, the set comes back in no name order; paged (both bounds), sorted by name.
	unpaged := names(roles, func(r *gocloak.Role) string { return *r.Name })
	if equalStrings(unpaged, sortedCopy(unpaged)) || len(unpaged) < 12+3 {
		t.Fatalf("unpaged realm roles %v", unpaged)
	}
	roles, err = e.gc.GetRealmRoles(e.ctx, e.poller, "acme", gocloak.GetRoleParams{First: gocloak.IntP(0), Max: gocloak.IntP(-1)})
	if err != nil {
		t.Fatal(err)
	}
	rn := names(roles, func(r *gocloak.Role) string { return *r.Name })
	if !equalStrings(rn, sortedCopy(unpaged)) {
		t.Fatalf("paged realm roles %v", rn)
	}
	// Paging applies only with both first and max.
	var p []map[string]any
	e.get("/admin/realms/acme/roles?max=2", e.poller, &p)
	if len(p) != len(rn) {
		t.Errorf("max alone paged the roles: %d", len(p))
	}
	e.get("/admin/realms/acme/roles?first=1&max=2", e.poller, &p)
	if len(p) != 2 || p[0]["name"] != rn[1] {
		t.Errorf("first=1&max=2: %v", p)
	}
	if _, ok := p[0]["attributes"]; ok {
		t.Errorf("list is brief by default: %v", p[0])
	}
	// Role users: direct holders, default max 100, by username.
	users, err := e.gc.GetUsersByRoleName(e.ctx, e.poller, "acme", "staff", gocloak.GetUsersByRoleParams{})
	if err != nil || len(users) != 100 {
		t.Fatalf("staff users default page: %d %v", len(users), err)
	}
	var holders []string
	for first := 0; ; first += 100 {
		p, _ := e.gc.GetUsersByRoleName(e.ctx, e.poller, "acme", "staff", gocloak.GetUsersByRoleParams{First: gocloak.IntP(first), Max: gocloak.IntP(100)})
		if len(p) == 0 {
			break
		}
		holders = append(holders, userNames(p)...)
	}
	if len(holders) <= 100 || !equalStrings(holders, sortedCopy(holders)) {
		t.Fatalf("staff holders: %d", len(holders))
	}
	// Composites.
	comp, err := e.gc.GetCompositeRealmRoles(e.ctx, e.poller, "acme", rn4(roles))
	if err != nil || len(comp) < 2 {
		t.Fatalf("composites: %v %v", comp, err)
	}
	byID, err := e.gc.GetRealmRoleByID(e.ctx, e.poller, "acme", *comp[0].ID)
	if err != nil || *byID.Name != *comp[0].Name {
		t.Fatalf("role by id: %v %v", byID, err)
	}
	var byIDComp []map[string]any
	e.get("/admin/realms/acme/roles-by-id/"+*roleNamed(roles, rn4(roles)).ID+"/composites", e.poller, &byIDComp)
	if len(byIDComp) != len(comp) {
		t.Errorf("roles-by-id composites %d, want %d", len(byIDComp), len(comp))
	}
	e.expect("GET", "/admin/realms/acme/roles/nope", e.poller, nil, 404, `{"error":"Could not find role"}`)
	e.expect("GET", "/admin/realms/acme/roles/nope/users", e.poller, nil, 404, `{"error":"Could not find role"}`)
	// Clients: ordered by clientId, no default max, secrets in plaintext.
	clients, err := e.gc.GetClients(e.ctx, e.poller, "acme", gocloak.GetClientsParams{})
	if err != nil {
		t.Fatal(err)
	}
	cn := names(clients, func(c *gocloak.Client) string { return *c.ClientID })
	if !equalStrings(cn, sortedCopy(cn)) || len(cn) != 6+7 {
		t.Fatalf("clients %v", cn)
	}
	var app1, api *gocloak.Client
	for _, c := range clients {
		switch *c.ClientID {
		case "app-001":
			app1 = c
		case "app-003":
			api = c
		}
	}
	if gocloak.PString(app1.Secret) == "" || api.Secret != nil {
		t.Errorf("secret: confidential %q, bearer-only %v", gocloak.PString(app1.Secret), api.Secret)
	}
	croles, err := e.gc.GetClientRoles(e.ctx, e.poller, "acme", *app1.ID, gocloak.GetRoleParams{First: gocloak.IntP(0), Max: gocloak.IntP(10)})
	if err != nil || len(croles) != 3 || *croles[0].Name != "admin" || !*croles[0].Composite || !*croles[0].ClientRole {
		t.Fatalf("client roles %v %v", croles, err)
	}
	cr, err := e.gc.GetClientRole(e.ctx, e.poller, "acme", *app1.ID, "read")
	if err != nil || *cr.ContainerID != *app1.ID {
		t.Fatalf("client role: %v %v", cr, err)
	}
	if _, err := e.gc.GetUsersByClientRoleName(e.ctx, e.poller, "acme", *app1.ID, "read", gocloak.GetUsersByRoleParams{}); err != nil {
		t.Fatal(err)
	}
	var cc []map[string]any
	e.get("/admin/realms/acme/clients/"+*app1.ID+"/roles/admin/composites", e.poller, &cc)
	if len(cc) != 2 {
		t.Errorf("client role composites %v", cc)
	}
	e.expect("GET", "/admin/realms/acme/clients/nope", e.poller, nil, 404, `{"error":"Could not find client"}`)
	e.expect("GET", "/admin/realms/acme/clients/"+*api.ID+"/service-account-user", e.poller, nil, 400,
		`{"error":"Service account not enabled for the client 'app-003'"}`)
	// Role mappings of a user holding client roles: direct and composite.
	d, _ := e.tw.DumpRealm("acme")
	var withClient kctwin.DumpUser
	for _, u := range d.Users {
		if len(u.ClientRoles["app-001"]) > 0 && u.ServiceAccountClientID == "" {
			withClient = u
			break
		}
	}
	if withClient.ID == "" {
		t.Fatal("no user with app-001 roles")
	}
	direct, err := e.gc.GetClientRolesByUserID(e.ctx, e.poller, "acme", *app1.ID, withClient.ID)
	if err != nil || len(direct) != len(withClient.ClientRoles["app-001"]) {
		t.Fatalf("direct client roles %v %v", direct, err)
	}
	eff, err := e.gc.GetCompositeClientRolesByUserID(e.ctx, e.poller, "acme", *app1.ID, withClient.ID)
	if err != nil || len(eff) < len(direct) {
		t.Fatalf("composite client roles %v %v", eff, err)
	}
	realmEff, err := e.gc.GetCompositeRealmRolesByUserID(e.ctx, e.poller, "acme", withClient.ID)
	if err != nil || len(realmEff) < 3 { // default roles expand to offline_access and uma_authorization
		t.Fatalf("composite realm roles %v %v", realmEff, err)
	}
	var direct2 []map[string]any
	e.get("/admin/realms/acme/users/"+withClient.ID+"/role-mappings/realm", e.poller, &direct2)
	if len(direct2) != len(withClient.RealmRoles) {
		t.Errorf("direct realm mappings %d, want %d", len(direct2), len(withClient.RealmRoles))
	}
	e.expect("GET", "/admin/realms/acme/users/nope/role-mappings", e.poller, nil, 404, `{"error":"User not found"}`)
	var cnt map[string]int
	e.get("/admin/realms/acme/users/"+withClient.ID+"/groups/count", e.poller, &cnt)
	if cnt["count"] != len(withClient.Groups) {
		t.Errorf("user groups count %v, want %d", cnt, len(withClient.Groups))
	}
}

func rn4(roles []*gocloak.Role) string {
	for _, r := range roles {
		if *r.Composite && !strings.HasPrefix(*r.Name, "default-roles") {
			return *r.Name
		}
	}
	return ""
}

func roleNamed(roles []*gocloak.Role, n string) *gocloak.Role {
	for _, r := range roles {
		if *r.Name == n {
			return r
		}
	}
	return nil
}

func derefMap(m *map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	return *m
}

func nonNilS(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilM(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestRemainingEndpoints covers the endpoints the other tests do not reach.
func TestRemainingEndpoints(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, loadAcme(t))
			ctx, gc := e.ctx, e.gc
			g, err := gc.GetGroupByPath(ctx, e.poller, "acme", "/Engineering/Backend")
			if err != nil || *g.ID != "3a6f1c2e-0002-4c3b-9e8d-7f6a5b4c3d02" {
				t.Fatalf("group by path: %v %v", g, err)
			}
			e.expect("GET", "/admin/realms/acme/group-by-path/Engineering/Nope", e.poller, nil, 404, `{"error":"Group path does not exist"}`)
			hr, _ := e.tw.ClientUUID("acme", "hr-portal")
			sec, err := gc.GetClientSecret(ctx, e.poller, "acme", hr)
			if err != nil || gocloak.PString(sec.Value) == "" {
				t.Fatalf("client secret: %v %v", sec, err)
			}
			var rc []map[string]any
			e.get("/admin/realms/acme/roles/manager/composites/realm", e.poller, &rc)
			if len(rc) != 1 || rc[0]["name"] != "employee" {
				t.Errorf("realm composites %v", rc)
			}
			e.get("/admin/realms/acme/roles/manager/composites/clients/"+hr, e.poller, &rc)
			if len(rc) != 1 || rc[0]["name"] != "approve" {
				t.Errorf("client composites %v", rc)
			}
			var cnt int
			e.get("/admin/realms/acme/users/count?search=id:a1000000-0000-4000-8000-000000000001", e.poller, &cnt)
			if cnt != 1 {
				t.Errorf("count by id %d", cnt)
			}
			var ug []map[string]any
			e.get("/admin/realms/acme/users/a1000000-0000-4000-8000-000000000002/groups?briefRepresentation=false&first=1&max=1", e.poller, &ug)
			if len(ug) != 1 || ug[0]["name"] != "Sales" || ug[0]["attributes"] == nil {
				t.Errorf("user groups page %v", ug)
			}
			var gc2 map[string]int
			e.get("/admin/realms/acme/groups/count?top=true", e.poller, &gc2)
			if gc2["count"] != 2 {
				t.Errorf("top count %v", gc2)
			}
			// Password reset (an ACTION admin event) then the password grant works.
			uid := "a1000000-0000-4000-8000-000000000002"
			if err := gc.SetPassword(ctx, e.admin, uid, "acme", "bob-pw", false); err != nil {
				t.Fatal(err)
			}
			d, _ := e.tw.DumpRealm("acme")
			last := d.AdminEvents[len(d.AdminEvents)-1]
			if last.OperationType != "ACTION" || last.ResourcePath != "users/"+uid+"/reset-password" {
				t.Errorf("reset-password event %+v", last)
			}
			// Roles by id: update, composites, delete.
			e.clock.Advance(time.Millisecond)
			emp := "5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0004"
			e.expect("PUT", "/admin/realms/acme/roles-by-id/"+emp, e.admin, map[string]any{"description": "Staff"}, 204, "")
			e.expect("POST", "/admin/realms/acme/roles-by-id/"+emp+"/composites", e.admin, []map[string]any{{"id": "5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0001"}}, 204, "")
			var byID []map[string]any
			e.get("/admin/realms/acme/roles-by-id/"+emp+"/composites", e.poller, &byID)
			if len(byID) != 1 || byID[0]["name"] != "offline_access" {
				t.Errorf("composites by id %v", byID)
			}
			e.expect("DELETE", "/admin/realms/acme/roles-by-id/"+emp+"/composites", e.admin, []map[string]any{{"id": "5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0001"}}, 204, "")
			e.expect("DELETE", "/admin/realms/acme/roles-by-id/"+emp, e.admin, nil, 204, "")
			d, _ = e.tw.DumpRealm("acme")
			tail := paths(d.AdminEvents[len(d.AdminEvents)-4:])
			want := []string{"UPDATE REALM_ROLE roles-by-id/" + emp, "CREATE REALM_ROLE roles-by-id/" + emp + "/composites",
				"DELETE REALM_ROLE roles-by-id/" + emp + "/composites", "DELETE REALM_ROLE roles-by-id/" + emp}
			if fmt.Sprint(sortedCopy(tail)) != fmt.Sprint(sortedCopy(want)) {
				t.Errorf("roles-by-id events %v", tail)
			}
			e.expect("GET", "/admin/realms/acme/roles/employee", e.poller, nil, 404, `{"error":"Could not find role"}`)
			// Clearing stored events.
			e.expect("DELETE", "/admin/realms/acme/events", e.admin, nil, 204, "")
			e.expect("DELETE", "/admin/realms/acme/admin-events", e.admin, nil, 204, "")
			e.expect("GET", "/admin/realms/acme/admin-events", e.poller, nil, 200, "[]")
		})
	}
}
