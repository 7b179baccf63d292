package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/keycdc/keycdc/kctwin"
)

// deploy/keycloak/acme-realm.json

type realmClient struct {
	ClientID               string `json:"clientId"`
	Secret                 string `json:"secret"`
	PublicClient           bool   `json:"publicClient"`
	BearerOnly             bool   `json:"bearerOnly"`
	ServiceAccountsEnabled bool   `json:"serviceAccountsEnabled"`
	Enabled                *bool  `json:"enabled"`
}

type realmGroup struct {
	Name      string       `json:"name"`
	Path      string       `json:"path"`
	SubGroups []realmGroup `json:"subGroups"`
}

type realmFile struct {
	Realm                     string `json:"realm"`
	Enabled                   bool   `json:"enabled"`
	EventsEnabled             bool   `json:"eventsEnabled"`
	EventsExpiration          int64  `json:"eventsExpiration"`
	AdminEventsEnabled        bool   `json:"adminEventsEnabled"`
	AdminEventsDetailsEnabled bool   `json:"adminEventsDetailsEnabled"`
	Roles                     struct {
		Realm []struct {
			Name      string `json:"name"`
			Composite bool   `json:"composite"`
		} `json:"realm"`
	} `json:"roles"`
	Groups  []realmGroup  `json:"groups"`
	Clients []realmClient `json:"clients"`
	Users   []struct {
		Username               string              `json:"username"`
		ServiceAccountClientID string              `json:"serviceAccountClientId"`
		RealmRoles             []string            `json:"realmRoles"`
		ClientRoles            map[string][]string `json:"clientRoles"`
	} `json:"users"`
}

func (r *realmFile) client(id string) *realmClient {
	for i := range r.Clients {
		if r.Clients[i].ClientID == id {
			return &r.Clients[i]
		}
	}
	return nil
}

func readRealm(t *testing.T, path string) *realmFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r realmFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &r
}

func TestDeployRealmFile(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "deploy", "keycloak", "acme-realm.json")
	r := readRealm(t, path)
	if r.Realm+"-realm.json" != filepath.Base(path) {
		t.Errorf("realm %q is in %s; Keycloak imports <realm>-realm.json", r.Realm, filepath.Base(path))
	}
	if !r.Enabled || !r.EventsEnabled || r.EventsExpiration <= 0 || !r.AdminEventsEnabled || !r.AdminEventsDetailsEnabled {
		t.Errorf("realm must be enabled with events (and an expiration) and admin events with details: %+v", r)
	}

	c := r.client("keycdc")
	switch {
	case c == nil:
		t.Fatal("no keycdc client")
	case c.PublicClient || c.BearerOnly || !c.ServiceAccountsEnabled || c.Secret == "" || (c.Enabled != nil && !*c.Enabled):
		t.Errorf("keycdc client must be an enabled confidential client with service accounts: %+v", c)
	}
	var sa bool
	for _, u := range r.Users {
		if u.ServiceAccountClientID != "keycdc" {
			continue
		}
		sa = true
		if u.Username != "service-account-keycdc" {
			t.Errorf("service-account user is %q, Keycloak names it service-account-keycdc", u.Username)
		}
		for _, role := range []string{"view-users", "view-realm", "view-clients", "view-events"} {
			if !slices.Contains(u.ClientRoles["realm-management"], role) {
				t.Errorf("service account lacks realm-management role %s", role)
			}
		}
	}
	if !sa {
		t.Error("no user with serviceAccountClientId keycdc: the client's roles are not granted")
	}
	var humans, composites, nested int
	for _, u := range r.Users {
		if u.ServiceAccountClientID == "" {
			humans++
		}
		// An import grants only the roles listed; Keycloak's own exports list the default
		// role on every user, service accounts included.
		if !slices.Contains(u.RealmRoles, "default-roles-"+r.Realm) {
			t.Errorf("user %s lacks default-roles-%s", u.Username, r.Realm)
		}
	}
	for _, role := range r.Roles.Realm {
		if role.Composite {
			composites++
		}
	}
	for _, g := range r.Groups {
		nested += len(g.SubGroups)
	}
	others := 0
	for _, cl := range r.Clients {
		if cl.ClientID != "keycdc" && cl.ClientID != "realm-management" {
			others++
		}
	}
	if humans < 3 || composites < 1 || nested < 1 || others < 1 {
		t.Errorf("demo realm wants a few users (%d), a composite role (%d), nested groups (%d) and a second client (%d)",
			humans, composites, nested, others)
	}

	// The twin resolves every reference (roles, groups, clients) the way an import does;
	// then keycdc's grant and first Admin API call must work with the client's secret.
	tw, err := kctwin.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	if err := tw.LoadFile(path); err != nil {
		t.Fatalf("the Keycloak twin does not load the realm file: %v", err)
	}
	srv := httptest.NewServer(tw)
	defer srv.Close()
	tok := grantToken(t, srv, r.Realm, c.ClientID, c.Secret)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/admin/realms/"+r.Realm+"/users?max=100", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var users []struct {
		Username string `json:"username"`
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET users: %s %s", resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(&users); err != nil {
		t.Fatal(err)
	}
	if len(users) != humans {
		t.Errorf("GET users listed %d users, the file has %d (service accounts are not listed)", len(users), humans)
	}
}

func grantToken(t *testing.T, srv *httptest.Server, realm, clientID, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	resp, err := srv.Client().PostForm(srv.URL+"/realms/"+realm+"/protocol/openid-connect/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("client_credentials grant for %s: %s %s", clientID, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token response: %v %+v", err, out)
	}
	return out.AccessToken
}
