package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/schemas"
)

var update = flag.Bool("update", false, "rewrite the generated sections of README.md")

// tableReference renders README's table of tables, from the schemas.
func tableReference() string {
	var b strings.Builder
	b.WriteString("| table | key | value columns |\n|---|---|---|\n")
	for _, t := range schemas.Tables() {
		var cols []string
		for _, c := range t.Columns() {
			s := c.Name
			if c.Optional {
				s += "?"
			}
			switch c.Type {
			case schemas.TypeBoolean:
				s += " (bool)"
			case schemas.TypeLong:
				s += " (long)"
			case schemas.TypeTimestamp:
				s += " (time)"
			case schemas.TypeStringMap:
				s += " (map)"
			}
			cols = append(cols, s)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", t.Name(), strings.Join(t.KeyColumns(), ", "), strings.Join(cols, ", "))
	}
	return b.String()
}

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section replaces or checks the text between <!-- name:begin ... --> and <!-- name:end -->.
func section(t *testing.T, doc, name, want string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)(<!-- ` + name + `:begin[^>]*-->\n)(.*?)(<!-- ` + name + `:end -->)`)
	m := re.FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("README.md has no %s section", name)
	}
	if *update {
		return re.ReplaceAllLiteralString(doc, m[1]+want+m[3])
	}
	if m[2] != want {
		t.Errorf("README.md's %s section is out of date: run go test ./cmd/keycdc -run TestREADME -update", name)
	}
	return doc
}

// README's generated references match the code, and what it names exists.
func TestREADME(t *testing.T) {
	doc := readme(t)
	doc = section(t, doc, "tables", tableReference())
	doc = section(t, doc, "config", configReference())
	if *update {
		if err := os.WriteFile(filepath.Join("..", "..", "README.md"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Every `keycdc <command>` README names exists.
	cmds := commands()
	for _, m := range regexp.MustCompile("`keycdc ([a-z-]+)").FindAllStringSubmatch(doc, -1) {
		if _, ok := cmds[m[1]]; !ok {
			t.Errorf("README names the command keycdc %s, which does not exist", m[1])
		}
	}
	// Every configuration key README names (`section.key`) exists.
	keys := map[string]bool{}
	for _, l := range (&config{}).leaves() {
		keys[l.path] = true
	}
	sections := map[string]bool{"keycloak": true, "kafka": true, "schema_registry": true, "sync": true, "postgres": true,
		"sink": true, "metrics": true, "log": true}
	for _, m := range regexp.MustCompile("`([a-z_]+)\\.([a-z_.]+)`").FindAllStringSubmatch(doc, -1) {
		if sections[m[1]] && !keys[m[1]+"."+m[2]] && !strings.HasSuffix(m[2], "*") {
			t.Errorf("README names the configuration key %s.%s, which does not exist", m[1], m[2])
		}
	}
	// Every message in the troubleshooting table is one keycdc can print: each literal
	// fragment between the "…" placeholders appears in the code.
	src := sourceText(t)
	tbl := doc[strings.Index(doc, "## Troubleshooting"):]
	tbl = tbl[:strings.Index(tbl, "\n## ")]
	rows := 0
	for _, line := range strings.Split(tbl, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		rows++
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(strings.SplitN(line, "|", 3)[1], -1) {
			for _, frag := range regexp.MustCompile(`…|\bN\b|\bM\b|<key>|"…"`).Split(m[1], -1) {
				frag = strings.Trim(frag, " ()")
				if strings.HasPrefix(frag, "keycdc dev`") || len(frag) < 6 {
					continue
				}
				if !strings.Contains(src, frag) {
					t.Errorf("troubleshooting names %q, which keycdc never prints", frag)
				}
			}
		}
	}
	if rows < 15 {
		t.Errorf("only %d troubleshooting rows found", rows)
	}
}

// sourceText is every non-test Go file of the module, with string literals' escaped
// quotes unescaped, for searching messages.
func sourceText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	root := filepath.Join("..", "..")
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() && (info.Name() == ".git" || info.Name() == "testdata") {
			if info != nil && info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			data, _ := os.ReadFile(p)
			b.WriteString(strings.ReplaceAll(string(data), `\"`, `"`))
		}
		return nil
	})
	return b.String()
}
