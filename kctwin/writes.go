package kctwin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Admin API writes. Each decodes Keycloak's representation, checks the realm-management
// role the endpoint needs, and runs the shared mutation (mutate.go), which records the
// admin event.

func (t *Twin) writeRoutes(r func(method, path string, mode lockMode, h func(rc *rctx) resp)) {
	const a = "/admin/realms/{realm}"
	w := func(method, path string, h func(rc *rctx) resp) { r(method, a+path, lockWrite, h) }
	w("POST", "/users", (*rctx).postUser)
	w("PUT", "/users/{id}", (*rctx).putUser)
	w("DELETE", "/users/{id}", (*rctx).deleteUser)
	w("PUT", "/users/{id}/reset-password", (*rctx).resetPassword)
	w("PUT", "/users/{id}/groups/{group}", func(rc *rctx) resp { return rc.membership(true) })
	w("DELETE", "/users/{id}/groups/{group}", func(rc *rctx) resp { return rc.membership(false) })
	w("POST", "/users/{id}/role-mappings/realm", func(rc *rctx) resp { return rc.roleMapping(false, true) })
	w("DELETE", "/users/{id}/role-mappings/realm", func(rc *rctx) resp { return rc.roleMapping(false, false) })
	w("POST", "/users/{id}/role-mappings/clients/{client}", func(rc *rctx) resp { return rc.roleMapping(true, true) })
	w("DELETE", "/users/{id}/role-mappings/clients/{client}", func(rc *rctx) resp { return rc.roleMapping(true, false) })
	w("POST", "/groups", func(rc *rctx) resp { return rc.postGroup(false) })
	w("POST", "/groups/{id}/children", func(rc *rctx) resp { return rc.postGroup(true) })
	w("PUT", "/groups/{id}", (*rctx).putGroup)
	w("DELETE", "/groups/{id}", (*rctx).deleteGroup)
	w("POST", "/roles", func(rc *rctx) resp { return rc.postRole(false) })
	w("PUT", "/roles/{name}", func(rc *rctx) resp { return rc.putRole(realmRoleNamed) })
	w("DELETE", "/roles/{name}", func(rc *rctx) resp { return rc.deleteRole(realmRoleNamed) })
	w("POST", "/roles/{name}/composites", func(rc *rctx) resp { return rc.roleComposites(realmRoleNamed, true) })
	w("DELETE", "/roles/{name}/composites", func(rc *rctx) resp { return rc.roleComposites(realmRoleNamed, false) })
	w("PUT", "/roles-by-id/{id}", func(rc *rctx) resp { return rc.putRole(roleWithID) })
	w("DELETE", "/roles-by-id/{id}", func(rc *rctx) resp { return rc.deleteRole(roleWithID) })
	w("POST", "/roles-by-id/{id}/composites", func(rc *rctx) resp { return rc.roleComposites(roleWithID, true) })
	w("DELETE", "/roles-by-id/{id}/composites", func(rc *rctx) resp { return rc.roleComposites(roleWithID, false) })
	w("POST", "/clients", (*rctx).postClient)
	w("PUT", "/clients/{id}", (*rctx).putClient)
	w("DELETE", "/clients/{id}", (*rctx).deleteClient)
	w("POST", "/clients/{id}/roles", func(rc *rctx) resp { return rc.postRole(true) })
	w("PUT", "/clients/{id}/roles/{name}", func(rc *rctx) resp { return rc.putRole(clientRoleNamed) })
	w("DELETE", "/clients/{id}/roles/{name}", func(rc *rctx) resp { return rc.deleteRole(clientRoleNamed) })
	w("POST", "/clients/{id}/roles/{name}/composites", func(rc *rctx) resp { return rc.roleComposites(clientRoleNamed, true) })
	w("DELETE", "/clients/{id}/roles/{name}/composites", func(rc *rctx) resp { return rc.roleComposites(clientRoleNamed, false) })
	w("PUT", "/events/config", (*rctx).putEventsConfig)
	w("DELETE", "/events", func(rc *rctx) resp { return rc.clearEvents(false) })
	w("DELETE", "/admin-events", func(rc *rctx) resp { return rc.clearEvents(true) })
}

func (rc *rctx) actor() actor { return sessionActor(rc.sess, remoteIP(rc.r)) }

