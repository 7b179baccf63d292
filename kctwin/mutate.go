package kctwin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Mutations shared by the Admin API writes and the Go methods. Each runs under the write
// lock and has exactly the effects of the Admin API call, including the admin event with
// Keycloak's resourcePath rules (keycloak-api.md §7) when the realm records admin events.

// ErrConflict and ErrInvalid are returned (wrapped) by Go mutation methods for what the
// Admin API answers with 409 and 400.
var (
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// opError is a failed mutation with the HTTP status the Admin API gives it.
type opError struct {
	status int
	msg    string
}

func (e *opError) Error() string { return e.msg }

func (e *opError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.status == 404
	case ErrConflict:
		return e.status == 409
	case ErrInvalid:
		return e.status == 400
	}
	return false
}

func errNotFound(msg string) error { return &opError{404, msg} }
func errConflict(msg string) error { return &opError{409, msg} }
func errInvalid(msg string) error  { return &opError{400, msg} }

// toResp turns a mutation error into Keycloak's response: NotFoundException bodies carry
// "error", ErrorResponse bodies (conflicts, validation) carry "errorMessage".
func toResp(err error) resp {
	var oe *opError
	if errors.As(err, &oe) {
		if oe.status == 404 {
			return notFound(oe.msg)
		}
		return jsonResp(oe.status, errMsgBody{ErrorMessage: oe.msg})
	}
	return serverError()
}

// goError wraps a mutation error for a Go caller.
func goError(op string, err error) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		kind := ErrInvalid
		switch oe.status {
		case 404:
			kind = ErrNotFound
		case 409:
			kind = ErrConflict
		}
		return fmt.Errorf("kctwin: %s: %s: %w", op, oe.msg, kind)
	}
	return fmt.Errorf("kctwin: %s: %w", op, err)
}

// actor is who performed an admin operation, for the admin event's authDetails.
type actor struct {
	realmID, clientUUID, userID, ip string
}

func sessionActor(s *session, ip string) actor {
	return actor{realmID: s.realmID, clientUUID: s.clientUUID, userID: s.userID, ip: ip}
}

// goActor is the master realm's admin through admin-cli from 127.0.0.1: Go mutations are
// recorded as if an administrator had made them in the admin console.
func (t *Twin) goActor() actor {
	m := t.realms["master"]
	a := actor{realmID: m.id, ip: "127.0.0.1"}
	if c := m.byClient["admin-cli"]; c != nil {
		a.clientUUID = c.id
	}
	if u := m.userByName(lower(t.cfg.adminUser)); u != nil {
		a.userID = u.id
	}
	return a
}

// adminEvent records an admin event when the realm stores them; the representation is
// kept only with adminEventsDetailsEnabled.
func (t *Twin) adminEventLocked(rm *realm, a actor, op, resType, path string, rep any, details ...kv) {
	if !rm.adminEventsEnabled {
		return
	}
	e := &adminEvent{id: t.ids.newID(), time: t.nowMillis(), realmID: rm.id, authRealmID: a.realmID,
		authClientID: a.clientUUID, authUserID: a.userID, authIP: a.ip, operationType: op, resourceType: resType,
		resourcePath: path, details: details}
	if rm.adminEventsDetailsEnabled && rep != nil {
		b, err := json.Marshal(rep)
		if err == nil {
			e.representation, e.hasRep = string(b), true
		}
	}
	rm.adminEvents = insertStamped(rm.adminEvents, e)
}

// --- inputs -------------------------------------------------------------------------

// UserInput describes a user for CreateUser and UpdateUser.
type UserInput struct {
	ID               string // optional on create: generated when empty
	Username         string
	Email            string
	FirstName        string
	LastName         string
	Enabled          bool
	EmailVerified    bool
	CreatedTimestamp int64 // optional on create: now when zero
	Attributes       map[string][]string
	RequiredActions  []string
	Password         string // optional: enables the password grant for this user
}

// ClientInput describes a client for CreateClient and UpdateClient.
type ClientInput struct {
	ID                        string // optional on create
	ClientID                  string
	Name                      string
	Description               string
	Enabled                   bool
	PublicClient              bool
	BearerOnly                bool
	ServiceAccountsEnabled    bool
	StandardFlowEnabled       bool
	DirectAccessGrantsEnabled bool
	Protocol                  string
	RootURL                   string
	BaseURL                   string
	Secret                    string // confidential clients: generated when empty
	RedirectURIs              []string
	WebOrigins                []string
	Attributes                map[string]string
}

