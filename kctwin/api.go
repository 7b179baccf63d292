package kctwin

import (
	"strconv"
	"strings"
)

// Go methods that change a realm exactly as the equivalent Admin API write does, admin
// event included (recorded as the master admin through admin-cli from 127.0.0.1). They are
// safe to call from any goroutine, also from inside a request hook. Errors wrap
// ErrNotFound, ErrConflict or ErrInvalid.

func (t *Twin) mutate(op, realmName string, fn func(rm *realm, a actor) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return err
	}
	return goError(op, fn(rm, t.goActor()))
}

// mutateOne is mutate on one entity: find resolves key in the realm (an error wrapping
// ErrNotFound when it is missing), then fn changes it.
func mutateOne[K, T any](t *Twin, op, realmName string, find func(*realm, K) (T, error), key K,
	fn func(rm *realm, a actor, x T) error) error {
	return t.mutate(op, realmName, func(rm *realm, a actor) error {
		x, err := find(rm, key)
		if err != nil {
			return err
		}
		return fn(rm, a, x)
	})
}

func findUser(rm *realm, id string) (*user, error) {
	if u := rm.users[id]; u != nil {
		return u, nil
	}
	return nil, errNotFound("User not found")
}

func findGroup(rm *realm, id string) (*group, error) {
	if g := rm.groups[id]; g != nil {
		return g, nil
	}
	return nil, errNotFound("Could not find group by id")
}

func findRole(rm *realm, ref RoleRef) (*role, error) {
	if ref.ClientID == "" {
		if r := rm.realmRole[ref.Name]; r != nil {
			return r, nil
		}
		return nil, errNotFound("Could not find role")
	}
	c := rm.byClient[ref.ClientID]
	if c == nil {
		return nil, errNotFound("Could not find client")
	}
	if r := c.roles[ref.Name]; r != nil {
		return r, nil
	}
	return nil, errNotFound("Could not find role")
}

func findClient(rm *realm, id string) (*client, error) {
	if c := rm.clients[id]; c != nil {
		return c, nil
	}
	return nil, errNotFound("Could not find client")
}

// CreateUser creates a user (POST /users): default roles granted, CREATE USER users/{id}.
func (t *Twin) CreateUser(realmName string, in UserInput) (id string, err error) {
	err = t.mutate("create user", realmName, func(rm *realm, a actor) error {
		u, err := t.createUserL(rm, a, in, nil)
		if err == nil {
			id = u.id
		}
		return err
	})
	return id, err
}

// User returns a user's current fields as a UserInput.
func (t *Twin) User(realmName, id string) (UserInput, error) {
	return read(t, "get user", realmName, func(rm *realm) (UserInput, error) {
		u, err := findUser(rm, id)
		if err != nil {
			return UserInput{}, err
		}
		return inputOf(u), nil
	})
}

// UserID returns the id of the user with that username.
func (t *Twin) UserID(realmName, username string) (string, error) {
	return read(t, "find user", realmName, func(rm *realm) (string, error) {
		if u := rm.userByName(lower(username)); u != nil {
			return u.id, nil
		}
		return "", errNotFound("User not found")
	})
}

// read is mutate's counterpart for lookups: fn runs under the read lock and its result is
// returned, with errors wrapped as mutate wraps them.
func read[T any](t *Twin, op, realmName string, fn func(rm *realm) (T, error)) (T, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := fn(rm)
	return out, goError(op, err)
}

// UpdateUser changes a user (PUT /users/{id}): edit receives the current fields and
// changes them in place; one UPDATE USER users/{id} event. A changed Username takes
// effect only in a realm that allows editing usernames (SetEditUsernameAllowed, or
// editUsernameAllowed in a loaded export); otherwise it is ignored, as by Keycloak. edit
// runs under the Twin's lock and must not call the Twin.
func (t *Twin) UpdateUser(realmName, id string, edit func(*UserInput)) error {
	return mutateOne(t, "update user", realmName, findUser, id, func(rm *realm, a actor, u *user) error {
		in := inputOf(u)
		edit(&in)
		return t.applyUserL(rm, a, u, in)
	})
}

