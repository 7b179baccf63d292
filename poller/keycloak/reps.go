package keycloak

// Representation types: the subset of Keycloak's JSON that keycdc reads. Optional fields
// are pointers so that "Keycloak left it out" stays distinguishable from an empty value.
// Fields that carry secrets (a client's "secret", "registrationAccessToken", credentials)
// are deliberately absent, so they are dropped while decoding and can never travel further.

// User is a UserRepresentation. The "access" field (the caller's permissions) is not
// decoded: it describes keycdc, not the user.
type User struct {
	ID                     string              `json:"id"`
	Username               string              `json:"username"`
	Email                  *string             `json:"email,omitempty"`
	FirstName              *string             `json:"firstName,omitempty"`
	LastName               *string             `json:"lastName,omitempty"`
	Enabled                bool                `json:"enabled"`
	EmailVerified          bool                `json:"emailVerified"`
	CreatedTimestamp       *int64              `json:"createdTimestamp,omitempty"`
	FederationLink         *string             `json:"federationLink,omitempty"`
	ServiceAccountClientID *string             `json:"serviceAccountClientId,omitempty"`
	Attributes             map[string][]string `json:"attributes,omitempty"`
	RequiredActions        []string            `json:"requiredActions,omitempty"`
}

// Group is a GroupRepresentation. SubGroupCount is present on listings since Keycloak 23.
type Group struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Path          string  `json:"path"`
	ParentID      *string `json:"parentId,omitempty"`
	Description   *string `json:"description,omitempty"`
	SubGroupCount *int64  `json:"subGroupCount,omitempty"`
	// SubGroups is only filled by searches and by old servers; keycdc walks /children.
	SubGroups []Group `json:"subGroups,omitempty"`
}

// Role is a RoleRepresentation. ContainerID is the realm id for realm roles and the
// client's UUID for client roles.
type Role struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
	Composite   bool    `json:"composite"`
	ClientRole  bool    `json:"clientRole"`
	ContainerID string  `json:"containerId"`
}

// ClientRep is a ClientRepresentation (a Keycloak client, OIDC or SAML) without its secret-bearing fields.
type ClientRep struct {
	ID                     string  `json:"id"`
	ClientID               string  `json:"clientId"`
	Name                   *string `json:"name,omitempty"`
	Description            *string `json:"description,omitempty"`
	Enabled                bool    `json:"enabled"`
	PublicClient           bool    `json:"publicClient"`
	BearerOnly             bool    `json:"bearerOnly"`
	ServiceAccountsEnabled bool    `json:"serviceAccountsEnabled"`
	Protocol               *string `json:"protocol,omitempty"`
	BaseURL                *string `json:"baseUrl,omitempty"`
	RootURL                *string `json:"rootUrl,omitempty"`
}

// Mappings is a MappingsRepresentation: a user's direct realm and client role mappings.
// ClientMappings is keyed by the OAuth clientId.
type Mappings struct {
	RealmMappings  []Role                    `json:"realmMappings,omitempty"`
	ClientMappings map[string]ClientMappings `json:"clientMappings,omitempty"`
}

// ClientMappings is a ClientMappingsRepresentation: ID is the client's UUID, Client its
// OAuth clientId.
type ClientMappings struct {
	ID       string `json:"id"`
	Client   string `json:"client"`
	Mappings []Role `json:"mappings,omitempty"`
}

// Event is an EventRepresentation (a user event). ID is only sent by Keycloak 26.2+.
type Event struct {
	ID        *string           `json:"id,omitempty"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	RealmID   *string           `json:"realmId,omitempty"`
	ClientID  *string           `json:"clientId,omitempty"`
	UserID    *string           `json:"userId,omitempty"`
	SessionID *string           `json:"sessionId,omitempty"`
	IPAddress *string           `json:"ipAddress,omitempty"`
	Error     *string           `json:"error,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// AdminEvent is an AdminEventRepresentation. ID is only sent by Keycloak 26.2+, Details by
// 26.1+, Representation only when the realm stores admin-event details.
type AdminEvent struct {
	ID             *string           `json:"id,omitempty"`
	Time           int64             `json:"time"`
	RealmID        *string           `json:"realmId,omitempty"`
	AuthDetails    *AuthDetails      `json:"authDetails,omitempty"`
	OperationType  string            `json:"operationType"`
	ResourceType   string            `json:"resourceType"`
	ResourcePath   *string           `json:"resourcePath,omitempty"`
	Representation *string           `json:"representation,omitempty"`
	Error          *string           `json:"error,omitempty"`
	Details        map[string]string `json:"details,omitempty"`
}

// AuthDetails says who made an admin change. ClientID is the client's UUID.
type AuthDetails struct {
	RealmID   *string `json:"realmId,omitempty"`
	ClientID  *string `json:"clientId,omitempty"`
	UserID    *string `json:"userId,omitempty"`
	IPAddress *string `json:"ipAddress,omitempty"`
}

// EventsConfig is a RealmEventsConfigRepresentation. EventsExpiration is in seconds.
type EventsConfig struct {
	EventsEnabled             bool     `json:"eventsEnabled"`
	EventsExpiration          *int64   `json:"eventsExpiration,omitempty"`
	EventsListeners           []string `json:"eventsListeners,omitempty"`
	EnabledEventTypes         []string `json:"enabledEventTypes,omitempty"`
	AdminEventsEnabled        bool     `json:"adminEventsEnabled"`
	AdminEventsDetailsEnabled bool     `json:"adminEventsDetailsEnabled"`
}