// Most writes act on one entity the path names, resolved together with the caller's right
// to change it by a target function (managedUser, managedGroup, managedClient,
// managedRole): which of the 404 and the 403 comes first differs by resource, so each
// target keeps its own order. put and del are the shape the PUTs and DELETEs share:
// resolve, decode the body (put), change, 204 No Content.

// put resolves the entity, decodes the body into a B and applies it.
func put[T, B any](rc *rctx, target func() (T, resp, bool), apply func(T, *B) error) resp {
	x, r, ok := target()
	if !ok {
		return r
	}
	var b B
	if r, ok := rc.decode(&b); !ok {
		return r
	}
	return noContentOr(apply(x, &b))
}

// del resolves the entity and removes it.
func del[T any](target func() (T, resp, bool), remove func(T) error) resp {
	x, r, ok := target()
	if !ok {
		return r
	}
	return noContentOr(remove(x))
}

// noContentOr is 204 No Content, or the response for a failed mutation.
func noContentOr(err error) resp {
	if err != nil {
		return toResp(err)
	}
	return noContent()
}

// managedUser resolves the {id} of a user write: manage-users first, then userByPath's
// 404 or 403.
func (rc *rctx) managedUser() (*user, resp, bool) {
	if r, ok := rc.need(roleManageUsers); !ok {
		return nil, r, false
	}
	return rc.userByPath()
}

// managedGroup resolves the {id} of a group write: manage-users first, then groupByPath.
func (rc *rctx) managedGroup() (*group, resp, bool) {
	if r, ok := rc.need(roleManageUsers); !ok {
		return nil, r, false
	}
	return rc.groupByPath()
}

// managedClient resolves the {id} of a client write: manage-clients first, then
// clientByPath.
func (rc *rctx) managedClient() (*client, resp, bool) {
	if r, ok := rc.need(roleManageClients); !ok {
		return nil, r, false
	}
	return rc.clientByPath()
}

// decode reads a JSON body with the failures Keycloak shows: an empty or null body is an
// unhandled exception (500), a syntax error "invalid_request" and a value of the wrong
// type "unknown_error", both 400 "Cannot parse the JSON"; endpoints taking a role array
// answer every malformed body "unknown_error".
func (rc *rctx) decode(v any) (resp, bool) {
	return rc.decodeBody(v, false, "")
}

func (rc *rctx) decodeArray(v any) (resp, bool) {
	return rc.decodeBody(v, true, "")
}

// decodeStrict also refuses unknown fields, naming the representation as Jackson does.
func (rc *rctx) decodeStrict(v any, repName string) (resp, bool) {
	return rc.decodeBody(v, false, repName)
}

func (rc *rctx) decodeBody(v any, array bool, strictRep string) (resp, bool) {
	data, err := io.ReadAll(io.LimitReader(rc.r.Body, 16<<20))
	if err != nil {
		return jsonResp(400, errBody{Error: "invalid_request", Description: "Cannot parse the JSON"}), false
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return serverError(), false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strictRep != "" {
		dec.DisallowUnknownFields()
	}
	err = dec.Decode(v)
	if err == nil {
		return resp{}, true
	}
	var syn *json.SyntaxError
	switch {
	case strictRep != "" && strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		line, col := lineCol(trimmed, dec.InputOffset())
		return badRequest(fmt.Sprintf("Invalid json representation for %s. Unrecognized field %s at line %d column %d.",
			strictRep, field, line, col)), false
	case !array && (errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF)):
		return jsonResp(400, errBody{Error: "invalid_request", Description: "Cannot parse the JSON"}), false
	default:
		return jsonResp(400, errBody{Error: "unknown_error", Description: "Cannot parse the JSON"}), false
	}
}

// lineCol locates the byte before off, where Jackson reports the end of the offending
// token.
func lineCol(data []byte, off int64) (int, int) {
	line, col := 1, 0
	for _, c := range data[:min(int(off), len(data))] {
		if c == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	return line, col
}

type userBody struct {
	ID              *string              `json:"id"`
	Username        *string              `json:"username"`
	Email           *string              `json:"email"`
	FirstName       *string              `json:"firstName"`
	LastName        *string              `json:"lastName"`
	Enabled         *bool                `json:"enabled"`
	EmailVerified   *bool                `json:"emailVerified"`
	Attributes      *map[string][]string `json:"attributes"`
	RequiredActions *[]string            `json:"requiredActions"`
	Groups          []string             `json:"groups"`
	Credentials     []credentialBody     `json:"credentials"`
}

type credentialBody struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Temporary bool   `json:"temporary"`
}

