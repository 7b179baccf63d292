package snapshot

import (
	"fmt"
	"sort"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// This file turns Keycloak representations into table rows. A field Keycloak leaves out
// stays nil; empty strings are kept only when Keycloak sent them.

func millis(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := time.UnixMilli(*ms).UTC()
	return &t
}

func userChange(u keycloak.User, saClientID *string) (schemas.Change, error) {
	return schemas.User.Upsert(schemas.UserKey{ID: u.ID}, &schemas.UserRow{
		ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Enabled: u.Enabled, EmailVerified: u.EmailVerified, CreatedTimestamp: millis(u.CreatedTimestamp),
		ServiceAccountClientID: saClientID, FederationLink: u.FederationLink,
	})
}

// userAttributeChanges returns one row per attribute value, in a stable order.
func userAttributeChanges(u keycloak.User) ([]schemas.Change, error) {
	keys := make([]string, 0, len(u.Attributes))
	for k := range u.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []schemas.Change
	seen := map[[2]string]bool{}
	for _, k := range keys {
		for _, v := range u.Attributes[k] {
			if seen[[2]string{k, v}] {
				continue // the same value twice is one row: the key is (user, attribute, value)
			}
			seen[[2]string{k, v}] = true
			r := schemas.UserAttributeRow{UserID: u.ID, AttributeKey: k, AttributeValue: v}
			c, err := schemas.UserAttribute.Upsert(r, &r)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func requiredActionChanges(u keycloak.User) ([]schemas.Change, error) {
	var out []schemas.Change
	seen := map[string]bool{}
	for _, a := range u.RequiredActions {
		if seen[a] {
			continue
		}
		seen[a] = true
		r := schemas.UserRequiredActionRow{UserID: u.ID, RequiredAction: a}
		c, err := schemas.UserRequiredAction.Upsert(r, &r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func realmRoleMappingChange(userID string, r keycloak.Role) (schemas.Change, error) {
	id := r.ID
	return schemas.UserRealmRole.Upsert(schemas.UserRealmRoleKey{UserID: userID, RoleName: r.Name},
		&schemas.UserRealmRoleRow{UserID: userID, RoleName: r.Name, RoleID: &id})
}

func clientRoleMappingChange(userID, clientID, clientUUID string, r keycloak.Role) (schemas.Change, error) {
	id, cu := r.ID, clientUUID
	return schemas.UserClientRole.Upsert(
		schemas.UserClientRoleKey{UserID: userID, ClientID: clientID, RoleName: r.Name},
		&schemas.UserClientRoleRow{UserID: userID, ClientID: clientID, RoleName: r.Name, RoleID: &id, ClientUUID: &cu})
}

func groupChange(g keycloak.Group, parentID *string) (schemas.Change, error) {
	p := g.ParentID
	if p == nil {
		p = parentID
	}
	return schemas.Group.Upsert(schemas.GroupKey{ID: g.ID}, &schemas.GroupRow{
		ID: g.ID, Name: g.Name, Path: g.Path, ParentID: p, Description: g.Description,
	})
}

func groupMemberChange(groupID, userID string) (schemas.Change, error) {
	r := schemas.GroupMemberRow{GroupID: groupID, UserID: userID}
	return schemas.GroupMember.Upsert(r, &r)
}

// roleChange builds a role row; clientID is the OAuth clientId of a client role's client.
func roleChange(r keycloak.Role, clientID *string) (schemas.Change, error) {
	if r.ClientRole && clientID == nil {
		return schemas.Change{}, fmt.Errorf("client role %q (%s) of unknown client %s", r.Name, r.ID, r.ContainerID)
	}
	if !r.ClientRole {
		clientID = nil
	}
	return schemas.Role.Upsert(schemas.RoleKey{ID: r.ID}, &schemas.RoleRow{
		ID: r.ID, Name: r.Name, Description: r.Description, Composite: r.Composite,
		ClientRole: r.ClientRole, ContainerID: r.ContainerID, ClientID: clientID,
	})
}

func roleCompositeChange(roleID, containedID string) (schemas.Change, error) {
	r := schemas.RoleCompositeRow{RoleID: roleID, CompositeRoleID: containedID}
	return schemas.RoleComposite.Upsert(r, &r)
}

func clientChange(c keycloak.ClientRep) (schemas.Change, error) {
	return schemas.Client.Upsert(schemas.ClientKey{ID: c.ID}, &schemas.ClientRow{
		ID: c.ID, ClientID: c.ClientID, Name: c.Name, Description: c.Description, Enabled: c.Enabled,
		PublicClient: c.PublicClient, Protocol: c.Protocol, BaseURL: c.BaseURL, RootURL: c.RootURL,
		BearerOnly: c.BearerOnly, ServiceAccountsEnabled: c.ServiceAccountsEnabled,
	})
}

// keyOf encodes the key of a table whose key columns are all strings.
func keyOf(cols ...string) []byte { return encodeStrings(cols...) }
