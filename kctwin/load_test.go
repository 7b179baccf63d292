package kctwin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

func TestGenerateDeterministic(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dump := func(seed string) []byte {
		tw, err := kctwin.New(kctwin.Clock(func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		defer tw.Close()
		spec, err := kctwin.ParseGenerateSpec("name=acme,users=300,groups=30,roles=10,clients=6,events=400,admin-events=80,seed=" + seed)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.Generate(spec); err != nil {
			t.Fatal(err)
		}
		b, err := tw.Dump("acme")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := dump("42"), dump("42"), dump("43")
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different realms")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same realm")
	}
}

func TestGenerateShapes(t *testing.T) {
	tw, err := kctwin.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	if err := tw.Generate(kctwin.GenerateSpec{Name: "acme", Users: 400, Groups: 40, Roles: 12, Clients: 8, Events: 500, AdminEvents: 50, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := tw.DumpRealm("acme")
	if err != nil {
		t.Fatal(err)
	}
	children, members, holders := map[string]int{}, map[string]int{}, map[string]int{}
	depth, multi, actions, clientRoles, sa := 0, 0, 0, 0, 0
	for _, g := range d.Groups {
		children[g.ParentID]++
		depth = max(depth, strings.Count(g.Path, "/"))
	}
	for _, u := range d.Users {
		for _, g := range u.Groups {
			members[g]++
		}
		for _, r := range u.RealmRoles {
			holders[r]++
		}
		for _, v := range u.Attributes {
			if len(v) > 1 {
				multi++
			}
		}
		if len(u.RequiredActions) > 0 {
			actions++
		}
		if len(u.ClientRoles) > 0 && u.ServiceAccountClientID == "" {
			clientRoles++
		}
		if u.ServiceAccountClientID != "" {
			sa++
		}
	}
	maxOf := func(m map[string]int, skip string) int {
		n := 0
		for k, v := range m {
			if k != skip {
				n = max(n, v)
			}
		}
		return n
	}
	composites := 0
	for _, r := range d.Roles {
		if r.Composite && !r.ClientRole && !strings.HasPrefix(r.Name, "default-roles") {
			composites++
		}
	}
	sameMs := 0
	for i := 1; i < len(d.Events); i++ {
		if d.Events[i].Time == d.Events[i-1].Time {
			sameMs++
		}
	}
	withRep := 0
	for _, e := range d.AdminEvents {
		if e.Representation != nil {
			withRep++
		}
	}
	for name, ok := range map[string]bool{
		"group with >10 children":        maxOf(children, "") > 10,
		"group with >100 direct members": maxOf(members, "") > 100,
		"role held by >100 users":        maxOf(holders, "default-roles-acme") > 100,
		"hierarchy 4+ levels deep":       depth >= 4,
		"multi-valued attributes":        multi > 0,
		"required actions":               actions > 0,
		"users with client roles":        clientRoles > 0,
		"service-account users":          sa >= 3,
		"composite realm roles":          composites > 0,
		"events in the same millisecond": sameMs > 5,
		"admin events with details":      withRep == len(d.AdminEvents) && len(d.AdminEvents) == 50,
		"all events":                     len(d.Events) == 500,
	} {
		if !ok {
			t.Errorf("generated realm lacks: %s", name)
		}
	}
}

func TestParseGenerateSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"users=-1":        "users",
		"users=x":         "users",
		"colour=blue":     "colour",
		"name=":           "name",
		"seed=abc":        "seed",
		"users":           "key=value",
		"users=1,users=2": "users given twice",
	} {
		_, err := kctwin.ParseGenerateSpec(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGenerateSpec(%q) = %v, want an error naming %q", spec, err, want)
		}
	}
	s, err := kctwin.ParseGenerateSpec("name=big,users=5,seed=9")
	if err != nil || s.Name != "big" || s.Users != 5 || s.Seed != 9 || s.Groups != kctwin.DefaultGenerateSpec().Groups {
		t.Fatalf("%+v %v", s, err)
	}
}

// TestDefaultGenerateSpecIsAValue: the defaults are handed out, not shared, so a caller
// changing its copy changes nobody else's.
func TestDefaultGenerateSpecIsAValue(t *testing.T) {
	want := kctwin.GenerateSpec{Name: "acme", Users: 100, Groups: 20, Roles: 10, Clients: 5, Events: 200, AdminEvents: 50, Seed: 1}
	mine := kctwin.DefaultGenerateSpec()
	if mine != want {
		t.Fatalf("defaults %+v, want %+v", mine, want)
	}
	mine.Users, mine.Name = 1, "mine"
	if got := kctwin.DefaultGenerateSpec(); got != want {
		t.Fatalf("after a caller changed its copy, defaults are %+v", got)
	}
	if got, err := kctwin.ParseGenerateSpec(""); err != nil || got != want {
		t.Fatalf("ParseGenerateSpec(\"\") = %+v, %v; want the defaults", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]struct{ json, want string }{
		"bad-group.json": {`{"realm":"r","groups":[{"name":"a"},{"name":"b"},{"name":"c","subGroups":[{"name":7}]}]}`,
			"bad-group.json: $.groups[2].subGroups[0].name: expected a string"},
		"syntax.json": {"{\n  \"realm\": \"r\",\n  \"users\": [ oops ]\n}", "syntax.json: line 3 column"},
		"role.json": {`{"realm":"r","users":[{"username":"x","realmRoles":["nope"]}]}`,
			`role.json: $.users[0].realmRoles[0]: unknown realm role "nope"`},
		"group-path.json": {`{"realm":"r","users":[{"username":"x","groups":["/missing"]}]}`,
			`group-path.json: $.users[0].groups[0]: unknown group path "/missing"`},
		"array.json":         {`[{"realm":"a"},{"realm":""}]`, "array.json: $[1].realm: missing realm name"},
		"client.json":        {`{"realm":"r","roles":{"client":{"ghost":[{"name":"x"}]}}}`, `client.json: $.roles.client.ghost: unknown client "ghost"`},
		"ghost-users-1.json": {`{"realm":"ghost","users":[]}`, `ghost-users-1.json: $.realm: realm "ghost" is not loaded`},
		"scalar.json":        {`42`, "scalar.json: $: expected"},
		"comp.json": {`{"realm":"r","roles":{"realm":[{"name":"a","composites":{"realm":["b"]}}]}}`,
			`comp.json: $.roles.realm[0].composites.realm[0]: unknown realm role "b"`},
	}
	for name, c := range cases {
		tw, err := kctwin.New()
		if err != nil {
			t.Fatal(err)
		}
		err = tw.Load(name, []byte(c.json))
		var le *kctwin.LoadError
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.As(err, &le) {
			t.Errorf("%s: got %v, want prefix %q", name, err, c.want)
		}
	}
	tw, _ := kctwin.New()
	if err := tw.LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadArrayExport(t *testing.T) {
	realm, err := os.ReadFile("testdata/acme-realm.json")
	if err != nil {
		t.Fatal(err)
	}
	arr := "[" + `{"realm":"other","users":[{"username":"zed","enabled":true}]},` + string(realm) + "]"
	tw, err := kctwin.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Load("all.json", []byte(arr)); err != nil {
		t.Fatal(err)
	}
	if got := tw.Realms(); strings.Join(got, ",") != "acme,master,other" {
		t.Fatalf("realms %v", got)
	}
	d, _ := tw.DumpRealm("other")
	found := false
	for _, u := range d.Users {
		found = found || u.Username == "zed"
	}
	if !found {
		t.Fatal("zed not loaded")
	}
}

// exportFile is the part of a Keycloak realm export the import tests compare against.
type exportFile struct {
	Roles struct {
		Realm  []exportRole            `json:"realm"`
		Client map[string][]exportRole `json:"client"`
	} `json:"roles"`
	DefaultRole exportRole `json:"defaultRole"`
	Clients     []struct {
		ClientID string `json:"clientId"`
		Secret   string `json:"secret"`
	} `json:"clients"`
	Users []struct {
		Username               string              `json:"username"`
		ServiceAccountClientID string              `json:"serviceAccountClientId"`
		RealmRoles             []string            `json:"realmRoles"`
		ClientRoles            map[string][]string `json:"clientRoles"`
	} `json:"users"`
}

type exportRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TestLoadKeycloak26Export loads a realm file shaped like "kc.sh export" output of
// Keycloak 26: every built-in client and role declared with its own id, users holding
// default-roles-<realm>, and service-account users holding realm-management roles.
func TestLoadKeycloak26Export(t *testing.T) {
	const path = "testdata/globex-realm.json"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file exportFile
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, kctwin.Version26, func(tw *kctwin.Twin) {
		if err := tw.LoadFile(path); err != nil {
			t.Fatal(err)
		}
	})
	d, err := e.tw.DumpRealm("globex")
	if err != nil {
		t.Fatal(err)
	}

	// Every mapping in the file arrived, the built-in ones included.
	users := map[string]kctwin.DumpUser{}
	for _, u := range d.Users {
		users[u.Username] = u
	}
	for _, fu := range file.Users {
		u, ok := users[fu.Username]
		if !ok {
			t.Errorf("user %s not loaded", fu.Username)
			continue
		}
		if u.ServiceAccountClientID != fu.ServiceAccountClientID {
			t.Errorf("%s: service account of %q, file says %q", fu.Username, u.ServiceAccountClientID, fu.ServiceAccountClientID)
		}
		if !equalStrings(sortedCopy(u.RealmRoles), sortedCopy(fu.RealmRoles)) {
			t.Errorf("%s: realm roles %v, file has %v", fu.Username, u.RealmRoles, fu.RealmRoles)
		}
		for cid, names := range fu.ClientRoles {
			if !equalStrings(sortedCopy(u.ClientRoles[cid]), sortedCopy(names)) {
				t.Errorf("%s: %s roles %v, file has %v", fu.Username, cid, u.ClientRoles[cid], names)
			}
		}
	}

	// Declared built-ins were merged, not duplicated: each role once, with the file's id,
	// and composites listed once.
	byID := map[string]kctwin.DumpRole{}
	count := map[string]int{}
	for _, r := range d.Roles {
		byID[r.ID] = r
		count[r.ClientID+"/"+r.Name]++
	}
	check := func(clientID string, fr exportRole) {
		r, ok := byID[fr.ID]
		if !ok || r.Name != fr.Name || r.ClientID != clientID {
			t.Errorf("role %s/%s: id %s not kept (got %+v)", clientID, fr.Name, fr.ID, r)
		}
	}
	for _, fr := range file.Roles.Realm {
		check("", fr)
	}
	for cid, roles := range file.Roles.Client {
		for _, fr := range roles {
			check(cid, fr)
		}
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("role %s exists %d times", k, n)
		}
	}
	if n := len(file.Roles.Client["realm-management"]); n != 19 || count["realm-management/view-events"] != 1 {
		t.Errorf("realm-management roles in the file: %d", n)
	}
	for _, r := range d.Roles {
		seen := map[string]bool{}
		for _, c := range r.Composites {
			if seen[c] {
				t.Errorf("role %s/%s lists composite %s twice", r.ClientID, r.Name, byID[c].Name)
			}
			seen[c] = true
		}
		if r.ID == file.DefaultRole.ID && len(r.Composites) != 4 {
			t.Errorf("default role has %d composites, the file gives 4", len(r.Composites))
		}
	}

	// The file's keycdc client is the poller, with the file's secret, and its service
	// account's roles let it read the realm.
	creds, err := e.tw.PollerCredentials("globex")
	if err != nil {
		t.Fatal(err)
	}
	var secret string
	for _, c := range file.Clients {
		if c.ClientID == "keycdc" {
			secret = c.Secret
		}
	}
	if creds.ClientID != "keycdc" || creds.ClientSecret != secret {
		t.Fatalf("poller credentials %+v, want keycdc with the file's secret", creds)
	}
	jwt, err := e.gc.LoginClient(e.ctx, creds.ClientID, creds.ClientSecret, "globex")
	if err != nil {
		t.Fatal(err)
	}
	var listed []struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	e.get("/admin/realms/globex/users", jwt.AccessToken, &listed)
	if got := names(listed, func(u struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}) string {
		return u.Username
	}); strings.Join(got, ",") != "dana,eli,fay" {
		t.Fatalf("listed users %v", got)
	}
	var mapped []struct {
		Name string `json:"name"`
	}
	e.get("/admin/realms/globex/users/"+listed[0].ID+"/role-mappings/realm", jwt.AccessToken, &mapped)
	var mappedNames []string
	for _, r := range mapped {
		mappedNames = append(mappedNames, r.Name)
	}
	if strings.Join(sortedCopy(mappedNames), ",") != "controller,default-roles-globex" {
		t.Fatalf("dana's realm role mappings %v", mappedNames)
	}
}