func (b *userBody) applyTo(in *UserInput) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Username, b.Username)
	set(&in.Email, b.Email)
	set(&in.FirstName, b.FirstName)
	set(&in.LastName, b.LastName)
	if b.Enabled != nil {
		in.Enabled = *b.Enabled
	}
	if b.EmailVerified != nil {
		in.EmailVerified = *b.EmailVerified
	}
	if b.Attributes != nil {
		in.Attributes = *b.Attributes
	}
	if b.RequiredActions != nil {
		in.RequiredActions = *b.RequiredActions
	}
	for _, c := range b.Credentials {
		if c.Type == "password" && c.Value != "" {
			in.Password = c.Value
		}
	}
}

// POST /users
func (rc *rctx) postUser() resp {
	if r, ok := rc.need(roleManageUsers); !ok {
		return r
	}
	var b userBody
	if r, ok := rc.decode(&b); !ok {
		return r
	}
	var in UserInput
	b.applyTo(&in)
	u, err := rc.t.createUserL(rc.realm, rc.actor(), in, b.Groups)
	if err != nil {
		return toResp(err)
	}
	return created("/admin/realms/" + rc.realm.name + "/users/" + u.id)
}

// PUT /users/{id}: fields present in the body change, the others stay.
func (rc *rctx) putUser() resp {
	return put(rc, rc.managedUser, func(u *user, b *userBody) error {
		in := inputOf(u)
		b.applyTo(&in)
		return rc.t.applyUserL(rc.realm, rc.actor(), u, in)
	})
}

// DELETE /users/{id}
func (rc *rctx) deleteUser() resp {
	return del(rc.managedUser, func(u *user) error {
		rc.t.deleteUserL(rc.realm, rc.actor(), u)
		return nil
	})
}

// PUT /users/{id}/reset-password: an ACTION on users/{id}/reset-password.
func (rc *rctx) resetPassword() resp {
	u, r, ok := rc.managedUser()
	if !ok {
		return r
	}
	var c credentialBody
	if r, ok := rc.decode(&c); !ok {
		return r
	}
	if c.Value == "" {
		return badRequest("Empty password")
	}
	u.password = c.Value
	rc.t.adminEventLocked(rc.realm, rc.actor(), "ACTION", "USER", "users/"+u.id+"/reset-password", nil)
	return noContent()
}

// PUT|DELETE /users/{id}/groups/{group}
func (rc *rctx) membership(join bool) resp {
	u, r, ok := rc.managedUser()
	if !ok {
		return r
	}
	g := rc.realm.groups[rc.r.PathValue("group")]
	if g == nil {
		return notFound("Group not found")
	}
	if join {
		rc.t.joinGroupL(rc.realm, rc.actor(), u, g)
	} else {
		rc.t.leaveGroupL(rc.realm, rc.actor(), u, g)
	}
	return noContent()
}

type roleBody struct {
	ID          *string              `json:"id"`
	Name        *string              `json:"name"`
	Description *string              `json:"description"`
	Attributes  *map[string][]string `json:"attributes"`
}

// resolveRoles finds the roles of a mapping or composite body the way Keycloak does:
// realm roles by id, client roles by name with a matching id (RoleMapperResource,
// ClientRoleMappingsResource); a mismatch is 404 "Role not found".
func (rc *rctx) resolveRoles(bodies []roleBody, c *client) ([]*role, resp, bool) {
	var out []*role
	for _, b := range bodies {
		var r *role
		switch {
		case c != nil && b.Name != nil:
			r = c.roles[*b.Name]
			if r != nil && b.ID != nil && *b.ID != r.id {
				r = nil
			}
		case b.ID != nil:
			r = rc.realm.roles[*b.ID]
		case b.Name != nil:
			r = rc.realm.realmRole[*b.Name]
		}
		if r == nil || (c != nil && r.client != c) || (c == nil && r.client != nil && b.ID == nil) {
			return nil, notFound("Role not found"), false
		}
		out = append(out, r)
	}
	return out, resp{}, true
}

// POST|DELETE /users/{id}/role-mappings/realm and .../clients/{client}
func (rc *rctx) roleMapping(clientScoped, add bool) resp {
	u, r, ok := rc.managedUser()
	if !ok {
		return r
	}
	var c *client
	if clientScoped {
		if c = rc.realm.clients[rc.r.PathValue("client")]; c == nil {
			return notFound("Client not found")
		}
	}
	var bodies []roleBody
	if r, ok := rc.decodeArray(&bodies); !ok {
		return r
	}
	roles, r, ok := rc.resolveRoles(bodies, c)
	if !ok {
		return r
	}
	if !clientScoped {
		for _, x := range roles {
			if x.client != nil {
				return notFound("Role not found")
			}
		}
	}
	rc.t.mapRolesL(rc.realm, rc.actor(), u, roles, add)
	return noContent()
}

