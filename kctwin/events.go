package kctwin

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// User events and admin events: storage sorted by time, Keycloak's query parameters with
// the semantics of the emulated version (keycloak-api.md §6–§8).

// savedByDefault lists the EventType values Keycloak stores when enabledEventTypes is empty
// (server-spi-private/src/main/java/org/keycloak/events/EventType.java, isSaveByDefault).
var savedByDefault = []string{
	"LOGIN", "LOGIN_ERROR", "REGISTER", "REGISTER_ERROR", "LOGOUT", "LOGOUT_ERROR", "CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR",
	"CLIENT_LOGIN", "CLIENT_LOGIN_ERROR", "FEDERATED_IDENTITY_LINK", "FEDERATED_IDENTITY_LINK_ERROR",
	"REMOVE_FEDERATED_IDENTITY", "REMOVE_FEDERATED_IDENTITY_ERROR", "UPDATE_EMAIL", "UPDATE_EMAIL_ERROR",
	"UPDATE_PROFILE", "UPDATE_PROFILE_ERROR", "UPDATE_PASSWORD", "UPDATE_PASSWORD_ERROR", "UPDATE_TOTP", "UPDATE_TOTP_ERROR",
	"VERIFY_EMAIL", "VERIFY_EMAIL_ERROR", "VERIFY_PROFILE", "VERIFY_PROFILE_ERROR", "REMOVE_TOTP", "REMOVE_TOTP_ERROR",
	"GRANT_CONSENT", "GRANT_CONSENT_ERROR", "UPDATE_CONSENT", "UPDATE_CONSENT_ERROR", "REVOKE_GRANT", "REVOKE_GRANT_ERROR",
	"SEND_VERIFY_EMAIL", "SEND_VERIFY_EMAIL_ERROR", "SEND_RESET_PASSWORD", "SEND_RESET_PASSWORD_ERROR",
	"SEND_IDENTITY_PROVIDER_LINK", "SEND_IDENTITY_PROVIDER_LINK_ERROR", "RESET_PASSWORD", "RESET_PASSWORD_ERROR",
	"RESTART_AUTHENTICATION", "RESTART_AUTHENTICATION_ERROR", "IDENTITY_PROVIDER_LINK_ACCOUNT",
	"IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR", "IDENTITY_PROVIDER_FIRST_LOGIN", "IDENTITY_PROVIDER_FIRST_LOGIN_ERROR",
	"IDENTITY_PROVIDER_POST_LOGIN", "IDENTITY_PROVIDER_POST_LOGIN_ERROR", "IMPERSONATE", "IMPERSONATE_ERROR",
	"CUSTOM_REQUIRED_ACTION", "CUSTOM_REQUIRED_ACTION_ERROR", "EXECUTE_ACTIONS", "EXECUTE_ACTIONS_ERROR",
	"EXECUTE_ACTION_TOKEN", "EXECUTE_ACTION_TOKEN_ERROR", "CLIENT_REGISTER", "CLIENT_REGISTER_ERROR",
	"CLIENT_UPDATE", "CLIENT_UPDATE_ERROR", "CLIENT_DELETE", "CLIENT_DELETE_ERROR", "CLIENT_INITIATED_ACCOUNT_LINKING",
	"CLIENT_INITIATED_ACCOUNT_LINKING_ERROR", "TOKEN_EXCHANGE", "TOKEN_EXCHANGE_ERROR", "OAUTH2_DEVICE_AUTH",
	"OAUTH2_DEVICE_AUTH_ERROR", "OAUTH2_DEVICE_VERIFY_USER_CODE", "OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR",
	"OAUTH2_DEVICE_CODE_TO_TOKEN", "OAUTH2_DEVICE_CODE_TO_TOKEN_ERROR", "AUTHREQID_TO_TOKEN", "AUTHREQID_TO_TOKEN_ERROR",
	"PERMISSION_TOKEN", "DELETE_ACCOUNT", "DELETE_ACCOUNT_ERROR", "USER_DISABLED_BY_PERMANENT_LOCKOUT",
	"USER_DISABLED_BY_TEMPORARY_LOCKOUT", "UPDATE_CREDENTIAL", "UPDATE_CREDENTIAL_ERROR", "REMOVE_CREDENTIAL",
	"REMOVE_CREDENTIAL_ERROR", "FEDERATED_IDENTITY_OVERRIDE_LINK", "FEDERATED_IDENTITY_OVERRIDE_LINK_ERROR",
	"INVITE_ORG", "INVITE_ORG_ERROR",
}