// SetUserAttributes replaces a user's attributes (an UPDATE USER).
func (t *Twin) SetUserAttributes(realmName, id string, attrs map[string][]string) error {
	return t.UpdateUser(realmName, id, func(u *UserInput) { u.Attributes = attrs })
}

// SetRequiredActions replaces a user's required actions (an UPDATE USER).
func (t *Twin) SetRequiredActions(realmName, id string, actions []string) error {
	return t.UpdateUser(realmName, id, func(u *UserInput) { u.RequiredActions = actions })
}

// SetEditUsernameAllowed sets the realm's editUsernameAllowed (off in a new or generated
// realm), which decides whether user updates may rename a user.
func (t *Twin) SetEditUsernameAllowed(realmName string, allowed bool) error {
	return t.mutate("set edit username allowed", realmName, func(rm *realm, a actor) error {
		rm.editUsernameAllowed = allowed
		return nil
	})
}

// DeleteUser deletes a user (DELETE /users/{id}) with its memberships and role mappings.
func (t *Twin) DeleteUser(realmName, id string) error {
	return mutateOne(t, "delete user", realmName, findUser, id, func(rm *realm, a actor, u *user) error {
		t.deleteUserL(rm, a, u)
		return nil
	})
}

// JoinGroup adds a user to a group (PUT /users/{id}/groups/{groupId}).
func (t *Twin) JoinGroup(realmName, userID, groupID string) error {
	return t.membership("join group", realmName, userID, groupID, true)
}

// LeaveGroup removes a user from a group (DELETE /users/{id}/groups/{groupId}).
func (t *Twin) LeaveGroup(realmName, userID, groupID string) error {
	return t.membership("leave group", realmName, userID, groupID, false)
}

func (t *Twin) membership(op, realmName, userID, groupID string, join bool) error {
	return mutateOne(t, op, realmName, findUser, userID, func(rm *realm, a actor, u *user) error {
		g, err := findGroup(rm, groupID)
		if err != nil {
			return err
		}
		if join {
			t.joinGroupL(rm, a, u, g)
		} else {
			t.leaveGroupL(rm, a, u, g)
		}
		return nil
	})
}

// CreateGroup creates a top-level group (parentID empty, POST /groups) or a child group
// (POST /groups/{parentID}/children).
func (t *Twin) CreateGroup(realmName, parentID, name string) (id string, err error) {
	err = t.mutate("create group", realmName, func(rm *realm, a actor) error {
		var parent *group
		if parentID != "" {
			p, err := findGroup(rm, parentID)
			if err != nil {
				return err
			}
			parent = p
		}
		g, err := t.createGroupL(rm, a, parent, "", name, "", nil)
		if err == nil {
			id = g.id
		}
		return err
	})
	return id, err
}

// RenameGroup renames a group (PUT /groups/{id}); the paths of its subtree change with it.
func (t *Twin) RenameGroup(realmName, id, name string) error {
	return mutateOne(t, "rename group", realmName, findGroup, id, func(rm *realm, a actor, g *group) error {
		return t.updateGroupL(rm, a, g, &name, nil, nil, false)
	})
}

// MoveGroup moves a group, with its subtree and memberships, under parentID ("" for the
// top level), as an admin's POST of its id to /groups or /groups/{parent}/children does.
func (t *Twin) MoveGroup(realmName, id, parentID string) error {
	return mutateOne(t, "move group", realmName, findGroup, id, func(rm *realm, a actor, g *group) error {
		var parent *group
		if parentID != "" {
			if parent = rm.groups[parentID]; parent == nil {
				return errNotFound("Could not find group by id")
			}
		}
		return t.moveGroupL(rm, a, g, parent)
	})
}

// DeleteGroup deletes a group and its subgroups (DELETE /groups/{id}).
func (t *Twin) DeleteGroup(realmName, id string) error {
	return mutateOne(t, "delete group", realmName, findGroup, id, func(rm *realm, a actor, g *group) error {
		t.deleteGroupL(rm, a, g)
		return nil
	})
}

