package kctwin

import (
	"slices"
	"strings"
	"sync/atomic"
)

// The twin's own model of a realm. It shares no types with keycdc's Keycloak client on
// purpose: both are written from Keycloak's documented behaviour, so a misreading in one
// shows up as a test failure instead of being baked into both.
//
// All fields are guarded by Twin.mu, except the cached JSON of users (atomic) which readers
// fill under the read lock.

type realm struct {
	id, name    string
	displayName string
	enabled     bool

	eventsEnabled             bool
	eventsExpiration          int64 // seconds; 0 = never
	eventsListeners           []string
	enabledEventTypes         []string
	adminEventsEnabled        bool
	adminEventsDetailsEnabled bool
	attributes                map[string]string // realm attributes, incl. adminEventsExpiration
	editUsernameAllowed       bool              // off by default: PUT /users/{id} keeps the username

	users     map[string]*user // by id
	byName    []*user          // all users, sorted by username
	humans    []*user          // users without a service-account link, sorted by username
	groups    map[string]*group
	top       []*group           // top-level groups sorted by name
	roles     map[string]*role   // by id
	realmRole map[string]*role   // realm roles by name
	realmList []*role            // realm roles sorted by name
	clients   map[string]*client // by uuid
	byClient  map[string]*client // by clientId
	clientLst []*client          // sorted by clientId

	defaultRole *role
	poller      *client // the confidential client handed to keycdc

	events      []*event      // sorted by (time, id)
	adminEvents []*adminEvent // sorted by (time, id)
}

type attr struct {
	key    string
	values []string
}

type user struct {
	id, username, email, firstName, lastName string
	enabled, emailVerified                   bool
	created                                  int64
	federationLink                           string
	saClient                                 *client // non-nil: service-account user of this client
	attrs                                    []attr  // sorted by key
	requiredActions                          []string
	roles                                    []*role  // direct realm and client role mappings
	groups                                   []*group // direct memberships
	password                                 string

	full  atomic.Pointer[[]byte] // cached full representation without "access" and closing brace
	brief atomic.Pointer[[]byte] // same for the brief representation
}

func (u *user) invalidate() {
	u.full.Store(nil)
	u.brief.Store(nil)
}

type group struct {
	id, name, description string
	parent                *group
	children              []*group // sorted by name
	members               []*user  // direct members sorted by username
	attrs                 []attr
	roles                 []*role
}

func (g *group) path() string {
	if g.parent == nil {
		return "/" + g.name
	}
	return g.parent.path() + "/" + g.name
}

type role struct {
	id, name, description string
	client                *client // nil for realm roles
	composites            []*role
	users                 []*user // users holding the role directly, sorted by username
	attrs                 []attr
}

func (r *role) containerID(rm *realm) string {
	if r.client != nil {
		return r.client.id
	}
	return rm.id
}

type client struct {
	id, clientID, name, description string
	enabled, public, bearerOnly     bool
	serviceAccounts                 bool
	standardFlow, directAccess      bool
	protocol, rootURL, baseURL      string
	secret                          string
	redirectURIs, webOrigins        []string
	attributes                      map[string]string
	roles                           map[string]*role // by name
	roleList                        []*role          // sorted by name
	saUser                          *user
}

func (c *client) confidential() bool { return !c.public && !c.bearerOnly }

type kv struct{ k, v string }

type event struct {
	id        string
	time      int64
	typ       string
	realmID   string
	clientID  string
	userID    string
	sessionID string
	ipAddress string
	err       string
	details   []kv
}

type adminEvent struct {
	id             string
	time           int64
	realmID        string
	authRealmID    string
	authClientID   string
	authUserID     string
	authIP         string
	operationType  string
	resourceType   string
	resourcePath   string
	representation string
	hasRep         bool
	err            string
	details        []kv
}

func newRealm(id, name string) *realm {
	return &realm{
		id: id, name: name, enabled: true,
		eventsListeners: []string{"jboss-logging"},
		attributes:      map[string]string{},
		users:           map[string]*user{},
		groups:          map[string]*group{},
		roles:           map[string]*role{},
		realmRole:       map[string]*role{},
		clients:         map[string]*client{},
		byClient:        map[string]*client{},
	}
}

// --- sorted-slice helpers -----------------------------------------------------------

func cmpUser(a *user, name string) int { return strings.Compare(a.username, name) }

func insertUser(s []*user, u *user) []*user {
	i, found := slices.BinarySearchFunc(s, u.username, cmpUser)
	if found && s[i] == u {
		return s
	}
	return slices.Insert(s, i, u)
}

func removeUser(s []*user, u *user) []*user {
	i, found := slices.BinarySearchFunc(s, u.username, cmpUser)
	if found && s[i] == u {
		return slices.Delete(s, i, i+1)
	}
	if j := slices.Index(s, u); j >= 0 {
		return slices.Delete(s, j, j+1)
	}
	return s
}

func containsUser(s []*user, u *user) bool {
	i, found := slices.BinarySearchFunc(s, u.username, cmpUser)
	return found && s[i] == u
}

func cmpGroupName(a *group, name string) int { return strings.Compare(a.name, name) }