// notSavedByDefault completes the set of type names the server knows.
var notSavedByDefault = []string{
	"REFRESH_TOKEN", "REFRESH_TOKEN_ERROR", "VALIDATE_ACCESS_TOKEN", "VALIDATE_ACCESS_TOKEN_ERROR",
	"INTROSPECT_TOKEN", "INTROSPECT_TOKEN_ERROR", "INVALID_SIGNATURE", "INVALID_SIGNATURE_ERROR", "REGISTER_NODE",
	"REGISTER_NODE_ERROR", "UNREGISTER_NODE", "UNREGISTER_NODE_ERROR", "USER_INFO_REQUEST", "USER_INFO_REQUEST_ERROR",
	"IDENTITY_PROVIDER_LOGIN", "IDENTITY_PROVIDER_LOGIN_ERROR", "IDENTITY_PROVIDER_RESPONSE",
	"IDENTITY_PROVIDER_RESPONSE_ERROR", "IDENTITY_PROVIDER_RETRIEVE_TOKEN", "IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR",
	"CLIENT_INFO", "CLIENT_INFO_ERROR", "PUSHED_AUTHORIZATION_REQUEST", "PUSHED_AUTHORIZATION_REQUEST_ERROR",
	"PERMISSION_TOKEN_ERROR", "USER_DISABLED_BY_PERMANENT_LOCKOUT_ERROR", "USER_DISABLED_BY_TEMPORARY_LOCKOUT_ERROR",
}

var (
	knownEventTypes = func() map[string]bool {
		m := map[string]bool{}
		for _, s := range savedByDefault {
			m[s] = true
		}
		for _, s := range notSavedByDefault {
			m[s] = true
		}
		return m
	}()
	defaultSaved = func() map[string]bool {
		m := map[string]bool{}
		for _, s := range savedByDefault {
			m[s] = true
		}
		return m
	}()
)

// OperationType and ResourceType names (server-spi-private/.../events/admin/).
var (
	knownOperationTypes = map[string]bool{"CREATE": true, "UPDATE": true, "DELETE": true, "ACTION": true}
	knownResourceTypes  = func() map[string]bool {
		m := map[string]bool{}
		for _, s := range strings.Fields(`REALM REALM_ROLE REALM_ROLE_MAPPING REALM_SCOPE_MAPPING AUTH_FLOW
			AUTH_EXECUTION_FLOW AUTH_EXECUTION AUTHENTICATOR_CONFIG REQUIRED_ACTION IDENTITY_PROVIDER
			IDENTITY_PROVIDER_MAPPER PROTOCOL_MAPPER USER USER_LOGIN_FAILURE USER_SESSION USER_FEDERATION_PROVIDER
			USER_FEDERATION_MAPPER GROUP GROUP_MEMBERSHIP CLIENT CLIENT_INITIAL_ACCESS_MODEL CLIENT_ROLE
			CLIENT_ROLE_MAPPING CLIENT_SCOPE CLIENT_SCOPE_MAPPING CLIENT_SCOPE_CLIENT_MAPPING CLUSTER_NODE COMPONENT
			AUTHORIZATION_RESOURCE_SERVER AUTHORIZATION_RESOURCE AUTHORIZATION_SCOPE AUTHORIZATION_POLICY CUSTOM
			USER_PROFILE ORGANIZATION ORGANIZATION_MEMBERSHIP REQUIRED_ACTION_CONFIG`) {
			m[s] = true
		}
		return m
	}()
)

