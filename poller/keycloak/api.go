package keycloak

import (
	"context"
	"net/url"
	"strconv"
)

// Route names, used for metrics and to name the role a 403 lacks.
const (
	routeToken           = "token"
	routeUsers           = "users"
	routeUsersCount      = "users/count"
	routeUser            = "users/{id}"
	routeUserRoles       = "users/{id}/role-mappings"
	routeUserGroups      = "users/{id}/groups"
	routeGroups          = "groups"
	routeGroup           = "groups/{id}"
	routeGroupChildren   = "groups/{id}/children"
	routeGroupMembers    = "groups/{id}/members"
	routeRealmRoles      = "roles"
	routeRoleUsers       = "roles/{name}/users"
	routeRoleByID        = "roles-by-id/{id}"
	routeRoleComposites  = "roles-by-id/{id}/composites"
	routeClients         = "clients"
	routeClient          = "clients/{id}"
	routeClientRoles     = "clients/{id}/roles"
	routeClientRoleUsers = "clients/{id}/roles/{name}/users"
	routeServiceAccount  = "clients/{id}/service-account-user"
	routeEvents          = "events"
	routeAdminEvents     = "admin-events"
	routeEventsConfig    = "events/config"
)

func adminPath(realm string, parts ...string) string {
	p := "/admin/realms/" + url.PathEscape(realm)
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

func page(first, max int) url.Values {
	return url.Values{"first": {strconv.Itoa(first)}, "max": {strconv.Itoa(max)}}
}

// Token runs the client-credentials grant for realm (or returns the cached token). It is
// how a preflight check proves the credentials work.
func (c *Client) Token(ctx context.Context, realm string) error {
	_, err := c.token(ctx, realm, "")
	return err
}

// Users lists one page of users ordered by username, in full representation (attributes
// and required actions included). enabled must be set: Keycloak leaves service-account
// users out of listings without a field filter, so keycdc lists enabled and disabled
// users separately to see everyone.
func (c *Client) Users(ctx context.Context, realm string, enabled bool, first, max int) ([]User, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "false")
	q.Set("enabled", strconv.FormatBool(enabled))
	var out []User
	return out, c.get(ctx, realm, routeUsers, adminPath(realm, "users"), q, &out)
}

// UsersCount counts users with the given enabled flag. The count is a planning hint only:
// some Keycloak versions count service accounts differently from the listing.
func (c *Client) UsersCount(ctx context.Context, realm string, enabled bool) (int, error) {
	var n int
	q := url.Values{"enabled": {strconv.FormatBool(enabled)}}
	return n, c.get(ctx, realm, routeUsersCount, adminPath(realm, "users", "count"), q, &n)
}

// User reads one user in full representation; a missing user is an error for which
// IsNotFound is true.
func (c *Client) User(ctx context.Context, realm, id string) (User, error) {
	var out User
	return out, c.get(ctx, realm, routeUser, adminPath(realm, "users", url.PathEscape(id)), nil, &out)
}

// UserRoleMappings reads a user's direct realm and client role mappings.
func (c *Client) UserRoleMappings(ctx context.Context, realm, id string) (Mappings, error) {
	var out Mappings
	return out, c.get(ctx, realm, routeUserRoles, adminPath(realm, "users", url.PathEscape(id), "role-mappings"), nil, &out)
}

// UserGroups lists one page of the groups a user is a direct member of.
func (c *Client) UserGroups(ctx context.Context, realm, id string, first, max int) ([]Group, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "true")
	var out []Group
	return out, c.get(ctx, realm, routeUserGroups, adminPath(realm, "users", url.PathEscape(id), "groups"), q, &out)
}

// Groups lists top-level groups (Keycloak 23+ returns no sub-groups here; walk them with
// GroupChildren while SubGroupCount > 0). max <= 0 asks for all of them in one answer,
// which Keycloak allows for this endpoint and which cannot shift while the realm changes.
func (c *Client) Groups(ctx context.Context, realm string, first, max int) ([]Group, error) {
	q := url.Values{}
	if max > 0 {
		q = page(first, max)
	}
	q.Set("briefRepresentation", "true")
	var out []Group
	return out, c.get(ctx, realm, routeGroups, adminPath(realm, "groups"), q, &out)
}

// Group reads one group.
func (c *Client) Group(ctx context.Context, realm, id string) (Group, error) {
	var out Group
	return out, c.get(ctx, realm, routeGroup, adminPath(realm, "groups", url.PathEscape(id)), nil, &out)
}

// GroupChildren lists one page of a group's direct sub-groups.
func (c *Client) GroupChildren(ctx context.Context, realm, id string, first, max int) ([]Group, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "true")
	var out []Group
	return out, c.get(ctx, realm, routeGroupChildren, adminPath(realm, "groups", url.PathEscape(id), "children"), q, &out)
}

// GroupMembers lists one page of a group's direct members (brief representations).
func (c *Client) GroupMembers(ctx context.Context, realm, id string, first, max int) ([]User, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "true")
	var out []User
	return out, c.get(ctx, realm, routeGroupMembers, adminPath(realm, "groups", url.PathEscape(id), "members"), q, &out)
}