// GrantRoles maps roles to a user directly: one Admin API call per container (POST
// .../role-mappings/realm or .../clients/{client}), each with its admin event.
func (t *Twin) GrantRoles(realmName, userID string, roles ...RoleRef) error {
	return t.mapRoles("grant roles", realmName, userID, roles, true)
}

// RevokeRoles removes direct role mappings from a user, like GrantRoles in reverse.
func (t *Twin) RevokeRoles(realmName, userID string, roles ...RoleRef) error {
	return t.mapRoles("revoke roles", realmName, userID, roles, false)
}

func (t *Twin) mapRoles(op, realmName, userID string, refs []RoleRef, add bool) error {
	return mutateOne(t, op, realmName, findUser, userID, func(rm *realm, a actor, u *user) error {
		var order []string
		byContainer := map[string][]*role{}
		for _, ref := range refs {
			r, err := findRole(rm, ref)
			if err != nil {
				return err
			}
			if _, ok := byContainer[ref.ClientID]; !ok {
				order = append(order, ref.ClientID)
			}
			byContainer[ref.ClientID] = append(byContainer[ref.ClientID], r)
		}
		for _, k := range order {
			t.mapRolesL(rm, a, u, byContainer[k], add)
		}
		return nil
	})
}

// CreateRole creates a realm role (ref.ClientID empty, POST /roles) or a client role
// (POST /clients/{id}/roles).
func (t *Twin) CreateRole(realmName string, ref RoleRef, description string) (id string, err error) {
	err = t.mutate("create role", realmName, func(rm *realm, a actor) error {
		var c *client
		if ref.ClientID != "" {
			if c = rm.byClient[ref.ClientID]; c == nil {
				return errNotFound("Could not find client")
			}
		}
		r, err := t.createRoleL(rm, a, c, "", ref.Name, description, nil)
		if err == nil {
			id = r.id
		}
		return err
	})
	return id, err
}

// RenameRole renames a role (PUT /roles/{name}); the event's path carries the old name.
func (t *Twin) RenameRole(realmName string, ref RoleRef, newName string) error {
	return mutateOne(t, "rename role", realmName, findRole, ref, func(rm *realm, a actor, r *role) error {
		return t.updateRoleL(rm, a, r, roleContainerPath(r), &newName, nil, nil, false)
	})
}

// DeleteRole deletes a role (DELETE /roles/{name}) with its mappings and composite links.
func (t *Twin) DeleteRole(realmName string, ref RoleRef) error {
	return mutateOne(t, "delete role", realmName, findRole, ref, func(rm *realm, a actor, r *role) error {
		return t.deleteRoleL(rm, a, r, roleContainerPath(r))
	})
}

// AddComposites makes children part of parent (POST /roles/{name}/composites).
func (t *Twin) AddComposites(realmName string, parent RoleRef, children ...RoleRef) error {
	return t.composites("add composites", realmName, parent, children, true)
}

// RemoveComposites removes children from parent (DELETE /roles/{name}/composites).
func (t *Twin) RemoveComposites(realmName string, parent RoleRef, children ...RoleRef) error {
	return t.composites("remove composites", realmName, parent, children, false)
}