func insertGroup(s []*group, g *group) []*group {
	i, _ := slices.BinarySearchFunc(s, g.name, cmpGroupName)
	return slices.Insert(s, i, g)
}

// without removes x from an unsorted list (or a sorted one, keeping its order).
func without[T comparable](s []T, x T) []T {
	if j := slices.Index(s, x); j >= 0 {
		return slices.Delete(s, j, j+1)
	}
	return s
}

func cmpRoleName(a *role, name string) int { return strings.Compare(a.name, name) }

func insertRole(s []*role, r *role) []*role {
	i, _ := slices.BinarySearchFunc(s, r.name, cmpRoleName)
	return slices.Insert(s, i, r)
}

func cmpClientID(a *client, id string) int { return strings.Compare(a.clientID, id) }

// --- index maintenance -------------------------------------------------------------

func (rm *realm) userByName(name string) *user {
	i, found := slices.BinarySearchFunc(rm.byName, name, cmpUser)
	if found {
		return rm.byName[i]
	}
	return nil
}

func (rm *realm) userByEmail(email string) *user {
	if email == "" {
		return nil
	}
	for _, u := range rm.byName {
		if strings.EqualFold(u.email, email) {
			return u
		}
	}
	return nil
}

func (rm *realm) addUser(u *user) {
	rm.users[u.id] = u
	rm.byName = insertUser(rm.byName, u)
	if u.saClient == nil {
		rm.humans = insertUser(rm.humans, u)
	}
}

// sortedLists are the lists sorted by username that hold u: the realm's indexes, the
// members of its groups and the holders of its roles.
func (rm *realm) sortedLists(u *user) []*[]*user {
	out := []*[]*user{&rm.byName}
	if u.saClient == nil {
		out = append(out, &rm.humans)
	}
	for _, g := range u.groups {
		out = append(out, &g.members)
	}
	for _, r := range u.roles {
		out = append(out, &r.users)
	}
	return out
}

// renameUser moves u to its new place in every index sorted by username.
func (rm *realm) renameUser(u *user, newName string) {
	lists := rm.sortedLists(u)
	for _, l := range lists {
		*l = removeUser(*l, u)
	}
	u.username = newName
	for _, l := range lists {
		*l = insertUser(*l, u)
	}
}

func (rm *realm) deleteUser(u *user) {
	delete(rm.users, u.id)
	for _, l := range rm.sortedLists(u) {
		*l = removeUser(*l, u)
	}
	if u.saClient != nil && u.saClient.saUser == u {
		u.saClient.saUser = nil
	}
}

func (rm *realm) joinGroup(u *user, g *group) bool { return link(&u.groups, g, &g.members, u) }

func (rm *realm) leaveGroup(u *user, g *group) bool { return unlink(&u.groups, g, &g.members, u) }

func (rm *realm) grant(u *user, r *role) bool { return link(&u.roles, r, &r.users, u) }

func (rm *realm) revoke(u *user, r *role) bool { return unlink(&u.roles, r, &r.users, u) }

// link records a user's membership of a group or direct mapping of a role on both sides:
// x at the end of the user's own list, the user in x's list sorted by username. It reports
// false, changing nothing, when the link exists.
func link[T comparable](own *[]T, x T, members *[]*user, u *user) bool {
	if slices.Contains(*own, x) {
		return false
	}
	*own = append(*own, x)
	*members = insertUser(*members, u)
	return true
}

// unlink undoes link; false when there was no link.
func unlink[T comparable](own *[]T, x T, members *[]*user, u *user) bool {
	if !slices.Contains(*own, x) {
		return false
	}
	*own = without(*own, x)
	*members = removeUser(*members, u)
	return true
}

// siblings is the name-sorted list g is kept in: the realm's top level or its parent's
// children.
func (rm *realm) siblings(g *group) *[]*group {
	if g.parent == nil {
		return &rm.top
	}
	return &g.parent.children
}

func (rm *realm) addGroup(g *group) {
	rm.groups[g.id] = g
	s := rm.siblings(g)
	*s = insertGroup(*s, g)
}

func (rm *realm) renameGroup(g *group, name string) {
	s := rm.siblings(g)
	*s = without(*s, g)
	g.name = name
	*s = insertGroup(*s, g)
}

// moveGroup puts g, with its subtree and memberships, under parent (nil: the top level).
func (rm *realm) moveGroup(g, parent *group) {
	s := rm.siblings(g)
	*s = without(*s, g)
	g.parent = parent
	s = rm.siblings(g)
	*s = insertGroup(*s, g)
}

// deleteGroup removes g and its whole subtree, with every membership in it.
func (rm *realm) deleteGroup(g *group) {
	for _, c := range slices.Clone(g.children) {
		rm.deleteGroup(c)
	}
	for _, u := range slices.Clone(g.members) {
		rm.leaveGroup(u, g)
	}
	s := rm.siblings(g)
	*s = without(*s, g)
	delete(rm.groups, g.id)
}