// eventSpec is a user event to record; zero time means now.
type eventSpec struct {
	typ      string
	clientID string
	userID   string
	ip       string
	err      string
	details  []kv
	session  bool
	time     int64
	id       string
}

// eventStored reports whether rm's configuration stores events of type typ.
func (rm *realm) eventStored(typ string) bool {
	if !rm.eventsEnabled {
		return false
	}
	if len(rm.enabledEventTypes) > 0 {
		return slices.Contains(rm.enabledEventTypes, typ)
	}
	return defaultSaved[typ]
}

func (t *Twin) recordUserEventLocked(rm *realm, s eventSpec) {
	if !rm.eventStored(s.typ) {
		return
	}
	t.storeEventLocked(rm, s, t.ids)
}

func (t *Twin) storeEventLocked(rm *realm, s eventSpec, ids *idSource) *event {
	e := &event{id: s.id, time: s.time, typ: s.typ, realmID: rm.id, clientID: s.clientID, userID: s.userID,
		ipAddress: s.ip, err: s.err, details: s.details}
	if e.id == "" {
		e.id = ids.newID()
	}
	if e.time == 0 {
		e.time = t.nowMillis()
	}
	sortDetails(e.details)
	if s.session {
		e.sessionID = ids.newID()
	}
	rm.events = insertStamped(rm.events, e)
	return e
}

// stamped is what user and admin events share: both are stored sorted by time, then by
// id, and queried by time.
type stamped interface {
	stamp() (time int64, id string)
}

func (e *event) stamp() (int64, string)      { return e.time, e.id }
func (e *adminEvent) stamp() (int64, string) { return e.time, e.id }

// cmpStamped is the storage order of events: by time, then by id.
func cmpStamped[E stamped](a, b E) int {
	at, aid := a.stamp()
	bt, bid := b.stamp()
	if at != bt {
		return cmpInt(at, bt)
	}
	return strings.Compare(aid, bid)
}

func insertStamped[E stamped](s []E, e E) []E {
	i, _ := slices.BinarySearchFunc(s, e, cmpStamped[E])
	return slices.Insert(s, i, e)
}

// firstAt is the index of the first event of s at or after t (epoch ms).
func firstAt[E stamped](s []E, t int64) int {
	i, _ := slices.BinarySearchFunc(s, t, func(e E, t int64) int {
		at, _ := e.stamp()
		return cmpInt(at, t)
	})
	return i
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// --- query --------------------------------------------------------------------------

// dateBound parses dateFrom/dateTo for the emulated version. It returns the bound in epoch
// milliseconds and a 400 response on a bad value.
//
// 25.0: yyyy-MM-dd only (00:00 of that day for both bounds, so dateTo excludes its day);
// 26.2: yyyy-MM-dd in UTC (dateTo = 23:59:59.999) or epoch milliseconds, any value without
// '-' being taken as epoch (services/src/main/java/org/keycloak/services/util/DateUtil.java).
func (t *Twin) dateBound(v string, to bool) (int64, *resp) {
	label, key := "Date(From)", "dateFrom"
	if to {
		label, key = "Date(To)", "dateTo"
	}
	if !t.v26() {
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			r := badRequest("Invalid value for '" + label + "', expected format is yyyy-MM-dd")
			return 0, &r
		}
		return d.UnixMilli(), nil
	}
	bad := badRequest("Invalid value for '" + key + "', expected format is yyyy-MM-dd or an Epoch timestamp")
	if strings.Contains(v, "-") {
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			return 0, &bad
		}
		if to {
			return d.Add(24*time.Hour).UnixMilli() - 1, nil
		}
		return d.UnixMilli(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &bad
	}
	return n, nil
}

type eventQuery struct {
	from, to    int64
	first, max  int
	asc         bool
	hasFrom     bool
	hasTo       bool
	errResponse *resp
}

