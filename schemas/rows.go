package schemas

import "time"

// Go row types, one pair per table: <Table>Row is the value record, <Table>Key the key record.
// Where the key holds every column (user_attribute, user_required_action, group_member,
// role_composite) one type serves as both. Optional columns are pointers (nil = null); the
// avro tags name the Avro fields. Column meanings are documented in the .avsc files.
//
//	table                 key type                 value type
//	user                  UserKey                  UserRow
//	user_attribute        UserAttributeRow         UserAttributeRow
//	user_realm_role       UserRealmRoleKey         UserRealmRoleRow
//	user_client_role      UserClientRoleKey        UserClientRoleRow
//	user_required_action  UserRequiredActionRow    UserRequiredActionRow
//	group                 GroupKey                 GroupRow
//	group_member          GroupMemberRow           GroupMemberRow
//	role                  RoleKey                  RoleRow
//	role_composite        RoleCompositeRow         RoleCompositeRow
//	client                ClientKey                ClientRow
//	event                 EventKey                 EventRow
//	admin_event           AdminEventKey            AdminEventRow

// UserKey is the key of the user table.
type UserKey struct {
	ID string `avro:"id"`
}

// UserRow is a row of the user table.
type UserRow struct {
	ID                     string     `avro:"id"`
	Username               string     `avro:"username"`
	Email                  *string    `avro:"email"`
	FirstName              *string    `avro:"first_name"`
	LastName               *string    `avro:"last_name"`
	Enabled                bool       `avro:"enabled"`
	EmailVerified          bool       `avro:"email_verified"`
	CreatedTimestamp       *time.Time `avro:"created_timestamp"`
	ServiceAccountClientID *string    `avro:"service_account_client_id"`
	FederationLink         *string    `avro:"federation_link"`
}

// Key returns the row's key.
func (r UserRow) Key() UserKey { return UserKey{ID: r.ID} }

// UserAttributeRow is a row of the user_attribute table and also its key: one value of one
// attribute of one user.
type UserAttributeRow struct {
	UserID         string `avro:"user_id"`
	AttributeKey   string `avro:"attribute_key"`
	AttributeValue string `avro:"attribute_value"`
}

// UserRealmRoleKey is the key of the user_realm_role table.
type UserRealmRoleKey struct {
	UserID   string `avro:"user_id"`
	RoleName string `avro:"role_name"`
}

// UserRealmRoleRow is a row of the user_realm_role table: a direct realm role mapping.
type UserRealmRoleRow struct {
	UserID   string  `avro:"user_id"`
	RoleName string  `avro:"role_name"`
	RoleID   *string `avro:"role_id"`
}

// Key returns the row's key.
func (r UserRealmRoleRow) Key() UserRealmRoleKey {
	return UserRealmRoleKey{UserID: r.UserID, RoleName: r.RoleName}
}

// UserClientRoleKey is the key of the user_client_role table.
type UserClientRoleKey struct {
	UserID   string `avro:"user_id"`
	ClientID string `avro:"client_id"`
	RoleName string `avro:"role_name"`
}

// UserClientRoleRow is a row of the user_client_role table: a direct client role mapping.
// ClientID is the OAuth clientId; ClientUUID the client's internal id.
type UserClientRoleRow struct {
	UserID     string  `avro:"user_id"`
	ClientID   string  `avro:"client_id"`
	RoleName   string  `avro:"role_name"`
	RoleID     *string `avro:"role_id"`
	ClientUUID *string `avro:"client_uuid"`
}

// Key returns the row's key.
func (r UserClientRoleRow) Key() UserClientRoleKey {
	return UserClientRoleKey{UserID: r.UserID, ClientID: r.ClientID, RoleName: r.RoleName}
}

// UserRequiredActionRow is a row of the user_required_action table and also its key.
type UserRequiredActionRow struct {
	UserID         string `avro:"user_id"`
	RequiredAction string `avro:"required_action"`
}

// GroupKey is the key of the group table.
type GroupKey struct {
	ID string `avro:"id"`
}

// GroupRow is a row of the group table.
type GroupRow struct {
	ID          string  `avro:"id"`
	Name        string  `avro:"name"`
	Path        string  `avro:"path"`
	ParentID    *string `avro:"parent_id"`
	Description *string `avro:"description"`
}

// Key returns the row's key.
func (r GroupRow) Key() GroupKey { return GroupKey{ID: r.ID} }