// RoleRef names a role: a realm role when ClientID (the OAuth clientId) is empty.
type RoleRef struct {
	ClientID string
	Name     string
}

// --- representations used in admin events -----------------------------------------

func userEventRep(u *user) map[string]any {
	m := map[string]any{"id": u.id, "username": u.username, "enabled": u.enabled, "emailVerified": u.emailVerified}
	if u.email != "" {
		m["email"] = u.email
	}
	if u.firstName != "" {
		m["firstName"] = u.firstName
	}
	if u.lastName != "" {
		m["lastName"] = u.lastName
	}
	if len(u.attrs) > 0 {
		m["attributes"] = attrsToMap(u.attrs)
	}
	m["requiredActions"] = nonNil(slices.Clone(u.requiredActions))
	return m
}

func groupEventRep(g *group) map[string]any {
	m := map[string]any{"id": g.id, "name": g.name, "path": g.path()}
	if g.parent != nil {
		m["parentId"] = g.parent.id
	}
	if len(g.attrs) > 0 {
		m["attributes"] = attrsToMap(g.attrs)
	}
	return m
}

// clientEventRep strips the secret, as recent Keycloak releases do in admin events.
func clientEventRep(c *client) clientRep {
	rep := clientToRep(c, nil)
	if rep.Secret != "" {
		rep.Secret = "**********"
	}
	return rep
}

// --- users --------------------------------------------------------------------------

func (t *Twin) createUserL(rm *realm, a actor, in UserInput, groupPaths []string) (*user, error) {
	name := lower(strings.TrimSpace(in.Username))
	if name == "" {
		return nil, errInvalid("User name is missing")
	}
	if rm.userByName(name) != nil {
		return nil, errConflict("User exists with same username")
	}
	if in.Email != "" && rm.userByEmail(in.Email) != nil {
		return nil, errConflict("User exists with same email")
	}
	if in.ID != "" && rm.users[in.ID] != nil {
		return nil, errConflict("User exists with same id")
	}
	var groups []*group
	for _, p := range groupPaths {
		g := groupByPath(rm, p)
		if g == nil {
			return nil, errNotFound("Group " + p + " not found")
		}
		groups = append(groups, g)
	}
	u := &user{id: in.ID, username: name, email: lower(in.Email), firstName: in.FirstName, lastName: in.LastName,
		enabled: in.Enabled, emailVerified: in.EmailVerified, created: in.CreatedTimestamp,
		attrs: attrsFromMap(in.Attributes), requiredActions: slices.Clone(in.RequiredActions), password: in.Password}
	if u.id == "" {
		u.id = t.ids.newID()
	}
	if u.created == 0 {
		u.created = t.nowMillis()
	}
	rm.addUser(u)
	if rm.defaultRole != nil {
		rm.grant(u, rm.defaultRole)
	}
	for _, g := range groups {
		rm.joinGroup(u, g)
	}
	t.adminEventLocked(rm, a, "CREATE", "USER", "users/"+u.id, userEventRep(u))
	return u, nil
}

func inputOf(u *user) UserInput {
	return UserInput{ID: u.id, Username: u.username, Email: u.email, FirstName: u.firstName, LastName: u.lastName,
		Enabled: u.enabled, EmailVerified: u.emailVerified, CreatedTimestamp: u.created, Attributes: attrsToMap(u.attrs),
		RequiredActions: slices.Clone(u.requiredActions), Password: u.password}
}

// applyUserL replaces u's fields with in (id and creation time stay) and records UPDATE.
func (t *Twin) applyUserL(rm *realm, a actor, u *user, in UserInput) error {
	name := lower(strings.TrimSpace(in.Username))
	if name == "" {
		return errInvalid("User name is missing")
	}
	if o := rm.userByName(name); o != nil && o != u {
		return errConflict("User exists with same username")
	}
	if in.Email != "" {
		if o := rm.userByEmail(in.Email); o != nil && o != u {
			return errConflict("User exists with same email")
		}
	}
	// With editUsernameAllowed off (Keycloak's default) a different free username is
	// accepted and ignored; a taken one is still the 409 above.
	if name != u.username && rm.editUsernameAllowed {
		rm.renameUser(u, name)
	}
	u.email, u.firstName, u.lastName = lower(in.Email), in.FirstName, in.LastName
	u.enabled, u.emailVerified = in.Enabled, in.EmailVerified
	u.attrs = attrsFromMap(in.Attributes)
	u.requiredActions = slices.Clone(in.RequiredActions)
	if in.Password != "" {
		u.password = in.Password
	}
	u.invalidate()
	t.adminEventLocked(rm, a, "UPDATE", "USER", "users/"+u.id, userEventRep(u))
	return nil
}

