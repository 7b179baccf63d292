package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv() (env, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	return env{stdout: out, stderr: errb, lookupEnv: noEnv}, out, errb
}

func TestTwinServesUntilCancelled(t *testing.T) {
	e, out, errb := testEnv()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmdTwin(ctx, e, []string{"--listen", "127.0.0.1:0", "--generate", "name=acme,users=30,groups=3,roles=2,clients=2,events=5,admin-events=5,seed=4",
			"--keycloak-version", "25.0", "--client-secret", "s3cret", "--admin-user", "root", "--admin-password", "pw",
			"--activity", "events=5,changes=1,realm=acme"})
	}()
	hc := &http.Client{Timeout: 5 * time.Second}
	var base string
	deadline := time.Now().Add(10 * time.Second)
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for base == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("twin exited early: %v; stderr %s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start-up line; stdout %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The credentials follow the start-up line.
	for !strings.Contains(out.String(), "realm acme: url "+base+" realm acme client-id keycdc client-secret s3cret") {
		if time.Now().After(deadline) {
			t.Fatalf("credentials not printed: %s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := hc.PostForm(base+"/realms/acme/protocol/openid-connect/token",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"keycdc"}, "client_secret": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/admin/realms/acme/users/count", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "30" {
		t.Fatalf("count: %d %s", resp.StatusCode, body)
	}
	// The admin user from the flags works in master.
	resp, err = hc.PostForm(base+"/realms/master/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"root"}, "password": {"pw"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin login: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("twin returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("twin did not stop after cancel")
	}
	if _, err := hc.Get(base + "/_twin/stats"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestTwinBadFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken-realm.json")
	os.WriteFile(bad, []byte(`{"realm":"r","groups":[{"name":"a","subGroups":[{"name":1}]}]}`), 0o644)
	for _, c := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"--fault-rate", "2"}, "--fault-rate", true},
		{[]string{"--keycloak-version", "24.0"}, "--keycloak-version", true},
		{[]string{"--generate", "users=many"}, "--generate", true},
		{[]string{"--activity", "events=x"}, "--activity", true},
		{[]string{"--token-lifespan", "10ms"}, "--token-lifespan", true},
		{[]string{"--max-concurrent", "-1"}, "--max-concurrent", true},
		{[]string{"--latency", "soon"}, "-latency", true},
		{[]string{"--client-secret", ""}, "--client-secret", true},
		{[]string{"stray"}, "unexpected argument", true},
		{[]string{"--listen", "127.0.0.1:0", "--realm-file", bad}, "broken-realm.json: $.groups[0].subGroups[0].name", false},
	} {
		e, _, _ := testEnv()
		err := cmdTwin(context.Background(), e, c.args)
		var u *usageError
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, &u) != c.usage {
			t.Errorf("%v: got %v, want an error naming %q (usage=%v)", c.args, err, c.want, c.usage)
		}
	}
}

func TestTwinRegistered(t *testing.T) {
	if _, ok := commands()["twin"]; !ok {
		t.Fatal("twin is not a command")
	}
}