type groupBody struct {
	ID          *string              `json:"id"`
	Name        *string              `json:"name"`
	Description *string              `json:"description"`
	Attributes  *map[string][]string `json:"attributes"`
}

// POST /groups and /groups/{id}/children
func (rc *rctx) postGroup(child bool) resp {
	if r, ok := rc.need(roleManageUsers); !ok {
		return r
	}
	var parent *group
	if child {
		p, r, ok := rc.groupByPath()
		if !ok {
			return r
		}
		parent = p
	}
	var b groupBody
	if r, ok := rc.decode(&b); !ok {
		return r
	}
	if b.ID != nil {
		// An id names an existing group to move here (GroupsResource.addTopLevelGroup,
		// GroupResource.addChild): 204, and an UPDATE admin event.
		g := rc.realm.groups[*b.ID]
		if g == nil {
			return notFound("Could not find child by id")
		}
		if strings.TrimSpace(deref(b.Name)) == "" {
			return badRequest("Group name is missing")
		}
		if err := rc.t.moveGroupL(rc.realm, rc.actor(), g, parent); err != nil {
			return toResp(err)
		}
		return noContent()
	}
	g, err := rc.t.createGroupL(rc.realm, rc.actor(), parent, deref(b.ID), deref(b.Name), deref(b.Description), deref(b.Attributes))
	if err != nil {
		return toResp(err)
	}
	if child {
		// The child's representation is the response body (GroupResource.addChild).
		rep := groupToRep(g, false)
		rep.SubGroupCount = nil // the create response omits it
		out := jsonResp(201, rep)
		out.location = "/admin/realms/" + rc.realm.name + "/groups/" + g.id
		return out
	}
	return created("/admin/realms/" + rc.realm.name + "/groups/" + g.id)
}

// deref is *p, or the zero value for a field the body left out.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// PUT /groups/{id}
func (rc *rctx) putGroup() resp {
	return put(rc, rc.managedGroup, func(g *group, b *groupBody) error {
		return rc.t.updateGroupL(rc.realm, rc.actor(), g, b.Name, b.Description, deref(b.Attributes), b.Attributes != nil)
	})
}

// DELETE /groups/{id}
func (rc *rctx) deleteGroup() resp {
	return del(rc.managedGroup, func(g *group) error {
		rc.t.deleteGroupL(rc.realm, rc.actor(), g)
		return nil
	})
}

func (rc *rctx) needRoleManage(clientScoped bool) (resp, bool) {
	if clientScoped {
		return rc.need(roleManageClients)
	}
	return rc.need(roleManageRealm)
}

// POST /roles and /clients/{id}/roles
func (rc *rctx) postRole(clientScoped bool) resp {
	if r, ok := rc.needRoleManage(clientScoped); !ok {
		return r
	}
	var c *client
	if clientScoped {
		x, r, ok := rc.clientByPath()
		if !ok {
			return r
		}
		c = x
	}
	var b roleBody
	if r, ok := rc.decode(&b); !ok {
		return r
	}
	x, err := rc.t.createRoleL(rc.realm, rc.actor(), c, deref(b.ID), deref(b.Name), deref(b.Description), deref(b.Attributes))
	if err != nil {
		return toResp(err)
	}
	if c != nil {
		return created("/admin/realms/" + rc.realm.name + "/clients/" + c.id + "/roles/" + x.name)
	}
	return created("/admin/realms/" + rc.realm.name + "/roles/" + x.name)
}

// roleAt is how a role write's path names its role.
type roleAt int

const (
	realmRoleNamed  roleAt = iota // /roles/{name}
	clientRoleNamed               // /clients/{id}/roles/{name}
	roleWithID                    // /roles-by-id/{id}
)

// roleTarget is the role a write changes and the resource path its admin event records.
type roleTarget struct {
	role *role
	path string
}

