package kctwin_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
	if err != nil || s.Name != "big" || s.Users != 5 || s.Seed != 9 || s.Groups != kctwin.DefaultGenerateSpec.Groups {
		t.Fatalf("%+v %v", s, err)
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
