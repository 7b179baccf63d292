package kctwin

import (
	"encoding/json"
	"slices"
	"strings"
)

// Dump format: the twin's ground truth for tests. It is the twin's own JSON (not a Keycloak
// representation) holding a realm's complete state; optional values Keycloak would leave
// out are absent rather than empty strings.
//
//	{"realm": name, "id": realm id,
//	 "users": [{"id","username","email"?,"firstName"?,"lastName"?,"enabled","emailVerified",
//	            "createdTimestamp","serviceAccountClientId"? (OAuth clientId),"federationLink"?,
//	            "attributes"? {k:[v..]}, "requiredActions":[..], "realmRoles":[direct names],
//	            "clientRoles"? {clientId:[direct names]}, "groups":[direct group ids]}]  (by username)
//	 "groups": [{"id","name","path","parentId"?,"description"?}]  (all levels, by path)
//	 "roles": [{"id","name","description"?,"composite","clientRole","containerId",
//	            "clientId"? (client roles),"composites":[ids of directly contained roles]}]
//	            (realm roles by name, then client roles by clientId and name)
//	 "clients": [{"id","clientId","name"?,"description"?,"enabled","publicClient","protocol",
//	              "baseUrl"?,"rootUrl"?,"bearerOnly","serviceAccountsEnabled"}]  (by clientId)
//	 "events": [Event, with id, by time then id], "adminEvents": [AdminEvent, same order]}

// DumpUser is a user in a Dump.
type DumpUser struct {
	ID                     string              `json:"id"`
	Username               string              `json:"username"`
	Email                  string              `json:"email,omitempty"`
	FirstName              string              `json:"firstName,omitempty"`
	LastName               string              `json:"lastName,omitempty"`
	Enabled                bool                `json:"enabled"`
	EmailVerified          bool                `json:"emailVerified"`
	CreatedTimestamp       int64               `json:"createdTimestamp"`
	ServiceAccountClientID string              `json:"serviceAccountClientId,omitempty"`
	FederationLink         string              `json:"federationLink,omitempty"`
	Attributes             map[string][]string `json:"attributes,omitempty"`
	RequiredActions        []string            `json:"requiredActions"`
	RealmRoles             []string            `json:"realmRoles"`
	ClientRoles            map[string][]string `json:"clientRoles,omitempty"`
	Groups                 []string            `json:"groups"`
}

// DumpGroup is a group in a Dump.
type DumpGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	ParentID    string `json:"parentId,omitempty"`
	Description string `json:"description,omitempty"`
}

// DumpRole is a role in a Dump.
type DumpRole struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Composite   bool     `json:"composite"`
	ClientRole  bool     `json:"clientRole"`
	ContainerID string   `json:"containerId"`
	ClientID    string   `json:"clientId,omitempty"`
	Composites  []string `json:"composites"`
}

// DumpClient is a client in a Dump.
type DumpClient struct {
	ID                     string `json:"id"`
	ClientID               string `json:"clientId"`
	Name                   string `json:"name,omitempty"`
	Description            string `json:"description,omitempty"`
	Enabled                bool   `json:"enabled"`
	PublicClient           bool   `json:"publicClient"`
	Protocol               string `json:"protocol"`
	BaseURL                string `json:"baseUrl,omitempty"`
	RootURL                string `json:"rootUrl,omitempty"`
	BearerOnly             bool   `json:"bearerOnly"`
	ServiceAccountsEnabled bool   `json:"serviceAccountsEnabled"`
}

// RealmDump is the decoded form of Dump's output.
type RealmDump struct {
	Realm       string       `json:"realm"`
	ID          string       `json:"id"`
	Users       []DumpUser   `json:"users"`
	Groups      []DumpGroup  `json:"groups"`
	Roles       []DumpRole   `json:"roles"`
	Clients     []DumpClient `json:"clients"`
	Events      []Event      `json:"events"`
	AdminEvents []AdminEvent `json:"adminEvents"`
}

// Dump returns the realm's complete state in the dump format above.
func (t *Twin) Dump(realmName string) ([]byte, error) {
	d, err := t.DumpRealm(realmName)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d)
}