func (t *Twin) composites(op, realmName string, parent RoleRef, children []RoleRef, add bool) error {
	return mutateOne(t, op, realmName, findRole, parent, func(rm *realm, a actor, p *role) error {
		var cs []*role
		for _, ref := range children {
			c, err := findRole(rm, ref)
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		t.compositesL(rm, a, p, roleContainerPath(p), cs, add)
		return nil
	})
}

// CreateClient creates a client (POST /clients); a confidential client with service
// accounts gets its service-account user.
func (t *Twin) CreateClient(realmName string, in ClientInput) (id string, err error) {
	err = t.mutate("create client", realmName, func(rm *realm, a actor) error {
		c, err := t.createClientL(rm, a, in)
		if err == nil {
			id = c.id
		}
		return err
	})
	return id, err
}

// UpdateClient changes a client (PUT /clients/{id}); see UpdateUser for edit's contract.
func (t *Twin) UpdateClient(realmName, id string, edit func(*ClientInput)) error {
	return mutateOne(t, "update client", realmName, findClient, id, func(rm *realm, a actor, c *client) error {
		in := clientInputOf(c)
		edit(&in)
		return t.applyClientL(rm, a, c, in)
	})
}

// DeleteClient deletes a client with its roles and service-account user.
func (t *Twin) DeleteClient(realmName, id string) error {
	return mutateOne(t, "delete client", realmName, findClient, id, func(rm *realm, a actor, c *client) error {
		return t.deleteClientL(rm, a, c)
	})
}

// ClientUUID returns the id of the client with that clientId.
func (t *Twin) ClientUUID(realmName, clientID string) (string, error) {
	return read(t, "find client", realmName, func(rm *realm) (string, error) {
		if c := rm.byClient[clientID]; c != nil {
			return c.id, nil
		}
		return "", errNotFound("Could not find client")
	})
}

// GroupID returns the id of the group at path ("/a/b").
func (t *Twin) GroupID(realmName, path string) (string, error) {
	return read(t, "find group", realmName, func(rm *realm) (string, error) {
		if g := groupByPath(rm, path); g != nil {
			return g.id, nil
		}
		return "", errNotFound("Group path does not exist")
	})
}

// EventsConfig is a realm's event storage configuration (GET/PUT /events/config), plus the
// admin-event expiration Keycloak keeps as a realm attribute.
type EventsConfig struct {
	EventsEnabled             bool
	EventsExpiration          int64 // seconds; 0 = never
	EnabledEventTypes         []string
	AdminEventsEnabled        bool
	AdminEventsDetailsEnabled bool
	AdminEventsExpiration     int64 // seconds; 0 = never
}

// SetEventsConfig changes what the realm stores and for how long (PUT /events/config, an
// UPDATE REALM events/config admin event, and the adminEventsExpiration attribute).
func (t *Twin) SetEventsConfig(realmName string, c EventsConfig) error {
	return t.mutate("set events config", realmName, func(rm *realm, a actor) error {
		for _, ty := range c.EnabledEventTypes {
			if !knownEventTypes[ty] {
				return errInvalid("Unknown event type " + ty)
			}
		}
		rm.eventsEnabled, rm.eventsExpiration = c.EventsEnabled, c.EventsExpiration
		rm.enabledEventTypes = append([]string(nil), c.EnabledEventTypes...)
		rm.adminEventsEnabled, rm.adminEventsDetailsEnabled = c.AdminEventsEnabled, c.AdminEventsDetailsEnabled
		if c.AdminEventsExpiration > 0 {
			rm.attributes["adminEventsExpiration"] = strconv.FormatInt(c.AdminEventsExpiration, 10)
		} else {
			delete(rm.attributes, "adminEventsExpiration")
		}
		t.adminEventLocked(rm, a, "UPDATE", "REALM", "events/config", eventsConfigOf(rm))
		return nil
	})
}

func eventsConfigOf(rm *realm) map[string]any {
	return map[string]any{"eventsEnabled": rm.eventsEnabled, "eventsExpiration": rm.eventsExpiration,
		"enabledEventTypes": nonNil(rm.enabledEventTypes), "adminEventsEnabled": rm.adminEventsEnabled,
		"adminEventsDetailsEnabled": rm.adminEventsDetailsEnabled}
}

// --- simulated end-user activity ------------------------------------------------------

// Simulated user activity records the user events Keycloak stores for what end users do
// (subject to the realm's events configuration). Self-service changes (profile, password,
// registration, account deletion) change the realm without any admin event, as in
// Keycloak. clientID is an OAuth clientId; empty means "account-console".

func (t *Twin) userActivity(op, realmName, username string, fn func(rm *realm, u *user) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return err
	}
	u := rm.userByName(lower(username))
	if u == nil {
		return goError(op, errNotFound("User not found"))
	}
	return goError(op, fn(rm, u))
}