// TestLoadResolvesBuiltinReferences: users, groups and roles may refer to the built-in
// clients and roles of a realm without declaring them, as Keycloak creates those before it
// imports the rest; a file declaring some of them gets the others added.
func TestLoadResolvesBuiltinReferences(t *testing.T) {
	cases := map[string]struct {
		json string
		user string   // a user to check
		want []string // among its direct mappings ("role" or "client/role")
	}{
		"undeclared": {`{"realm":"r","users":[{"username":"x","realmRoles":["default-roles-r","offline_access"],
			"clientRoles":{"realm-management":["view-users"],"account":["view-profile"]}}]}`,
			"x", []string{"default-roles-r", "offline_access", "realm-management/view-users", "account/view-profile"}},
		"partly declared realm-management": {`{"realm":"r",
			"clients":[{"clientId":"realm-management","bearerOnly":true}],
			"roles":{"client":{"realm-management":[{"name":"view-users","composites":{"client":{"realm-management":["query-users"]}}},{"name":"query-users"}]}},
			"users":[{"username":"x","clientRoles":{"realm-management":["view-users","view-events"]}}]}`,
			"x", []string{"realm-management/view-users", "realm-management/view-events"}},
		"built-in client roles without the client": {`{"realm":"r",
			"roles":{"client":{"account":[{"name":"view-profile"},{"name":"extra"}]}},
			"users":[{"username":"x","clientRoles":{"account":["extra","manage-account"]}}]}`,
			"x", []string{"account/extra", "account/manage-account"}},
		"composite of a built-in": {`{"realm":"r",
			"roles":{"realm":[{"name":"auditor","composites":{"client":{"realm-management":["view-events"]},"realm":["offline_access"]}}]},
			"groups":[{"name":"ops","clientRoles":{"realm-management":["view-realm"]}}],
			"users":[{"username":"x","realmRoles":["auditor"],"groups":["/ops"]}]}`,
			"x", []string{"auditor"}},
		"default role named but not declared": {`{"realm":"r","defaultRole":{"id":"d-1","name":"default-roles-r"},
			"users":[{"username":"x","realmRoles":["default-roles-r"]}]}`,
			"x", []string{"default-roles-r"}},
		"service account of a file client": {`{"realm":"r",
			"clients":[{"clientId":"svc","secret":"s3cret","serviceAccountsEnabled":true}],
			"users":[{"username":"service-account-svc","serviceAccountClientId":"svc","realmRoles":["default-roles-r"],
				"clientRoles":{"realm-management":["view-users","query-groups"]}}]}`,
			"service-account-svc", []string{"default-roles-r", "realm-management/view-users", "realm-management/query-groups"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tw, err := kctwin.New()
			if err != nil {
				t.Fatal(err)
			}
			defer tw.Close()
			if err := tw.Load(name+".json", []byte(c.json)); err != nil {
				t.Fatal(err)
			}
			d, err := tw.DumpRealm("r")
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, u := range d.Users {
				if u.Username != c.user {
					continue
				}
				for _, r := range u.RealmRoles {
					have[r] = true
				}
				for cid, rs := range u.ClientRoles {
					for _, r := range rs {
						have[cid+"/"+r] = true
					}
				}
			}
			for _, w := range c.want {
				if !have[w] {
					t.Errorf("%s lacks %s (has %v)", c.user, w, have)
				}
			}
			// Whatever the file declared, the realm ends with every built-in exactly once.
			count := map[string]int{}
			for _, r := range d.Roles {
				count[r.ClientID+"/"+r.Name]++
				if len(sortedCopy(r.Composites)) != len(slices.Compact(sortedCopy(r.Composites))) {
					t.Errorf("role %s/%s lists a composite twice: %v", r.ClientID, r.Name, r.Composites)
				}
				if r.Name == "default-roles-r" && len(r.Composites) != 4 {
					t.Errorf("default role has %d composites, want Keycloak's 4", len(r.Composites))
				}
			}
			for _, k := range []string{"/default-roles-r", "/offline_access", "/uma_authorization", "realm-management/view-users",
				"realm-management/view-events", "realm-management/realm-admin", "account/manage-account", "broker/read-token"} {
				if count[k] != 1 {
					t.Errorf("role %s exists %d times", k, count[k])
				}
			}
		})
	}

	// References to roles that are neither declared nor built in are still refused, and a
	// role declared twice in the file is still a duplicate.
	for name, c := range map[string]struct{ json, want string }{
		"ghost.json": {`{"realm":"r","users":[{"username":"x","clientRoles":{"realm-management":["view-everything"]}}]}`,
			`ghost.json: $.users[0].clientRoles.realm-management[0]: unknown role "view-everything" of client "realm-management"`},
		"twice.json": {`{"realm":"r","roles":{"client":{"realm-management":[{"name":"view-users"},{"name":"view-users"}]}}}`,
			`twice.json: $.roles.client.realm-management[1].name: duplicate role "view-users"`},
	} {
		tw, err := kctwin.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.Load(name, []byte(c.json)); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", name, err, c.want)
		}
	}
}