// DumpRealm returns the realm's complete state as a RealmDump.
func (t *Twin) DumpRealm(realmName string) (RealmDump, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return RealmDump{}, err
	}
	d := RealmDump{Realm: rm.name, ID: rm.id, Users: make([]DumpUser, 0, len(rm.byName)), Groups: []DumpGroup{},
		Roles: []DumpRole{}, Clients: []DumpClient{}, Events: make([]Event, 0, len(rm.events)),
		AdminEvents: make([]AdminEvent, 0, len(rm.adminEvents))}
	for _, u := range rm.byName {
		du := DumpUser{ID: u.id, Username: u.username, Email: u.email, FirstName: u.firstName, LastName: u.lastName,
			Enabled: u.enabled, EmailVerified: u.emailVerified, CreatedTimestamp: u.created,
			FederationLink: u.federationLink, Attributes: attrsToMap(u.attrs),
			RequiredActions: append([]string{}, u.requiredActions...), RealmRoles: []string{}, Groups: []string{}}
		if u.saClient != nil {
			du.ServiceAccountClientID = u.saClient.clientID
		}
		for _, r := range sortRoles(slices.Clone(u.roles)) {
			if r.client == nil {
				du.RealmRoles = append(du.RealmRoles, r.name)
				continue
			}
			if du.ClientRoles == nil {
				du.ClientRoles = map[string][]string{}
			}
			du.ClientRoles[r.client.clientID] = append(du.ClientRoles[r.client.clientID], r.name)
		}
		for _, g := range u.groups {
			du.Groups = append(du.Groups, g.id)
		}
		slices.Sort(du.Groups)
		d.Users = append(d.Users, du)
	}
	var walk func(gs []*group)
	walk = func(gs []*group) {
		for _, g := range gs {
			dg := DumpGroup{ID: g.id, Name: g.name, Path: g.path(), Description: g.description}
			if g.parent != nil {
				dg.ParentID = g.parent.id
			}
			d.Groups = append(d.Groups, dg)
			walk(g.children)
		}
	}
	walk(rm.top)
	slices.SortFunc(d.Groups, func(a, b DumpGroup) int { return strings.Compare(a.Path, b.Path) })
	roles := make([]*role, 0, len(rm.roles))
	for _, r := range rm.roles {
		roles = append(roles, r)
	}
	for _, r := range sortRoles(roles) {
		dr := DumpRole{ID: r.id, Name: r.name, Description: r.description, Composite: len(r.composites) > 0,
			ClientRole: r.client != nil, ContainerID: r.containerID(rm), Composites: []string{}}
		if r.client != nil {
			dr.ClientID = r.client.clientID
		}
		for _, c := range r.composites {
			dr.Composites = append(dr.Composites, c.id)
		}
		slices.Sort(dr.Composites)
		d.Roles = append(d.Roles, dr)
	}
	for _, c := range rm.clientLst {
		d.Clients = append(d.Clients, DumpClient{ID: c.id, ClientID: c.clientID, Name: c.name, Description: c.description,
			Enabled: c.enabled, PublicClient: c.public, Protocol: orDefault(c.protocol, "openid-connect"),
			BaseURL: c.baseURL, RootURL: c.rootURL, BearerOnly: c.bearerOnly, ServiceAccountsEnabled: c.serviceAccounts})
	}
	for _, e := range rm.events {
		d.Events = append(d.Events, eventToPublic(e))
	}
	for _, e := range rm.adminEvents {
		d.AdminEvents = append(d.AdminEvents, adminEventToPublic(e))
	}
	return d, nil
}

// Credentials are what a client needs to call the twin's Admin API for one realm.
type Credentials struct {
	Realm        string `json:"realm"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// TokenPath is relative to the twin's base URL.
	TokenPath string `json:"tokenPath"`
}

// PollerCredentials returns the confidential client of realm that holds view-users,
// view-events, view-realm and view-clients.
func (t *Twin) PollerCredentials(realmName string) (Credentials, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return Credentials{}, err
	}
	if rm.poller == nil {
		return Credentials{}, errorf("realm %q: poller client: %w", realmName, ErrNotFound)
	}
	return Credentials{Realm: rm.name, ClientID: rm.poller.clientID, ClientSecret: rm.poller.secret,
		TokenPath: "/realms/" + rm.name + "/protocol/openid-connect/token"}, nil
}

// SetPollerSecret sets the secret of realm's poller client.
func (t *Twin) SetPollerSecret(realmName, secret string) error {
	if secret == "" {
		return errorf("poller secret: empty")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return err
	}
	if rm.poller == nil {
		return errorf("realm %q: poller client: %w", realmName, ErrNotFound)
	}
	rm.poller.secret = secret
	return nil
}
