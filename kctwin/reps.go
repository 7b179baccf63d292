package kctwin

import (
	"encoding/json"
	"sort"
)

// JSON shapes of Keycloak representations other than users. Field order and omission
// follow the server's Jackson output (NON_NULL): absent values are left out, empty
// collections the server initialises are kept.

type groupRep struct {
	ID            string              `json:"id"`
	Name          string              `json:"name"`
	Path          string              `json:"path"`
	ParentID      string              `json:"parentId,omitempty"`
	SubGroupCount *int                `json:"subGroupCount,omitempty"`
	SubGroups     []groupRep          `json:"subGroups"`
	Attributes    map[string][]string `json:"attributes,omitempty"`
	RealmRoles    []string            `json:"realmRoles,omitempty"`
	ClientRoles   map[string][]string `json:"clientRoles,omitempty"`
	Access        map[string]bool     `json:"access,omitempty"`
}

// groupToRep renders g; GroupRepresentation.description exists only from 26.3 on, so the
// emulated versions never show it.
func groupToRep(g *group, full bool) groupRep {
	n := len(g.children)
	rep := groupRep{ID: g.id, Name: g.name, Path: g.path(), SubGroupCount: &n, SubGroups: []groupRep{}}
	if g.parent != nil {
		rep.ParentID = g.parent.id
	}
	if full {
		rep.Attributes = map[string][]string{}
		for _, a := range g.attrs {
			rep.Attributes[a.key] = a.values
		}
		rep.RealmRoles = []string{}
		rep.ClientRoles = map[string][]string{}
		for _, r := range g.roles {
			if r.client == nil {
				rep.RealmRoles = append(rep.RealmRoles, r.name)
			} else {
				rep.ClientRoles[r.client.clientID] = append(rep.ClientRoles[r.client.clientID], r.name)
			}
		}
	}
	return rep
}

// fullGroupJSON keeps empty realmRoles/attributes/clientRoles, which omitempty would drop.
func marshalGroups(reps []groupRep, full bool) []byte {
	if !full {
		b, _ := json.Marshal(reps)
		return b
	}
	out := make([]json.RawMessage, len(reps))
	for i, g := range reps {
		out[i] = marshalGroup(g, true)
	}
	b, _ := json.Marshal(out)
	return b
}

func marshalGroup(g groupRep, full bool) json.RawMessage {
	type fullRep struct {
		ID            string              `json:"id"`
		Name          string              `json:"name"`
		Path          string              `json:"path"`
		ParentID      string              `json:"parentId,omitempty"`
		SubGroupCount *int                `json:"subGroupCount,omitempty"`
		SubGroups     json.RawMessage     `json:"subGroups"`
		Attributes    map[string][]string `json:"attributes"`
		RealmRoles    []string            `json:"realmRoles"`
		ClientRoles   map[string][]string `json:"clientRoles"`
		Access        map[string]bool     `json:"access,omitempty"`
	}
	if !full {
		b, _ := json.Marshal(g)
		return b
	}
	subs := marshalGroups(g.SubGroups, true)
	b, _ := json.Marshal(fullRep{ID: g.ID, Name: g.Name, Path: g.Path, ParentID: g.ParentID, SubGroupCount: g.SubGroupCount,
		SubGroups: subs, Attributes: g.Attributes, RealmRoles: g.RealmRoles, ClientRoles: g.ClientRoles, Access: g.Access})
	return b
}

type roleRep struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	Composite   bool                `json:"composite"`
	ClientRole  bool                `json:"clientRole"`
	ContainerID string              `json:"containerId"`
	Attributes  map[string][]string `json:"attributes,omitempty"`
}

func roleToRep(rm *realm, r *role, full bool) roleRep {
	rep := roleRep{ID: r.id, Name: r.name, Description: r.description, Composite: len(r.composites) > 0,
		ClientRole: r.client != nil, ContainerID: r.containerID(rm)}
	if full {
		rep.Attributes = attrsToMap(r.attrs)
		if rep.Attributes == nil {
			rep.Attributes = map[string][]string{}
		}
	}
	return rep
}