func (t *Twin) userEvent(rm *realm, typ string, u *user, clientID string, session bool, details ...kv) {
	s := eventSpec{typ: typ, clientID: orDefault(clientID, "account-console"), ip: "192.0.2.10", session: session,
		details: append([]kv{{"auth_method", "openid-connect"}}, details...)}
	if u != nil {
		s.userID = u.id
		s.details = append(s.details, kv{"username", u.username})
	}
	if strings.HasSuffix(typ, "_ERROR") && u == nil {
		s.err = "user_not_found"
	} else if strings.HasSuffix(typ, "_ERROR") {
		s.err = "invalid_user_credentials"
	}
	t.recordUserEventLocked(rm, s)
}

// SimulateLogin records a LOGIN of the user through clientID.
func (t *Twin) SimulateLogin(realmName, username, clientID string) error {
	return t.userActivity("simulate login", realmName, username, func(rm *realm, u *user) error {
		t.userEvent(rm, "LOGIN", u, clientID, true, kv{"redirect_uri", "https://app.example.com/callback"})
		return nil
	})
}

// SimulateLoginError records a LOGIN_ERROR: invalid_user_credentials for an existing
// username, user_not_found (without userId) otherwise.
func (t *Twin) SimulateLoginError(realmName, username, clientID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return err
	}
	u := rm.userByName(lower(username))
	if u == nil {
		s := eventSpec{typ: "LOGIN_ERROR", clientID: orDefault(clientID, "account-console"), ip: "192.0.2.10",
			err: "user_not_found", details: []kv{{"auth_method", "openid-connect"}, {"username", lower(username)}}}
		t.recordUserEventLocked(rm, s)
		return nil
	}
	t.userEvent(rm, "LOGIN_ERROR", u, clientID, false)
	return nil
}

// SimulateLogout records a LOGOUT.
func (t *Twin) SimulateLogout(realmName, username, clientID string) error {
	return t.userActivity("simulate logout", realmName, username, func(rm *realm, u *user) error {
		t.userEvent(rm, "LOGOUT", u, clientID, true)
		return nil
	})
}

// SimulatePasswordUpdate sets the password as the user would in the account console and
// records UPDATE_PASSWORD; there is no admin event.
func (t *Twin) SimulatePasswordUpdate(realmName, username, password string) error {
	return t.userActivity("simulate password update", realmName, username, func(rm *realm, u *user) error {
		u.password = password
		t.userEvent(rm, "UPDATE_PASSWORD", u, "account-console", true)
		return nil
	})
}

// SimulateProfileUpdate changes the user's names as the user would, records
// UPDATE_PROFILE with previous/updated details, and no admin event.
func (t *Twin) SimulateProfileUpdate(realmName, username, firstName, lastName string) error {
	return t.userActivity("simulate profile update", realmName, username, func(rm *realm, u *user) error {
		d := []kv{{"previous_first_name", u.firstName}, {"updated_first_name", firstName},
			{"previous_last_name", u.lastName}, {"updated_last_name", lastName}}
		u.firstName, u.lastName = firstName, lastName
		u.invalidate()
		t.userEvent(rm, "UPDATE_PROFILE", u, "account-console", true, d...)
		return nil
	})
}

// SimulateRegistration creates the user as self-registration does (default roles, a
// REGISTER event, no admin event) and returns its id.
func (t *Twin) SimulateRegistration(realmName string, in UserInput, clientID string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return "", err
	}
	// createUserL records a CREATE admin event; self-registration does not.
	saved := rm.adminEventsEnabled
	rm.adminEventsEnabled = false
	u, err := t.createUserL(rm, actor{}, in, nil)
	rm.adminEventsEnabled = saved
	if err != nil {
		return "", goError("simulate registration", err)
	}
	t.userEvent(rm, "REGISTER", u, clientID, true, kv{"register_method", "form"}, kv{"email", u.email})
	return u.id, nil
}

// SimulateAccountDeletion deletes the user as the account console's "delete account"
// does: a DELETE_ACCOUNT event and no admin event.
func (t *Twin) SimulateAccountDeletion(realmName, username string) error {
	return t.userActivity("simulate account deletion", realmName, username, func(rm *realm, u *user) error {
		t.userEvent(rm, "DELETE_ACCOUNT", u, "account-console", true)
		rm.deleteUser(u)
		return nil
	})
}