func (rc *rctx) eventQuery(p *params) eventQuery {
	q := eventQuery{from: -1 << 62, to: 1 << 62, max: 100}
	if v, ok := p.str("dateFrom"); ok && v != "" {
		n, r := rc.t.dateBound(v, false)
		if r != nil {
			q.errResponse = r
			return q
		}
		q.from, q.hasFrom = n, true
	}
	if v, ok := p.str("dateTo"); ok && v != "" {
		n, r := rc.t.dateBound(v, true)
		if r != nil {
			q.errResponse = r
			return q
		}
		q.to, q.hasTo = n, true
	}
	if n, ok := p.int("first"); ok {
		q.first = n
	}
	if n, ok := p.int("max"); ok {
		q.max = n
	}
	if p.bad != "" {
		r := notFound("HTTP 404 Not Found")
		q.errResponse = &r
		return q
	}
	// 25.0 has no direction parameter: JAX-RS ignores it. On 26.2 it is case-sensitive,
	// and the rejection names "sortDirection" although the key is "direction".
	if d, ok := p.str("direction"); ok && d != "" && rc.t.v26() {
		switch d {
		case "asc":
			q.asc = true
		case "desc":
		default:
			r := badRequest("Invalid value for sortDirection, expected value is asc or desc")
			q.errResponse = &r
			return q
		}
	}
	return q
}

// walkOrder visits the indexes lo..hi-1 of a slice sorted by (time, id) in the order the
// twin answers: by time ascending or descending, but inside one millisecond always by id
// ascending. Keycloak sorts by time only, so same-millisecond order is undefined; the twin
// picks an order that is stable yet unrelated to insertion, and not reversed by direction,
// which breaks pollers that assume otherwise.
func walkOrder(times func(i int) int64, lo, hi int, asc bool, visit func(i int) bool) {
	if asc {
		for i := lo; i < hi; i++ {
			if !visit(i) {
				return
			}
		}
		return
	}
	i := hi - 1
	for i >= lo {
		j := i
		for j-1 >= lo && times(j-1) == times(i) {
			j--
		}
		for k := j; k <= i; k++ {
			if !visit(k) {
				return
			}
		}
		i = j - 1
	}
}

// GET /admin/realms/{realm}/events
func (rc *rctx) getEvents() resp {
	if r, ok := rc.need(roleViewEvents); !ok {
		return r
	}
	p := rc.params()
	types := p.q["type"]
	if !allKnown(types, knownEventTypes) {
		// EventType.valueOf without a guard: an unhandled exception, hence 500.
		return serverError()
	}
	q := rc.eventQuery(p)
	if q.errResponse != nil {
		return *q.errResponse
	}
	cl, hasCl := p.str("client")
	us, hasUs := p.str("user")
	ip, hasIP := p.str("ipAddress")
	withID := rc.t.v26()
	return pageEvents(rc, rc.realm.events, q, func(e *event) bool {
		if len(types) > 0 && !slices.Contains(types, e.typ) {
			return false
		}
		return !((hasCl && e.clientID != cl) || (hasUs && e.userID != us) || (hasIP && e.ipAddress != ip))
	}, func(b []byte, e *event) []byte { return appendEvent(b, e, withID) })
}

// allKnown reports whether every name is in known; an unknown enum name in an event query
// is an unhandled exception on Keycloak.
func allKnown(names []string, known map[string]bool) bool {
	for _, n := range names {
		if !known[n] {
			return false
		}
	}
	return true
}

