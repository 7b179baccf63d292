package kctwin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// readOnlyTables are the package-level variables kctwin may have: sentinel errors and
// lookup tables filled at compile time and only ever read. Anything else at package level
// would be state shared by every Twin in a process.
var readOnlyTables = map[string]string{
	"ErrNotFound": "sentinel error", "ErrConflict": "sentinel error", "ErrInvalid": "sentinel error",
	"mgmtRoleBits": "built-in roles", "mgmtRoles": "built-in roles", "accountRoles": "built-in roles",
	"pollerRoles":    "built-in roles",
	"savedByDefault": "Keycloak enum", "notSavedByDefault": "Keycloak enum", "knownEventTypes": "Keycloak enum",
	"defaultSaved": "Keycloak enum", "knownOperationTypes": "Keycloak enum", "knownResourceTypes": "Keycloak enum",
	"faultBodies": "fixed response bodies",
	"firstNames":  "generator words", "lastNames": "generator words", "departments": "generator words",
	"teamWords": "generator words", "skills": "generator words", "roleNames": "generator words",
	"clientRole":    "generator words",
	"usersFileName": "compiled regexp",
}

// TestNoPackageState: kctwin keeps all its state in the Twin. The package declares no
// variables but the read-only tables above, no init functions, and no code assigns to,
// appends to, deletes from, clears or sorts a table. (A table handed to a function that
// changes it is beyond this check; so is a local variable shadowing a table's name, which
// this check reports: rename it.)
func TestNoPackageState(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, s := range d.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if _, ok := readOnlyTables[id.Name]; !ok && id.Name != "_" {
							t.Errorf("%s: package-level variable %s: keep state in the Twin", fset.Position(id.Pos()), id.Name)
						}
						found = append(found, id.Name)
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					t.Errorf("%s: init function", fset.Position(d.Pos()))
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var targets []ast.Expr
			switch n := n.(type) {
			case *ast.AssignStmt:
				if n.Tok != token.DEFINE {
					targets = n.Lhs
				}
			case *ast.IncDecStmt:
				targets = []ast.Expr{n.X}
			case *ast.CallExpr:
				if mutatingCall(n.Fun) && len(n.Args) > 0 {
					targets = n.Args[:1]
				}
			}
			for _, x := range targets {
				if id := rootIdent(x); id != nil && readOnlyTables[id.Name] != "" {
					t.Errorf("%s: %s (%s) is written", fset.Position(x.Pos()), id.Name, readOnlyTables[id.Name])
				}
			}
			return true
		})
	}
	// Keep the allow-list honest: a table that no longer exists leaves the list.
	sort.Strings(found)
	for name := range readOnlyTables {
		if i := sort.SearchStrings(found, name); i == len(found) || found[i] != name {
			t.Errorf("readOnlyTables lists %s, which kctwin no longer declares", name)
		}
	}
}

// mutatingCall reports whether fun changes its first argument in place.
func mutatingCall(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name == "delete" || f.Name == "clear"
	case *ast.SelectorExpr:
		pkg, ok := f.X.(*ast.Ident)
		if !ok {
			return false
		}
		switch pkg.Name {
		case "slices":
			return strings.HasPrefix(f.Sel.Name, "Sort") || f.Sel.Name == "Reverse"
		case "sort":
			return true
		}
	}
	return false
}

// rootIdent is the variable an expression such as a[i].f or *p ends up naming.
func rootIdent(x ast.Expr) *ast.Ident {
	for {
		switch e := x.(type) {
		case *ast.Ident:
			return e
		case *ast.IndexExpr:
			x = e.X
		case *ast.SelectorExpr:
			x = e.X
		case *ast.StarExpr:
			x = e.X
		case *ast.ParenExpr:
			x = e.X
		case *ast.SliceExpr:
			x = e.X
		default:
			return nil
		}
	}
}