// GroupMemberRow is a row of the group_member table and also its key.
type GroupMemberRow struct {
	GroupID string `avro:"group_id"`
	UserID  string `avro:"user_id"`
}

// RoleKey is the key of the role table.
type RoleKey struct {
	ID string `avro:"id"`
}

// RoleRow is a row of the role table. ContainerID is the realm's id for a realm role and the
// client's internal id for a client role; ClientID is the OAuth clientId of a client role.
type RoleRow struct {
	ID          string  `avro:"id"`
	Name        string  `avro:"name"`
	Description *string `avro:"description"`
	Composite   bool    `avro:"composite"`
	ClientRole  bool    `avro:"client_role"`
	ContainerID string  `avro:"container_id"`
	ClientID    *string `avro:"client_id"`
}

// Key returns the row's key.
func (r RoleRow) Key() RoleKey { return RoleKey{ID: r.ID} }

// RoleCompositeRow is a row of the role_composite table and also its key: RoleID includes
// CompositeRoleID.
type RoleCompositeRow struct {
	RoleID          string `avro:"role_id"`
	CompositeRoleID string `avro:"composite_role_id"`
}

// ClientKey is the key of the client table.
type ClientKey struct {
	ID string `avro:"id"`
}

// ClientRow is a row of the client table. ID is the internal id (UUID), ClientID the OAuth
// clientId.
type ClientRow struct {
	ID                     string  `avro:"id"`
	ClientID               string  `avro:"client_id"`
	Name                   *string `avro:"name"`
	Description            *string `avro:"description"`
	Enabled                bool    `avro:"enabled"`
	PublicClient           bool    `avro:"public_client"`
	Protocol               *string `avro:"protocol"`
	BaseURL                *string `avro:"base_url"`
	RootURL                *string `avro:"root_url"`
	BearerOnly             bool    `avro:"bearer_only"`
	ServiceAccountsEnabled bool    `avro:"service_accounts_enabled"`
}

// Key returns the row's key.
func (r ClientRow) Key() ClientKey { return ClientKey{ID: r.ID} }

// EventKey is the key of the event table.
type EventKey struct {
	ID string `avro:"id"`
}

// EventRow is a row of the event table (a user event). A nil Details is null; a non-nil
// empty one is an empty map.
type EventRow struct {
	ID        string            `avro:"id"`
	Time      time.Time         `avro:"time"`
	Type      string            `avro:"type"`
	RealmID   *string           `avro:"realm_id"`
	UserID    *string           `avro:"user_id"`
	SessionID *string           `avro:"session_id"`
	IPAddress *string           `avro:"ip_address"`
	ClientID  *string           `avro:"client_id"`
	Error     *string           `avro:"error"`
	Details   map[string]string `avro:"details"`
}

// Key returns the row's key.
func (r EventRow) Key() EventKey { return EventKey{ID: r.ID} }

// AdminEventKey is the key of the admin_event table.
type AdminEventKey struct {
	ID string `avro:"id"`
}

// AdminEventRow is a row of the admin_event table. AuthClientID is the client's internal id,
// as Keycloak records it. A nil Details is null; a non-nil empty one is an empty map.
type AdminEventRow struct {
	ID             string            `avro:"id"`
	Time           time.Time         `avro:"time"`
	OperationType  string            `avro:"operation_type"`
	ResourceType   string            `avro:"resource_type"`
	ResourcePath   *string           `avro:"resource_path"`
	RealmID        *string           `avro:"realm_id"`
	AuthRealmID    *string           `avro:"auth_realm_id"`
	AuthClientID   *string           `avro:"auth_client_id"`
	AuthUserID     *string           `avro:"auth_user_id"`
	AuthIPAddress  *string           `avro:"auth_ip_address"`
	Error          *string           `avro:"error"`
	Representation *string           `avro:"representation"`
	Details        map[string]string `avro:"details"`
}

// Key returns the row's key.
func (r AdminEventRow) Key() AdminEventKey { return AdminEventKey{ID: r.ID} }

// details returns the trailing map of a value of a table with one (see prepareTrailingMap).
func details(v any) (map[string]string, bool) {
	switch r := v.(type) {
	case EventRow:
		return r.Details, true
	case *EventRow:
		return r.Details, true
	case AdminEventRow:
		return r.Details, true
	case *AdminEventRow:
		return r.Details, true
	}
	return nil, false
}