// RealmRoles lists every realm role (unpaged, full representation).
func (c *Client) RealmRoles(ctx context.Context, realm string) ([]Role, error) {
	var out []Role
	q := url.Values{"briefRepresentation": {"false"}}
	return out, c.get(ctx, realm, routeRealmRoles, adminPath(realm, "roles"), q, &out)
}

// ClientRoles lists every role of the client with UUID clientUUID (unpaged).
func (c *Client) ClientRoles(ctx context.Context, realm, clientUUID string) ([]Role, error) {
	var out []Role
	q := url.Values{"briefRepresentation": {"false"}}
	return out, c.get(ctx, realm, routeClientRoles, adminPath(realm, "clients", url.PathEscape(clientUUID), "roles"), q, &out)
}

// RoleByID reads one realm or client role by id.
func (c *Client) RoleByID(ctx context.Context, realm, id string) (Role, error) {
	var out Role
	return out, c.get(ctx, realm, routeRoleByID, adminPath(realm, "roles-by-id", url.PathEscape(id)), nil, &out)
}

// RoleComposites lists the roles a composite role directly contains.
func (c *Client) RoleComposites(ctx context.Context, realm, id string) ([]Role, error) {
	var out []Role
	return out, c.get(ctx, realm, routeRoleComposites, adminPath(realm, "roles-by-id", url.PathEscape(id), "composites"), nil, &out)
}

// RealmRoleUsers lists one page of the users that hold a realm role directly.
func (c *Client) RealmRoleUsers(ctx context.Context, realm, roleName string, first, max int) ([]User, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "true")
	var out []User
	return out, c.get(ctx, realm, routeRoleUsers, adminPath(realm, "roles", url.PathEscape(roleName), "users"), q, &out)
}

// ClientRoleUsers lists one page of the users that hold a client role directly.
func (c *Client) ClientRoleUsers(ctx context.Context, realm, clientUUID, roleName string, first, max int) ([]User, error) {
	q := page(first, max)
	q.Set("briefRepresentation", "true")
	var out []User
	path := adminPath(realm, "clients", url.PathEscape(clientUUID), "roles", url.PathEscape(roleName), "users")
	return out, c.get(ctx, realm, routeClientRoleUsers, path, q, &out)
}

// Clients lists clients ordered by clientId. max <= 0 asks for all of them in one answer,
// which Keycloak allows for this endpoint and which cannot shift while the realm changes.
func (c *Client) Clients(ctx context.Context, realm string, first, max int) ([]ClientRep, error) {
	var out []ClientRep
	var q url.Values
	if max > 0 {
		q = page(first, max)
	}
	return out, c.get(ctx, realm, routeClients, adminPath(realm, "clients"), q, &out)
}

// Client reads one client by UUID.
func (c *Client) Client(ctx context.Context, realm, uuid string) (ClientRep, error) {
	var out ClientRep
	return out, c.get(ctx, realm, routeClient, adminPath(realm, "clients", url.PathEscape(uuid)), nil, &out)
}

// ServiceAccountUser reads the service-account user of a client.
func (c *Client) ServiceAccountUser(ctx context.Context, realm, clientUUID string) (User, error) {
	var out User
	path := adminPath(realm, "clients", url.PathEscape(clientUUID), "service-account-user")
	return out, c.get(ctx, realm, routeServiceAccount, path, nil, &out)
}

// EventsQuery filters an events or admin-events listing. Empty fields are not sent.
type EventsQuery struct {
	// DateFrom and DateTo are sent verbatim: "yyyy-MM-dd" on every version, epoch
	// milliseconds on 26.2+.
	DateFrom, DateTo string
	First, Max       int
	// Direction is "asc" or "desc" (26.2+; older servers ignore it).
	Direction string
}

func (q EventsQuery) values() url.Values {
	v := page(q.First, q.Max)
	if q.DateFrom != "" {
		v.Set("dateFrom", q.DateFrom)
	}
	if q.DateTo != "" {
		v.Set("dateTo", q.DateTo)
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	return v
}

// Events lists one page of user events.
func (c *Client) Events(ctx context.Context, realm string, q EventsQuery) ([]Event, error) {
	var out eventList
	return out, c.get(ctx, realm, routeEvents, adminPath(realm, "events"), q.values(), &out)
}

// AdminEvents lists one page of admin events.
func (c *Client) AdminEvents(ctx context.Context, realm string, q EventsQuery) ([]AdminEvent, error) {
	var out adminEventList
	return out, c.get(ctx, realm, routeAdminEvents, adminPath(realm, "admin-events"), q.values(), &out)
}

// EventsConfig reads the realm's event storage settings.
func (c *Client) EventsConfig(ctx context.Context, realm string) (EventsConfig, error) {
	var out EventsConfig
	return out, c.get(ctx, realm, routeEventsConfig, adminPath(realm, "events", "config"), nil, &out)
}