// Deletes record the object as it was before it went, as Keycloak's admin events do.

func (t *Twin) deleteUserL(rm *realm, a actor, u *user) {
	rep := userEventRep(u)
	rm.deleteUser(u)
	t.adminEventLocked(rm, a, "DELETE", "USER", "users/"+u.id, rep)
}

func (t *Twin) joinGroupL(rm *realm, a actor, u *user, g *group) {
	if rm.joinGroup(u, g) {
		t.adminEventLocked(rm, a, "CREATE", "GROUP_MEMBERSHIP", "users/"+u.id+"/groups/"+g.id, groupEventRep(g),
			kv{"username", u.username})
	}
}

func (t *Twin) leaveGroupL(rm *realm, a actor, u *user, g *group) {
	if rm.leaveGroup(u, g) {
		t.adminEventLocked(rm, a, "DELETE", "GROUP_MEMBERSHIP", "users/"+u.id+"/groups/"+g.id, groupEventRep(g),
			kv{"username", u.username})
	}
}

// mapRolesL maps (or unmaps) roles (all of one container) to u; one admin event per call, as for one
// POST .../role-mappings/realm or .../clients/{client}.
func (t *Twin) mapRolesL(rm *realm, a actor, u *user, roles []*role, add bool) {
	if len(roles) == 0 {
		return
	}
	// Keycloak records the call whether or not it changed anything.
	for _, r := range roles {
		if add {
			rm.grant(u, r)
		} else {
			rm.revoke(u, r)
		}
	}
	reps := make([]roleRep, len(roles))
	for i, r := range roles {
		reps[i] = roleToRep(rm, r, false)
	}
	op := "CREATE"
	if !add {
		op = "DELETE"
	}
	if c := roles[0].client; c != nil {
		t.adminEventLocked(rm, a, op, "CLIENT_ROLE_MAPPING", "users/"+u.id+"/role-mappings/clients/"+c.id, reps)
	} else {
		t.adminEventLocked(rm, a, op, "REALM_ROLE_MAPPING", "users/"+u.id+"/role-mappings/realm", reps)
	}
}

// --- groups -------------------------------------------------------------------------

func (t *Twin) createGroupL(rm *realm, a actor, parent *group, id, name, desc string, attrs map[string][]string) (*group, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errInvalid("Group name is missing")
	}
	siblings := rm.top
	if parent != nil {
		siblings = parent.children
	}
	for _, s := range siblings {
		if s.name == name {
			if parent == nil {
				return nil, errConflict("Top level group named '" + name + "' already exists.")
			}
			return nil, errConflict("Sibling group named '" + name + "' already exists.")
		}
	}
	if id == "" {
		id = t.ids.newID()
	} else if rm.groups[id] != nil {
		return nil, errConflict("Group with id '" + id + "' already exists.")
	}
	g := &group{id: id, name: name, description: desc, parent: parent, attrs: attrsFromMap(attrs)}
	rm.addGroup(g)
	if parent == nil {
		t.adminEventLocked(rm, a, "CREATE", "GROUP", "groups/"+g.id, groupEventRep(g))
	} else {
		// A child create records the parent's children path; the new id is only in the
		// representation (keycloak-api.md §7).
		t.adminEventLocked(rm, a, "CREATE", "GROUP", "groups/"+parent.id+"/children", groupEventRep(g))
	}
	return g, nil
}