func rolesJSON(rm *realm, roles []*role, full bool) []byte {
	reps := make([]roleRep, len(roles))
	for i, r := range roles {
		reps[i] = roleToRep(rm, r, full)
	}
	if full {
		// keep an empty attributes object, as Keycloak does for full role reps
		out := make([]json.RawMessage, len(reps))
		for i := range reps {
			out[i] = roleJSON(reps[i])
		}
		b, _ := json.Marshal(out)
		return b
	}
	b, _ := json.Marshal(reps)
	return b
}

func roleJSON(rep roleRep) json.RawMessage {
	if rep.Attributes == nil {
		b, _ := json.Marshal(rep)
		return b
	}
	type full struct {
		ID          string              `json:"id"`
		Name        string              `json:"name"`
		Description string              `json:"description,omitempty"`
		Composite   bool                `json:"composite"`
		ClientRole  bool                `json:"clientRole"`
		ContainerID string              `json:"containerId"`
		Attributes  map[string][]string `json:"attributes"`
	}
	b, _ := json.Marshal(full(rep))
	return b
}

// sortRoles orders roles by container (realm first, then clientId) and name, which is how
// the twin lists role sets Keycloak returns in no defined order.
func sortRoles(roles []*role) []*role {
	sort.Slice(roles, func(i, j int) bool {
		a, b := roles[i], roles[j]
		ac, bc := "", ""
		if a.client != nil {
			ac = "\x01" + a.client.clientID
		}
		if b.client != nil {
			bc = "\x01" + b.client.clientID
		}
		if ac != bc {
			return ac < bc
		}
		return a.name < b.name
	})
	return roles
}

type clientRep struct {
	ID                        string            `json:"id"`
	ClientID                  string            `json:"clientId"`
	Name                      string            `json:"name,omitempty"`
	Description               string            `json:"description,omitempty"`
	RootURL                   string            `json:"rootUrl,omitempty"`
	BaseURL                   string            `json:"baseUrl,omitempty"`
	SurrogateAuthRequired     bool              `json:"surrogateAuthRequired"`
	Enabled                   bool              `json:"enabled"`
	AlwaysDisplayInConsole    bool              `json:"alwaysDisplayInConsole"`
	ClientAuthenticatorType   string            `json:"clientAuthenticatorType"`
	Secret                    string            `json:"secret,omitempty"`
	RedirectURIs              []string          `json:"redirectUris"`
	WebOrigins                []string          `json:"webOrigins"`
	NotBefore                 int               `json:"notBefore"`
	BearerOnly                bool              `json:"bearerOnly"`
	ConsentRequired           bool              `json:"consentRequired"`
	StandardFlowEnabled       bool              `json:"standardFlowEnabled"`
	ImplicitFlowEnabled       bool              `json:"implicitFlowEnabled"`
	DirectAccessGrantsEnabled bool              `json:"directAccessGrantsEnabled"`
	ServiceAccountsEnabled    bool              `json:"serviceAccountsEnabled"`
	PublicClient              bool              `json:"publicClient"`
	FrontchannelLogout        bool              `json:"frontchannelLogout"`
	Protocol                  string            `json:"protocol"`
	Attributes                map[string]string `json:"attributes"`
	FullScopeAllowed          bool              `json:"fullScopeAllowed"`
	NodeReRegistrationTimeout int               `json:"nodeReRegistrationTimeout"`
	DefaultClientScopes       []string          `json:"defaultClientScopes"`
	OptionalClientScopes      []string          `json:"optionalClientScopes"`
	Access                    map[string]bool   `json:"access,omitempty"`
}