// managedRole resolves a role write's role. By name, the container's manage role comes
// first and the event path is the container's; by id, the role's 404 precedes the manage
// role of its own container, and the event path is roles-by-id/{id}.
func (rc *rctx) managedRole(at roleAt) (roleTarget, resp, bool) {
	if at == roleWithID {
		x, r, ok := rc.roleByID()
		if !ok {
			return roleTarget{}, r, false
		}
		if r, ok := rc.needRoleManage(x.client != nil); !ok {
			return roleTarget{}, r, false
		}
		return roleTarget{x, "roles-by-id/" + x.id}, resp{}, true
	}
	clientScoped := at == clientRoleNamed
	if r, ok := rc.needRoleManage(clientScoped); !ok {
		return roleTarget{}, r, false
	}
	x, r, ok := rc.roleByName(clientScoped)
	if !ok {
		return roleTarget{}, r, false
	}
	return roleTarget{x, roleContainerPath(x)}, resp{}, true
}

// PUT /roles/{name}, /clients/{id}/roles/{name} and /roles-by-id/{id}
func (rc *rctx) putRole(at roleAt) resp {
	target := func() (roleTarget, resp, bool) { return rc.managedRole(at) }
	return put(rc, target, func(x roleTarget, b *roleBody) error {
		// A role PUT replaces: an omitted description or attribute map is cleared
		// (unlike the merging user and client PUTs).
		desc := deref(b.Description)
		return rc.t.updateRoleL(rc.realm, rc.actor(), x.role, x.path, b.Name, &desc, deref(b.Attributes), true)
	})
}

// DELETE /roles/{name}, /clients/{id}/roles/{name} and /roles-by-id/{id}
func (rc *rctx) deleteRole(at roleAt) resp {
	target := func() (roleTarget, resp, bool) { return rc.managedRole(at) }
	return del(target, func(x roleTarget) error {
		return rc.t.deleteRoleL(rc.realm, rc.actor(), x.role, x.path)
	})
}

// POST|DELETE /roles/{name}/composites, /clients/{id}/roles/{name}/composites and
// /roles-by-id/{id}/composites
func (rc *rctx) roleComposites(at roleAt, add bool) resp {
	x, r, ok := rc.managedRole(at)
	if !ok {
		return r
	}
	var bodies []roleBody
	if r, ok := rc.decodeArray(&bodies); !ok {
		return r
	}
	var children []*role
	for _, b := range bodies {
		var c *role
		if b.ID != nil {
			c = rc.realm.roles[*b.ID]
		}
		if c == nil {
			return notFound("Could not find composite role")
		}
		children = append(children, c)
	}
	rc.t.compositesL(rc.realm, rc.actor(), x.role, x.path, children, add)
	return noContent()
}

type clientBody struct {
	ID                        *string            `json:"id"`
	ClientID                  *string            `json:"clientId"`
	Name                      *string            `json:"name"`
	Description               *string            `json:"description"`
	Enabled                   *bool              `json:"enabled"`
	PublicClient              *bool              `json:"publicClient"`
	BearerOnly                *bool              `json:"bearerOnly"`
	ServiceAccountsEnabled    *bool              `json:"serviceAccountsEnabled"`
	StandardFlowEnabled       *bool              `json:"standardFlowEnabled"`
	DirectAccessGrantsEnabled *bool              `json:"directAccessGrantsEnabled"`
	Protocol                  *string            `json:"protocol"`
	RootURL                   *string            `json:"rootUrl"`
	BaseURL                   *string            `json:"baseUrl"`
	Secret                    *string            `json:"secret"`
	RedirectURIs              *[]string          `json:"redirectUris"`
	WebOrigins                *[]string          `json:"webOrigins"`
	Attributes                *map[string]string `json:"attributes"`
}