// pageEvents answers an event listing: the events of ev inside q's dates that keep
// accepts, visited in walkOrder, the first q.first of them skipped and at most q.max
// returned, each encoded by enc.
func pageEvents[E stamped](rc *rctx, ev []E, q eventQuery, keep func(E) bool, enc func([]byte, E) []byte) resp {
	lo, hi := firstAt(ev, q.from), firstAt(ev, q.to+1)
	b := append(*rc.t.bufs.get(), '[')
	n := 0
	skip := max0(q.first)
	times := func(i int) int64 {
		at, _ := ev[i].stamp()
		return at
	}
	walkOrder(times, lo, hi, q.asc, func(i int) bool {
		if q.max >= 0 && n >= q.max {
			return false
		}
		e := ev[i]
		if !keep(e) {
			return true
		}
		if skip > 0 {
			skip--
			return true
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = enc(b, e)
		n++
		return true
	})
	return pooledResp(append(b, ']'))
}

// appendEvent encodes an EventRepresentation; details keys are stored sorted.
func appendEvent(b []byte, e *event, withID bool) []byte {
	b = append(b, '{')
	if withID {
		b = appendJSONString(append(b, `"id":`...), e.id)
		b = append(b, ',')
	}
	b = strconv.AppendInt(append(b, `"time":`...), e.time, 10)
	b = appendStrField(b, "type", e.typ)
	b = appendStrField(b, "realmId", e.realmID)
	for _, f := range [...]struct{ k, v string }{{"clientId", e.clientID}, {"userId", e.userID},
		{"sessionId", e.sessionID}, {"ipAddress", e.ipAddress}, {"error", e.err}} {
		if f.v != "" {
			b = appendStrField(b, f.k, f.v)
		}
	}
	if len(e.details) > 0 {
		b = appendDetails(appendField(b, "details"), e.details)
	}
	return append(b, '}')
}

func appendDetails(b []byte, d []kv) []byte {
	b = append(b, '{')
	for i, x := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x.k)
		b = append(b, ':')
		b = appendJSONString(b, x.v)
	}
	return append(b, '}')
}

// pooledResp wraps a body built in a buffer from the Twin's bufPool.
func pooledResp(b []byte) resp {
	bp := new([]byte)
	*bp = b
	return resp{status: 200, body: b, pooled: bp}
}

// GET /admin/realms/{realm}/admin-events
func (rc *rctx) getAdminEvents() resp {
	if r, ok := rc.need(roleViewEvents); !ok {
		return r
	}
	p := rc.params()
	ops, rts := p.q["operationTypes"], p.q["resourceTypes"]
	if !allKnown(ops, knownOperationTypes) || !allKnown(rts, knownResourceTypes) {
		return serverError()
	}
	q := rc.eventQuery(p)
	if q.errResponse != nil {
		return *q.errResponse
	}
	aRealm, hasARealm := p.str("authRealm")
	aClient, hasAClient := p.str("authClient")
	aUser, hasAUser := p.str("authUser")
	aIP, hasAIP := p.str("authIpAddress")
	rp, hasRP := p.str("resourcePath")
	v26 := rc.t.v26()
	return pageEvents(rc, rc.realm.adminEvents, q, func(e *adminEvent) bool {
		if (len(ops) > 0 && !slices.Contains(ops, e.operationType)) || (len(rts) > 0 && !slices.Contains(rts, e.resourceType)) {
			return false
		}
		if (hasARealm && e.authRealmID != aRealm) || (hasAClient && e.authClientID != aClient) ||
			(hasAUser && e.authUserID != aUser) || (hasAIP && e.authIP != aIP) {
			return false
		}
		// resourcePath is a LIKE pattern with '*' standing for '%'.
		return !hasRP || globMatch(rp, e.resourcePath)
	}, func(b []byte, e *adminEvent) []byte { return appendAdminEvent(b, e, v26) })
}