// roleContainer is where r is kept by name: the realm's realm roles or its client's roles,
// as a map and a name-sorted list.
func (rm *realm) roleContainer(r *role) (map[string]*role, *[]*role) {
	if r.client == nil {
		return rm.realmRole, &rm.realmList
	}
	return r.client.roles, &r.client.roleList
}

func (rm *realm) addRole(r *role) {
	rm.roles[r.id] = r
	byName, list := rm.roleContainer(r)
	byName[r.name] = r
	*list = insertRole(*list, r)
}

func (rm *realm) renameRole(r *role, name string) {
	byName, list := rm.roleContainer(r)
	delete(byName, r.name)
	*list = without(*list, r)
	r.name = name
	byName[name] = r
	*list = insertRole(*list, r)
}

// deleteRole removes r, its mappings, its use as a composite child and group mappings.
func (rm *realm) deleteRole(r *role) {
	for _, u := range slices.Clone(r.users) {
		rm.revoke(u, r)
	}
	for _, o := range rm.roles {
		o.composites = without(o.composites, r)
	}
	for _, g := range rm.groups {
		g.roles = without(g.roles, r)
	}
	delete(rm.roles, r.id)
	byName, list := rm.roleContainer(r)
	delete(byName, r.name)
	*list = without(*list, r)
}

func (rm *realm) addClient(c *client) {
	if c.roles == nil {
		c.roles = map[string]*role{}
	}
	if c.attributes == nil {
		c.attributes = map[string]string{}
	}
	rm.clients[c.id] = c
	rm.byClient[c.clientID] = c
	i, _ := slices.BinarySearchFunc(rm.clientLst, c.clientID, cmpClientID)
	rm.clientLst = slices.Insert(rm.clientLst, i, c)
}

func (rm *realm) renameClient(c *client, clientID string) {
	delete(rm.byClient, c.clientID)
	if j := slices.Index(rm.clientLst, c); j >= 0 {
		rm.clientLst = slices.Delete(rm.clientLst, j, j+1)
	}
	c.clientID = clientID
	rm.byClient[clientID] = c
	i, _ := slices.BinarySearchFunc(rm.clientLst, c.clientID, cmpClientID)
	rm.clientLst = slices.Insert(rm.clientLst, i, c)
}

// deleteClient removes c, its roles and its service-account user.
func (rm *realm) deleteClient(c *client) {
	for _, r := range slices.Clone(c.roleList) {
		rm.deleteRole(r)
	}
	if c.saUser != nil {
		rm.deleteUser(c.saUser)
	}
	delete(rm.clients, c.id)
	delete(rm.byClient, c.clientID)
	if j := slices.Index(rm.clientLst, c); j >= 0 {
		rm.clientLst = slices.Delete(rm.clientLst, j, j+1)
	}
	if rm.poller == c {
		rm.poller = nil
	}
}

// effectiveRoles returns the roles u holds directly, through groups (and their ancestors)
// and through composites, each once.
func (rm *realm) effectiveRoles(u *user) map[*role]bool {
	held := slices.Clone(u.roles)
	for _, g := range u.groups {
		for p := g; p != nil; p = p.parent {
			held = append(held, p.roles...)
		}
	}
	return expandComposites(held)
}

// expandComposites returns roles and everything they contain, each once.
func expandComposites(roles []*role) map[*role]bool {
	out := map[*role]bool{}
	var add func(r *role)
	add = func(r *role) {
		if out[r] {
			return
		}
		out[r] = true
		for _, c := range r.composites {
			add(c)
		}
	}
	for _, r := range roles {
		add(r)
	}
	return out
}

func setAttr(attrs []attr, key string, values []string) []attr {
	i, found := slices.BinarySearchFunc(attrs, key, func(a attr, k string) int { return strings.Compare(a.key, k) })
	if len(values) == 0 {
		if found {
			return slices.Delete(attrs, i, i+1)
		}
		return attrs
	}
	if found {
		attrs[i].values = values
		return attrs
	}
	return slices.Insert(attrs, i, attr{key: key, values: values})
}

func attrsFromMap(m map[string][]string) []attr {
	var out []attr
	for k, v := range m {
		out = setAttr(out, k, slices.Clone(v))
	}
	return out
}

func attrsToMap(a []attr) map[string][]string {
	if len(a) == 0 {
		return nil
	}
	m := make(map[string][]string, len(a))
	for _, x := range a {
		m[x.key] = slices.Clone(x.values)
	}
	return m
}

// reindex rebuilds every username-sorted index after a bulk load that appended without
// keeping order.
func (rm *realm) reindex() {
	rm.byName = rm.byName[:0]
	rm.humans = rm.humans[:0]
	for _, u := range rm.users {
		rm.byName = append(rm.byName, u)
	}
	byUsername := func(a, b *user) int { return strings.Compare(a.username, b.username) }
	slices.SortFunc(rm.byName, byUsername)
	for _, u := range rm.byName {
		if u.saClient == nil {
			rm.humans = append(rm.humans, u)
		}
	}
	for _, g := range rm.groups {
		slices.SortFunc(g.members, byUsername)
	}
	for _, r := range rm.roles {
		slices.SortFunc(r.users, byUsername)
	}
}
