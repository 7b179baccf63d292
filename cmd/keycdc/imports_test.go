package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The import directions of docs/adr/0001 and STYLE.md, enforced: each package may import
// only the keycdc packages listed for it (prefix match), and kctwin only the standard
// library, so that the twin can never share a misreading of Keycloak with the client it
// checks.
var allowedImports = map[string][]string{
	"kctwin":             {},
	"schemas":            {},
	"poller/keycloak":    {},
	"internal/committed": {},
	"internal/leakcheck": {},
	"topics":             {"schemas", "internal/committed"},
	"checkpoint":         {"internal/committed"},
	"poller/snapshot":    {"poller/keycloak", "schemas"},
	"poller/events":      {"poller/keycloak", "schemas"},
	"poller":             {"poller/", "schemas", "topics", "checkpoint"},
	"sinks":              {"schemas", "topics"},
	"sinks/":             {"sinks", "schemas", "topics"},
	"internal/expected":  {"kctwin", "schemas"},
	"internal/pgtest":    {"schemas"},
	"cmd/keycdc":         {""}, // anything
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "github.com/keycdc/keycdc/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/keycdc/keycdc/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		rules, ok := allowedImports[name]
		if !ok {
			for pattern, r := range allowedImports {
				if strings.HasSuffix(pattern, "/") && strings.HasPrefix(name, pattern) {
					rules, ok = r, true
				}
			}
		}
		if !ok {
			t.Errorf("package %s has no import rule: add it to allowedImports", name)
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if name == "kctwin" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				t.Errorf("kctwin imports %s: it must use the standard library only", imp)
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if dep == "cmd/keycdc" || (strings.HasPrefix(dep, "internal/expected") && name != "cmd/keycdc") {
				t.Errorf("%s imports %s", name, dep)
				continue
			}
			allowed := false
			for _, r := range rules {
				if strings.HasPrefix(dep, r) {
					allowed = true
				}
			}
			if !allowed {
				t.Errorf("%s imports %s, which its rules (%v) do not allow", name, dep, rules)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages", checked)
	}
}