// appendAdminEvent encodes an AdminEventRepresentation: 25.0 has neither id nor details.
func appendAdminEvent(b []byte, e *adminEvent, v26 bool) []byte {
	b = append(b, '{')
	if v26 {
		b = appendJSONString(append(b, `"id":`...), e.id)
		b = append(b, ',')
	}
	b = strconv.AppendInt(append(b, `"time":`...), e.time, 10)
	b = appendStrField(b, "realmId", e.realmID)
	b = append(appendField(b, "authDetails"), '{')
	first := true
	for _, f := range [...]struct{ k, v string }{{"realmId", e.authRealmID}, {"clientId", e.authClientID},
		{"userId", e.authUserID}, {"ipAddress", e.authIP}} {
		if f.v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, f.k)
		b = appendJSONString(append(b, ':'), f.v)
	}
	b = append(b, '}')
	b = appendStrField(b, "operationType", e.operationType)
	b = appendStrField(b, "resourceType", e.resourceType)
	if e.resourcePath != "" {
		b = appendStrField(b, "resourcePath", e.resourcePath)
	}
	if e.hasRep {
		b = appendStrField(b, "representation", e.representation)
	}
	if e.err != "" {
		b = appendStrField(b, "error", e.err)
	}
	if v26 && len(e.details) > 0 {
		b = appendDetails(appendField(b, "details"), e.details)
	}
	return append(b, '}')
}

type eventsConfigRep struct {
	EventsEnabled             bool     `json:"eventsEnabled"`
	EventsExpiration          *int64   `json:"eventsExpiration,omitempty"`
	EventsListeners           []string `json:"eventsListeners"`
	EnabledEventTypes         []string `json:"enabledEventTypes"`
	AdminEventsEnabled        bool     `json:"adminEventsEnabled"`
	AdminEventsDetailsEnabled bool     `json:"adminEventsDetailsEnabled"`
}

// GET /admin/realms/{realm}/events/config. An empty enabledEventTypes is reported as the
// saved-by-default list, as RealmAdminResource.getRealmEventsConfig does.
func (rc *rctx) getEventsConfig() resp {
	if r, ok := rc.need(roleViewEvents); !ok {
		return r
	}
	rm := rc.realm
	rep := eventsConfigRep{EventsEnabled: rm.eventsEnabled, EventsListeners: nonNil(slices.Clone(rm.eventsListeners)),
		EnabledEventTypes: slices.Clone(rm.enabledEventTypes), AdminEventsEnabled: rm.adminEventsEnabled,
		AdminEventsDetailsEnabled: rm.adminEventsDetailsEnabled}
	if rm.eventsExpiration != 0 { // absent exactly when zero; a negative value shows
		x := rm.eventsExpiration
		rep.EventsExpiration = &x
	}
	if len(rep.EnabledEventTypes) == 0 {
		for _, s := range savedByDefault {
			if !strings.HasSuffix(s, "_ERROR") || defaultSaved[s] {
				rep.EnabledEventTypes = append(rep.EnabledEventTypes, s)
			}
		}
	}
	return jsonResp(200, rep)
}

// --- expiration and injection --------------------------------------------------------

// ExpireEvents runs Keycloak's periodic cleanup once: it deletes user events older than
// the realm's eventsExpiration and admin events older than its adminEventsExpiration
// attribute (both seconds, relative to the Twin's clock). Realms without an expiration keep
// everything. Keycloak never expires at read time, and neither does the twin.
func (t *Twin) ExpireEvents() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.nowMillis()
	for _, rm := range t.realms {
		if rm.eventsExpiration > 0 {
			cut := now - rm.eventsExpiration*1000
			rm.events = slices.Delete(rm.events, 0, firstAt(rm.events, cut))
		}
		if s := rm.attributes["adminEventsExpiration"]; s != "" {
			if secs, err := strconv.ParseInt(s, 10, 64); err == nil && secs > 0 {
				cut := now - secs*1000
				rm.adminEvents = slices.Delete(rm.adminEvents, 0, firstAt(rm.adminEvents, cut))
			}
		}
	}
}