// moveGroupL moves an existing group under parent (nil: the top level), as a POST of its
// id to /groups or /groups/{parent}/children does. Keycloak records an UPDATE whose path
// is the request's, without the moved group's id (GroupsResource.addTopLevelGroup,
// GroupResource.addChild).
func (t *Twin) moveGroupL(rm *realm, a actor, g, parent *group) error {
	for p := parent; p != nil; p = p.parent {
		if p == g {
			return errInvalid("Cannot move a group under itself or one of its subgroups")
		}
	}
	if g.parent != parent {
		siblings := rm.top
		if parent != nil {
			siblings = parent.children
		}
		for _, s := range siblings {
			if s.name == g.name {
				if parent == nil {
					return errConflict("Top level group named '" + g.name + "' already exists.")
				}
				return errConflict("Sibling group named '" + g.name + "' already exists.")
			}
		}
		rm.moveGroup(g, parent)
	}
	path := "groups"
	if parent != nil {
		path = "groups/" + parent.id + "/children"
	}
	t.adminEventLocked(rm, a, "UPDATE", "GROUP", path, groupEventRep(g))
	return nil
}

func (t *Twin) updateGroupL(rm *realm, a actor, g *group, name *string, desc *string, attrs map[string][]string, setAttrs bool) error {
	if name != nil && *name != g.name {
		if strings.TrimSpace(*name) == "" {
			return errInvalid("Group name is missing")
		}
		siblings := rm.top
		if g.parent != nil {
			siblings = g.parent.children
		}
		for _, s := range siblings {
			if s != g && s.name == *name {
				return errConflict("Sibling group named '" + *name + "' already exists.")
			}
		}
		rm.renameGroup(g, *name)
	}
	if desc != nil {
		g.description = *desc
	}
	if setAttrs {
		g.attrs = attrsFromMap(attrs)
	}
	t.adminEventLocked(rm, a, "UPDATE", "GROUP", "groups/"+g.id, groupEventRep(g))
	return nil
}

func (t *Twin) deleteGroupL(rm *realm, a actor, g *group) {
	rep := groupEventRep(g)
	rm.deleteGroup(g)
	t.adminEventLocked(rm, a, "DELETE", "GROUP", "groups/"+g.id, rep)
}

// --- roles --------------------------------------------------------------------------

func roleContainerPath(r *role) string {
	if r.client != nil {
		return "clients/" + r.client.id + "/roles/" + r.name
	}
	return "roles/" + r.name
}

func roleResType(r *role) string {
	if r.client != nil {
		return "CLIENT_ROLE"
	}
	return "REALM_ROLE"
}

func (t *Twin) createRoleL(rm *realm, a actor, c *client, id, name, desc string, attrs map[string][]string) (*role, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errInvalid("Role name is missing")
	}
	if (c == nil && rm.realmRole[name] != nil) || (c != nil && c.roles[name] != nil) {
		return nil, errConflict("Role with name " + name + " already exists")
	}
	if id == "" {
		id = t.ids.newID()
	} else if rm.roles[id] != nil {
		return nil, errConflict("Role with id " + id + " already exists")
	}
	r := &role{id: id, name: name, description: desc, client: c, attrs: attrsFromMap(attrs)}
	rm.addRole(r)
	t.adminEventLocked(rm, a, "CREATE", roleResType(r), roleContainerPath(r), roleToRep(rm, r, true))
	return r, nil
}

// updateRoleL updates r. path is the request path the event records: by name (the old
// name, so a rename changes later paths) or roles-by-id/{id}.
func (t *Twin) updateRoleL(rm *realm, a actor, r *role, path string, name, desc *string, attrs map[string][]string, setAttrs bool) error {
	if name != nil && *name != r.name {
		if strings.TrimSpace(*name) == "" {
			return errInvalid("Role name is missing")
		}
		if (r.client == nil && rm.realmRole[*name] != nil) || (r.client != nil && r.client.roles[*name] != nil) {
			return errConflict("Role with name " + *name + " already exists")
		}
		rm.renameRole(r, *name)
	}
	if desc != nil {
		r.description = *desc
	}
	if setAttrs {
		r.attrs = attrsFromMap(attrs)
	}
	t.adminEventLocked(rm, a, "UPDATE", roleResType(r), path, roleToRep(rm, r, true))
	return nil
}

func (t *Twin) deleteRoleL(rm *realm, a actor, r *role, path string) error {
	if r == rm.defaultRole {
		return errInvalid("You cannot delete the default role")
	}
	rep := roleToRep(rm, r, true)
	rm.deleteRole(r)
	t.adminEventLocked(rm, a, "DELETE", roleResType(r), path, rep)
	return nil
}