// clientToRep renders c; the secret of a confidential client is included in plaintext, as
// ModelToRepresentation.toRepresentation(ClientModel, ...) does.
func clientToRep(c *client, p *perms) clientRep {
	rep := clientRep{ID: c.id, ClientID: c.clientID, Name: c.name, Description: c.description, RootURL: c.rootURL,
		BaseURL: c.baseURL, Enabled: c.enabled, ClientAuthenticatorType: "client-secret",
		RedirectURIs: nonNil(c.redirectURIs), WebOrigins: nonNil(c.webOrigins), BearerOnly: c.bearerOnly,
		StandardFlowEnabled: c.standardFlow, DirectAccessGrantsEnabled: c.directAccess,
		ServiceAccountsEnabled: c.serviceAccounts, PublicClient: c.public, FrontchannelLogout: true,
		Protocol: orDefault(c.protocol, "openid-connect"), Attributes: map[string]string{}, FullScopeAllowed: true,
		NodeReRegistrationTimeout: -1,
		DefaultClientScopes:       []string{"web-origins", "acr", "profile", "roles", "basic", "email"},
		OptionalClientScopes:      []string{"address", "phone", "offline_access", "microprofile-jwt"}}
	if c.confidential() {
		rep.Secret = c.secret
	}
	for k, v := range c.attributes {
		rep.Attributes[k] = v
	}
	if p != nil {
		m := p.has(roleManageClients)
		rep.Access = map[string]bool{"view": true, "configure": m, "manage": m}
	}
	return rep
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type mappingsRep struct {
	RealmMappings  []roleRep                    `json:"realmMappings,omitempty"`
	ClientMappings map[string]clientMappingsRep `json:"clientMappings,omitempty"`
}

type clientMappingsRep struct {
	ID       string    `json:"id"`
	Client   string    `json:"client"`
	Mappings []roleRep `json:"mappings"`
}

type realmRep struct {
	ID                        string            `json:"id"`
	Realm                     string            `json:"realm"`
	DisplayName               string            `json:"displayName,omitempty"`
	NotBefore                 int               `json:"notBefore"`
	AccessTokenLifespan       int               `json:"accessTokenLifespan"`
	Enabled                   bool              `json:"enabled"`
	EventsEnabled             *bool             `json:"eventsEnabled,omitempty"`
	EventsExpiration          int64             `json:"eventsExpiration,omitempty"`
	EventsListeners           []string          `json:"eventsListeners,omitempty"`
	EnabledEventTypes         []string          `json:"enabledEventTypes,omitempty"`
	AdminEventsEnabled        *bool             `json:"adminEventsEnabled,omitempty"`
	AdminEventsDetailsEnabled *bool             `json:"adminEventsDetailsEnabled,omitempty"`
	DefaultRole               *roleRep          `json:"defaultRole,omitempty"`
	Attributes                map[string]string `json:"attributes,omitempty"`
}

func (t *Twin) realmToRep(rm *realm, full bool) realmRep {
	rep := realmRep{ID: rm.id, Realm: rm.name, DisplayName: rm.displayName, Enabled: rm.enabled,
		AccessTokenLifespan: int(t.tokenLifespan().Seconds())}
	if !full {
		return rep
	}
	ev, aev, aed := rm.eventsEnabled, rm.adminEventsEnabled, rm.adminEventsDetailsEnabled
	rep.EventsEnabled, rep.AdminEventsEnabled, rep.AdminEventsDetailsEnabled = &ev, &aev, &aed
	rep.EventsExpiration = rm.eventsExpiration
	rep.EventsListeners = nonNil(rm.eventsListeners)
	rep.EnabledEventTypes = nonNil(rm.enabledEventTypes)
	if rm.defaultRole != nil {
		d := roleToRep(rm, rm.defaultRole, false)
		rep.DefaultRole = &d
	}
	rep.Attributes = map[string]string{}
	for k, v := range rm.attributes {
		rep.Attributes[k] = v
	}
	return rep
}