// Event is a user event to inject, or one read back from Dump.
type Event struct {
	ID        string            `json:"id"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	RealmID   string            `json:"realmId,omitempty"`
	ClientID  string            `json:"clientId,omitempty"`
	UserID    string            `json:"userId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	IPAddress string            `json:"ipAddress,omitempty"`
	Error     string            `json:"error,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// AdminEvent is an admin event to inject, or one read back from Dump.
type AdminEvent struct {
	ID             string            `json:"id"`
	Time           int64             `json:"time"`
	RealmID        string            `json:"realmId,omitempty"`
	AuthRealmID    string            `json:"authRealmId,omitempty"`
	AuthClientID   string            `json:"authClientId,omitempty"`
	AuthUserID     string            `json:"authUserId,omitempty"`
	AuthIPAddress  string            `json:"authIpAddress,omitempty"`
	OperationType  string            `json:"operationType"`
	ResourceType   string            `json:"resourceType"`
	ResourcePath   string            `json:"resourcePath,omitempty"`
	Representation *string           `json:"representation,omitempty"`
	Error          string            `json:"error,omitempty"`
	Details        map[string]string `json:"details,omitempty"`
}

func detailsOf(m map[string]string) []kv {
	var out []kv
	for _, k := range sortedKeys(m) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// InjectEvent stores a user event as given, whatever the realm's event settings, at
// e.Time (epoch ms; 0 means now) — for late events and same-millisecond bursts. An empty
// ID gets a random one. It returns the stored id.
func (t *Twin) InjectEvent(realmName string, e Event) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return "", err
	}
	if e.Type == "" {
		return "", errorf("inject event: empty type")
	}
	stored := t.storeEventLocked(rm, eventSpec{typ: e.Type, clientID: e.ClientID, userID: e.UserID, ip: e.IPAddress,
		err: e.Error, details: detailsOf(e.Details), time: e.Time, id: e.ID}, t.ids)
	stored.sessionID = e.SessionID
	return stored.id, nil
}

// InjectAdminEvent stores an admin event as given (see InjectEvent). Representation is
// kept only when non-nil.
func (t *Twin) InjectAdminEvent(realmName string, e AdminEvent) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, err := t.realmLocked(realmName)
	if err != nil {
		return "", err
	}
	if e.OperationType == "" || e.ResourceType == "" {
		return "", errorf("inject admin event: operation and resource type are required")
	}
	ae := &adminEvent{id: e.ID, time: e.Time, realmID: rm.id, authRealmID: e.AuthRealmID, authClientID: e.AuthClientID,
		authUserID: e.AuthUserID, authIP: e.AuthIPAddress, operationType: e.OperationType, resourceType: e.ResourceType,
		resourcePath: e.ResourcePath, err: e.Error, details: detailsOf(e.Details)}
	if e.Representation != nil {
		ae.representation, ae.hasRep = *e.Representation, true
	}
	if ae.id == "" {
		ae.id = t.ids.newID()
	}
	if ae.time == 0 {
		ae.time = t.nowMillis()
	}
	rm.adminEvents = insertStamped(rm.adminEvents, ae)
	return ae.id, nil
}

func eventToPublic(e *event) Event {
	out := Event{ID: e.id, Time: e.time, Type: e.typ, RealmID: e.realmID, ClientID: e.clientID, UserID: e.userID,
		SessionID: e.sessionID, IPAddress: e.ipAddress, Error: e.err}
	out.Details = detailsMap(e.details)
	return out
}

func adminEventToPublic(e *adminEvent) AdminEvent {
	out := AdminEvent{ID: e.id, Time: e.time, RealmID: e.realmID, AuthRealmID: e.authRealmID, AuthClientID: e.authClientID,
		AuthUserID: e.authUserID, AuthIPAddress: e.authIP, OperationType: e.operationType, ResourceType: e.resourceType,
		ResourcePath: e.resourcePath, Error: e.err}
	if e.hasRep {
		s := e.representation
		out.Representation = &s
	}
	out.Details = detailsMap(e.details)
	return out
}

// detailsMap is the public form of stored details: nil when there are none.
func detailsMap(d []kv) map[string]string {
	if len(d) == 0 {
		return nil
	}
	out := make(map[string]string, len(d))
	for _, x := range d {
		out[x.k] = x.v
	}
	return out
}

func sortDetails(d []kv) {
	slices.SortStableFunc(d, func(a, b kv) int { return strings.Compare(a.k, b.k) })
}