func (b *clientBody) applyTo(in *ClientInput) {
	for _, f := range []struct {
		dst *string
		src *string
	}{{&in.ClientID, b.ClientID}, {&in.Name, b.Name}, {&in.Description, b.Description}, {&in.Protocol, b.Protocol},
		{&in.RootURL, b.RootURL}, {&in.BaseURL, b.BaseURL}, {&in.Secret, b.Secret}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	for _, f := range []struct {
		dst *bool
		src *bool
	}{{&in.Enabled, b.Enabled}, {&in.PublicClient, b.PublicClient}, {&in.BearerOnly, b.BearerOnly},
		{&in.ServiceAccountsEnabled, b.ServiceAccountsEnabled}, {&in.StandardFlowEnabled, b.StandardFlowEnabled},
		{&in.DirectAccessGrantsEnabled, b.DirectAccessGrantsEnabled}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if b.RedirectURIs != nil {
		in.RedirectURIs = slices.Clone(*b.RedirectURIs)
	}
	if b.WebOrigins != nil {
		in.WebOrigins = slices.Clone(*b.WebOrigins)
	}
	if b.Attributes != nil {
		in.Attributes = *b.Attributes
	}
}

// POST /clients: Keycloak's defaults for a new client are enabled and standard flow on.
func (rc *rctx) postClient() resp {
	if r, ok := rc.need(roleManageClients, roleCreateClient); !ok {
		return r
	}
	var b clientBody
	if r, ok := rc.decode(&b); !ok {
		return r
	}
	in := ClientInput{ID: deref(b.ID), Enabled: true, StandardFlowEnabled: true}
	b.applyTo(&in)
	c, err := rc.t.createClientL(rc.realm, rc.actor(), in)
	if err != nil {
		return toResp(err)
	}
	return created("/admin/realms/" + rc.realm.name + "/clients/" + c.id)
}

// PUT /clients/{id}
func (rc *rctx) putClient() resp {
	return put(rc, rc.managedClient, func(c *client, b *clientBody) error {
		in := clientInputOf(c)
		b.applyTo(&in)
		return rc.t.applyClientL(rc.realm, rc.actor(), c, in)
	})
}

// DELETE /clients/{id}
func (rc *rctx) deleteClient() resp {
	return del(rc.managedClient, func(c *client) error {
		return rc.t.deleteClientL(rc.realm, rc.actor(), c)
	})
}

type eventsConfigBody struct {
	EventsEnabled             *bool     `json:"eventsEnabled"`
	EventsExpiration          *int64    `json:"eventsExpiration"`
	EventsListeners           *[]string `json:"eventsListeners"`
	EnabledEventTypes         *[]string `json:"enabledEventTypes"`
	AdminEventsEnabled        *bool     `json:"adminEventsEnabled"`
	AdminEventsDetailsEnabled *bool     `json:"adminEventsDetailsEnabled"`
}

// PUT /events/config, as measured on Keycloak: eventsEnabled and eventsExpiration are
// replaced (an omitted value means false / none), the other four merge; unknown event
// types are stored, unknown listeners refused; the UPDATE REALM events/config admin event
// is recorded when admin events are on before or after the request, with a representation
// when details are on after it.
func (rc *rctx) putEventsConfig() resp {
	if r, ok := rc.need(roleManageEvents); !ok {
		return r
	}
	var b eventsConfigBody
	if r, ok := rc.decodeStrict(&b, "RealmEventsConfigRepresentation"); !ok {
		return r
	}
	if b.EventsListeners != nil {
		for _, l := range *b.EventsListeners {
			switch l {
			case "jboss-logging", "email":
			case "workflow-event-listener":
				return badRequest("Global event listeners not allowed in realm specific configuration")
			default:
				return badRequest("Unknown event listener")
			}
		}
	}
	rm := rc.realm
	wasOn := rm.adminEventsEnabled
	rm.eventsEnabled = b.EventsEnabled != nil && *b.EventsEnabled
	rm.eventsExpiration = 0
	if b.EventsExpiration != nil {
		rm.eventsExpiration = *b.EventsExpiration
	}
	if b.EnabledEventTypes != nil {
		rm.enabledEventTypes = dedupe(*b.EnabledEventTypes)
	}
	if b.EventsListeners != nil {
		rm.eventsListeners = dedupe(*b.EventsListeners)
	}
	if b.AdminEventsEnabled != nil {
		rm.adminEventsEnabled = *b.AdminEventsEnabled
	}
	if b.AdminEventsDetailsEnabled != nil {
		rm.adminEventsDetailsEnabled = *b.AdminEventsDetailsEnabled
	}
	if wasOn || rm.adminEventsEnabled {
		nowOn := rm.adminEventsEnabled
		rm.adminEventsEnabled = true
		rc.t.adminEventLocked(rm, rc.actor(), "UPDATE", "REALM", "events/config", eventsConfigOf(rm))
		rm.adminEventsEnabled = nowOn
	}
	return noContent()
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// DELETE /events and /admin-events remove every stored event of that kind.
func (rc *rctx) clearEvents(admin bool) resp {
	if r, ok := rc.need(roleManageEvents); !ok {
		return r
	}
	if admin {
		rc.realm.adminEvents = nil
	} else {
		rc.realm.events = nil
	}
	return noContent()
}