func (t *Twin) compositesL(rm *realm, a actor, parent *role, path string, children []*role, add bool) {
	for _, c := range children {
		if add {
			if c != parent && !slices.Contains(parent.composites, c) {
				parent.composites = append(parent.composites, c)
			}
		} else {
			parent.composites = without(parent.composites, c)
		}
	}
	reps := make([]roleRep, len(children))
	for i, c := range children {
		reps[i] = roleToRep(rm, c, false)
	}
	op := "CREATE"
	if !add {
		op = "DELETE"
	}
	t.adminEventLocked(rm, a, op, roleResType(parent), path+"/composites", reps)
}

// --- clients ------------------------------------------------------------------------

func (t *Twin) createClientL(rm *realm, a actor, in ClientInput) (*client, error) {
	if strings.TrimSpace(in.ClientID) == "" {
		return nil, errInvalid("Client id is missing")
	}
	if rm.byClient[in.ClientID] != nil {
		return nil, errConflict("Client " + in.ClientID + " already exists")
	}
	if in.ID == "" {
		in.ID = t.ids.newID()
	} else if rm.clients[in.ID] != nil {
		return nil, errConflict("Client " + in.ID + " already exists")
	}
	c := &client{id: in.ID, roles: map[string]*role{}}
	setClient(c, in)
	if c.confidential() && c.secret == "" {
		c.secret = randomSecret(t.ids)
	}
	rm.addClient(c)
	if c.serviceAccounts && c.confidential() {
		t.ensureServiceAccount(rm, c, t.ids)
	}
	t.adminEventLocked(rm, a, "CREATE", "CLIENT", "clients/"+c.id, clientEventRep(c))
	return c, nil
}

func setClient(c *client, in ClientInput) {
	c.clientID, c.name, c.description = in.ClientID, in.Name, in.Description
	c.enabled, c.public, c.bearerOnly = in.Enabled, in.PublicClient, in.BearerOnly
	c.serviceAccounts, c.standardFlow, c.directAccess = in.ServiceAccountsEnabled, in.StandardFlowEnabled, in.DirectAccessGrantsEnabled
	c.protocol, c.rootURL, c.baseURL = orDefault(in.Protocol, "openid-connect"), in.RootURL, in.BaseURL
	if in.Secret != "" {
		c.secret = in.Secret
	}
	c.redirectURIs, c.webOrigins = slices.Clone(in.RedirectURIs), slices.Clone(in.WebOrigins)
	c.attributes = map[string]string{}
	for k, v := range in.Attributes {
		c.attributes[k] = v
	}
}

func clientInputOf(c *client) ClientInput {
	in := ClientInput{ID: c.id, ClientID: c.clientID, Name: c.name, Description: c.description, Enabled: c.enabled,
		PublicClient: c.public, BearerOnly: c.bearerOnly, ServiceAccountsEnabled: c.serviceAccounts,
		StandardFlowEnabled: c.standardFlow, DirectAccessGrantsEnabled: c.directAccess, Protocol: c.protocol,
		RootURL: c.rootURL, BaseURL: c.baseURL, Secret: c.secret, RedirectURIs: slices.Clone(c.redirectURIs),
		WebOrigins: slices.Clone(c.webOrigins), Attributes: map[string]string{}}
	for k, v := range c.attributes {
		in.Attributes[k] = v
	}
	return in
}

func (t *Twin) applyClientL(rm *realm, a actor, c *client, in ClientInput) error {
	if strings.TrimSpace(in.ClientID) == "" {
		return errInvalid("Client id is missing")
	}
	if o := rm.byClient[in.ClientID]; o != nil && o != c {
		return errConflict("Client " + in.ClientID + " already exists")
	}
	if in.ClientID != c.clientID {
		rm.renameClient(c, in.ClientID)
	}
	setClient(c, in)
	if c.confidential() && c.secret == "" {
		c.secret = randomSecret(t.ids)
	}
	if c.serviceAccounts && c.confidential() {
		t.ensureServiceAccount(rm, c, t.ids)
	}
	t.adminEventLocked(rm, a, "UPDATE", "CLIENT", "clients/"+c.id, clientEventRep(c))
	return nil
}

func (t *Twin) deleteClientL(rm *realm, a actor, c *client) error {
	if c == rm.byClient[mgmtClientID] {
		return errInvalid("Cannot delete the realm-management client")
	}
	rep := clientEventRep(c)
	rm.deleteClient(c)
	t.adminEventLocked(rm, a, "DELETE", "CLIENT", "clients/"+c.id, rep)
	return nil
}
