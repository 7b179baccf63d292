package kctwin_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keycdc/keycdc/kctwin"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBadRequestsNeverPanic throws malformed parameters and bodies at every route and
// checks each answer is a 4xx (or the 500 Keycloak itself gives), never a crash.
func TestBadRequestsNeverPanic(t *testing.T) {
	logs := &lockedBuf{}
	e := newEnv(t, kctwin.Version26, loadAcme(t), kctwin.Logger(slog.New(slog.NewTextHandler(logs, nil))))
	const a = "/admin/realms/acme"
	uid := "a1000000-0000-4000-8000-000000000001"
	gid := "3a6f1c2e-0001-4c3b-9e8d-7f6a5b4c3d01"
	cid := "7e2d9b6c-0c4a-4f55-8b0e-2a9c1d3e4f51"
	rid := "5b1b0f7d-2f0c-4a8e-8d3c-0e6a3a1f0004"
	gets := []string{
		a + "/users?first=x", a + "/users?max=1e3", a + "/users?first=-5&max=-5", a + "/users?search=%22%22",
		a + "/users?search=*", a + "/users?search=id:", a + "/users?q=nocolon", a + "/users?username=&exact=maybe",
		a + "/users/count?search=id:nope", a + "/users/" + uid + "/groups?first=9999", a + "/users/" + uid + "/groups?max=z",
		a + "/users/" + uid + "/role-mappings/clients/nope", a + "/users/" + uid + "/role-mappings/clients/nope/composite",
		a + "/groups?first=-1&max=0", a + "/groups?search=", a + "/groups?q=a:b", a + "/groups/count?top=x",
		a + "/groups/" + gid + "/children?first=100&max=-1", a + "/groups/" + gid + "/members?max=q",
		a + "/group-by-path/", a + "/group-by-path/a/b/c", a + "/roles?first=1", a + "/roles?search=&first=x",
		a + "/roles/%2F", a + "/roles/manager/composites/clients/nope", a + "/roles-by-id/nope/composites",
		a + "/clients?first=5&max=1&search=true&clientId=", a + "/clients/nope/roles", a + "/clients/" + cid + "/roles/nope/users",
		a + "/events?first=-1&max=-1&dateFrom=&dateTo=", a + "/events?dateFrom=2026-02-30", a + "/events?dateTo=99999999999999999999",
		a + "/admin-events?operationTypes=", a + "/admin-events?resourcePath=***", a + "/admin-events?max=x",
		"/admin/realms/%00", "/admin/realms//users", "/realms/acme/protocol/openid-connect/token",
	}
	for _, p := range gets {
		st, b, _ := e.do("GET", p, e.admin, nil)
		if st >= 500 && !(strings.Contains(p, "operationTypes=") && st == 500) {
			t.Errorf("GET %s: %d %s", p, st, b)
		}
	}
	bodies := []any{"", "null", "[]", "{}", "{bad", `{"username":5}`, `[{"id":5}]`, `[null]`, `{"name":null}`}
	writes := []struct{ method, path string }{
		{"POST", a + "/users"}, {"PUT", a + "/users/" + uid}, {"PUT", a + "/users/" + uid + "/reset-password"},
		{"POST", a + "/users/" + uid + "/role-mappings/realm"}, {"DELETE", a + "/users/" + uid + "/role-mappings/realm"},
		{"POST", a + "/users/" + uid + "/role-mappings/clients/" + cid}, {"POST", a + "/groups"},
		{"POST", a + "/groups/" + gid + "/children"}, {"PUT", a + "/groups/" + gid}, {"POST", a + "/roles"},
		{"PUT", a + "/roles/employee"}, {"POST", a + "/roles/employee/composites"}, {"PUT", a + "/roles-by-id/" + rid},
		{"POST", a + "/roles-by-id/" + rid + "/composites"}, {"POST", a + "/clients"}, {"PUT", a + "/clients/" + cid},
		{"POST", a + "/clients/" + cid + "/roles"}, {"PUT", a + "/events/config"},
	}
	for _, w := range writes {
		for _, body := range bodies {
			st, b, _ := e.do(w.method, w.path, e.admin, body)
			// An empty or null body is Keycloak's own 500 (a null dereference).
			nullBody := body == "" || body == "null"
			if st >= 500 && !(nullBody && st == 500) {
				t.Errorf("%s %s %v: %d %s", w.method, w.path, body, st, b)
			}
		}
	}
	for _, f := range []string{"", "grant_type=", "grant_type=client_credentials&client_id=%zz", strings.Repeat("a=b&", 1000)} {
		st, b, _ := e.do("POST", "/realms/acme/protocol/openid-connect/token", "", f)
		if st >= 500 {
			t.Errorf("token %q: %d %s", f, st, b)
		}
	}
	if strings.Contains(logs.String(), "panic") {
		t.Fatalf("handler panicked:\n%s", logs.String())
	}
}
