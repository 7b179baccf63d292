package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// runCmd runs a keycdc command line in-process and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	e := env{stdout: &out, stderr: &errb, lookupEnv: noEnv}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = dispatch(ctx, e, args)
	return code, out.String(), errb.String()
}

func TestCheckPassesOnAHealthyStack(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 20, 61))
	code, out, errs := runCmd(t, "check", "--config", s.config())
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	for _, want := range []string{"keycloak reachable", "realm acme: token", "role view-users", "role view-realm",
		"role view-clients", "role view-events", "admin events", "kafka reachable", "kafka topics", "kafka transactions", "schema registry"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckNamesEachProblemWithAFix(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 20, 62))
	tw := s.twin
	sa, err := tw.UserID("acme", "service-account-keycdc")
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.RevokeRoles("acme", sa, kctwin.RoleRef{ClientID: "realm-management", Name: "view-clients"}); err != nil {
		t.Fatal(err)
	}
	if err := tw.SetEventsConfig("acme", kctwin.EventsConfig{EventsEnabled: true, AdminEventsEnabled: false}); err != nil {
		t.Fatal(err)
	}
	cfg := s.configWith(nil, "kafka:\n  brokers: ["+strings.Join(s.kafka.ListenAddrs(), ","), "kafka:\n  brokers: [127.0.0.1:1")
	code, out, _ := runCmd(t, "check", "--config", cfg)
	out = squeeze(out)
	if code == 0 {
		t.Fatalf("check passed with problems:\n%s", out)
	}
	for _, want := range []string{
		"FAIL realm acme: role view-clients", "assign realm-management view-clients",
		"FAIL realm acme: admin events", "leave admin_event out of sync.tables", "FAIL kafka reachable", "check kafka.brokers",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// Entity tables without admin_event: admin events are only hints, their absence a warning.
	_, out, _ = runCmd(t, "check", "--config", s.configWith(nil, "sync:\n", "sync:\n  tables: [user, group, group_member]\n"))
	if out = squeeze(out); !strings.Contains(out, "WARN realm acme: admin events") {
		t.Errorf("entity tables only: check output lacks the admin events warning:\n%s", out)
	}
	// Event tables only: no entity is read, so view-clients is not needed.
	_, out, _ = runCmd(t, "check", "--config", s.configWith(nil, "sync:\n", "sync:\n  tables: [event]\n"))
	if out = squeeze(out); strings.Contains(out, "view-clients") || strings.Contains(out, "admin events") || !strings.Contains(out, "OK realm acme: role view-events") {
		t.Errorf("event table only: check asks for entity roles or admin events:\n%s", out)
	}
	cfg = s.configWith(nil, "client_secret: s3cret-acme", "client_secret: wrong")
	if _, out, _ = runCmd(t, "check", "--config", cfg); !strings.Contains(squeeze(out), "FAIL realm acme: token") || strings.Contains(out, "wrong") {
		t.Errorf("wrong secret not reported (or the secret printed):\n%s", out)
	}
}

// Bad input to keycdc run gives one clear line naming what to fix, and a non-zero exit.
func TestRunBadInputGivesOneClearLine(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 10, 63))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config flag", []string{"run"}, 2, "--config is required"},
		{"missing file", []string{"run", "--config", "/nonexistent/keycdc.yaml"}, 1, "read config"},
		{"kafka unreachable", []string{"run", "--once", "--config", s.configWith(nil, "brokers: ["+strings.Join(s.kafka.ListenAddrs(), ","), "brokers: [127.0.0.1:1")},
			1, "cannot reach brokers 127.0.0.1:1"},
		{"wrong secret", []string{"run", "--once", "--config", s.configWith(nil, "client_secret: s3cret-acme", "client_secret: nope")},
			1, "check keycloak.client_id and keycloak.client_secret"},
		{"keycloak unreachable", []string{"run", "--once", "--config", s.configWith(nil, "url: "+s.kcSrv.URL, "url: http://127.0.0.1:1")},
			1, "check keycloak.url"},
		{"unknown key", []string{"run", "--config", s.configWith(nil, "page_size: 13", "page_sise: 13")}, 1, "did you mean keycloak.page_size?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCmd(t, c.args...)
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			last := lines[len(lines)-1]
			if code != c.code || !strings.Contains(last, c.want) {
				t.Fatalf("exit %d (want %d), last line %q, want it to contain %q\n%s", code, c.code, last, c.want, errs)
			}
			if strings.Contains(errs, "nope") || strings.Contains(errs, "s3cret") {
				t.Fatalf("a secret was printed:\n%s", errs)
			}
		})
	}
}

func TestStatusReportsCheckpointAndTopics(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 30, 64))
	cfg := s.config()
	code, out, _ := runCmd(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "no checkpoint") {
		t.Fatalf("status before any run: exit %d\n%s", code, out)
	}
	if logs, err := s.runOnce(cfg); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	code, out, errs := runCmd(t, "status", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"realm acme", "last commit", "last full scan start", "user events up to", "admin events up to",
		"written by instance", "keycloak.acme.user ", "keycloak.acme.admin_event"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

func TestSchemasPrintsAndRegisters(t *testing.T) {
	code, out, _ := runCmd(t, "schemas", "--table", "group_member")
	if code != 0 || !strings.Contains(out, `"name": "GroupMemberKey"`) && !strings.Contains(out, `"GroupMemberKey"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, _, errs := runCmd(t, "schemas", "--table", "nope"); code != 2 || !strings.Contains(errs, "unknown table nope") {
		t.Fatalf("unknown table: exit %d %s", code, errs)
	}
	s := newStack(t, "26.2", spec("acme", 5, 65))
	code, out, errs := runCmd(t, "schemas", "--register", "--config", s.config())
	if code != 0 || strings.Count(out, "registered") != 12 {
		t.Fatalf("register: exit %d\n%s%s", code, out, errs)
	}
}

// squeeze collapses runs of spaces, so that tests need not know tabwriter's padding.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}
