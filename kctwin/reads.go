package kctwin

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Read endpoints of the Admin API. Each follows keycloak-api.md §2–§5: defaults for first
// and max per endpoint, ordering, brief vs full representations, which users appear, and
// the 403/404 shapes.

// params wraps a query string. A value that does not parse as an integer makes JAX-RS
// answer 404, as for any parameter it cannot convert.
type params struct {
	q   url.Values
	bad string
}

func (rc *rctx) params() *params { return &params{q: rc.r.URL.Query()} }

func (p *params) has(name string) bool { _, ok := p.q[name]; return ok }

func (p *params) str(name string) (string, bool) {
	v, ok := p.q[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (p *params) int(name string) (int, bool) {
	s, ok := p.str(name)
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.bad = name
		return 0, false
	}
	return n, true
}

// boolean parses like Java's Boolean.valueOf: "true" in any case is true, anything else false.
func (p *params) boolean(name string) (bool, bool) {
	s, ok := p.str(name)
	if !ok {
		return false, false
	}
	return strings.EqualFold(s, "true"), true
}

func (p *params) boolOr(name string, d bool) bool {
	if v, ok := p.boolean(name); ok {
		return v
	}
	return d
}

// page reads offset paging: first is 0 when absent, max is defMax (-1: unlimited). A
// malformed value is left for badResp.
func (p *params) page(defMax int) (first, max int) {
	first, _ = p.int("first")
	max, maxSet := p.int("max")
	if !maxSet {
		max = defMax
	}
	return first, max
}

func (p *params) badResp() (resp, bool) {
	if p.bad != "" {
		return notFound("HTTP 404 Not Found"), true
	}
	return resp{}, false
}

// window applies first/max offset paging to n items: first < 0 means 0, max < 0 unlimited.
func window(n, first, max int) (int, int) {
	if first < 0 {
		first = 0
	}
	if first > n {
		first = n
	}
	end := n
	if max >= 0 && first+max < n {
		end = first + max
	}
	return first, end
}

// --- users --------------------------------------------------------------------------

type userFilter struct {
	search      string
	searchSet   bool
	ids         []string
	fields      map[string]string // username, email, firstName, lastName
	exact       bool
	enabled     *bool
	emailVer    *bool
	idp         bool
	attrs       map[string]string
	includeSA   bool
	anyFieldSet bool
}

func (rc *rctx) userFilter(p *params) userFilter {
	f := userFilter{fields: map[string]string{}}
	if s, ok := p.str("search"); ok {
		f.searchSet = true
		f.search = strings.TrimSpace(s)
		if rest, ok := strings.CutPrefix(f.search, "id:"); ok {
			f.ids = strings.Fields(rest)
		}
	}
	for _, k := range []string{"username", "email", "firstName", "lastName"} {
		if v, ok := p.str(k); ok {
			f.fields[k] = strings.ToLower(v)
			f.anyFieldSet = true
		}
	}
	if v, ok := p.boolean("exact"); ok {
		f.exact = v
		f.anyFieldSet = true
	}
	if v, ok := p.boolean("enabled"); ok {
		f.enabled = &v
		f.anyFieldSet = true
	}
	if v, ok := p.boolean("emailVerified"); ok {
		f.emailVer = &v
		f.anyFieldSet = true
	}
	if p.has("idpAlias") || p.has("idpUserId") {
		f.idp = true
		f.anyFieldSet = true
	}
	if q, ok := p.str("q"); ok && strings.TrimSpace(q) != "" {
		f.attrs = parseQuery(q)
		f.anyFieldSet = true
	}
	// UsersResource.getUsers: a search (or no criteria at all) excludes service accounts;
	// any field criterion includes them.
	f.includeSA = !f.searchSet && f.anyFieldSet
	return f
}

// parseQuery parses "key:value key2:value2" (SearchQueryUtils.getFields).
func parseQuery(q string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Fields(q) {
		k, v, ok := strings.Cut(part, ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

// matchSearchTerm implements the unified search syntax of Keycloak 23+: prefix by default,
// "*" as wildcard, "..." for exact (keycloak-api.md §2).
func matchSearchTerm(term, value string) bool {
	value = strings.ToLower(value)
	term = strings.ToLower(term)
	if len(term) >= 2 && term[0] == '"' && term[len(term)-1] == '"' {
		return value == term[1:len(term)-1]
	}
	if !strings.Contains(term, "*") {
		return strings.HasPrefix(value, term)
	}
	return globMatch(term+"*", value)
}

// globMatch matches value against pattern where '*' matches any run of characters.
func globMatch(pattern, value string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == value
	}
	if !strings.HasPrefix(value, parts[0]) {
		return false
	}
	value = value[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(value, parts[i])
		if j < 0 {
			return false
		}
		value = value[j+len(parts[i]):]
	}
	return strings.HasSuffix(value, parts[len(parts)-1])
}

func (f *userFilter) match(u *user) bool {
	if !f.includeSA && u.saClient != nil {
		return false
	}
	if f.searchSet {
		for _, term := range strings.Fields(f.search) {
			if !(matchSearchTerm(term, u.username) || matchSearchTerm(term, u.email) ||
				matchSearchTerm(term, u.firstName) || matchSearchTerm(term, u.lastName)) {
				return false
			}
		}
	}
	for k, v := range f.fields {
		var got string
		switch k {
		case "username":
			got = u.username
		case "email":
			got = u.email
		case "firstName":
			got = u.firstName
		case "lastName":
			got = u.lastName
		}
		got = strings.ToLower(got)
		if f.exact {
			if got != v {
				return false
			}
		} else if !strings.Contains(got, v) {
			return false
		}
	}
	if f.enabled != nil && u.enabled != *f.enabled {
		return false
	}
	if f.emailVer != nil && u.emailVerified != *f.emailVer {
		return false
	}
	if f.idp {
		return false // the twin has no identity-provider links
	}
	for k, v := range f.attrs {
		found := false
		for _, a := range u.attrs {
			if a.key == k && slices.Contains(a.values, v) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// usersJSON renders a page of users into a pooled buffer sized exactly, so that serving a
// page allocates next to nothing; the buffer returns to the pool once the response is
// written.
func (rc *rctx) usersJSON(users []*user, brief bool, withAccess bool) resp {
	var access []byte
	if withAccess {
		access = listAccessJSON(rc.sess.perms, rc.t.v26())
	}
	size := 2
	for _, u := range users {
		size += len(rc.t.userPrefix(u, brief)) + len(access) + 2
	}
	bp := rc.t.bufs.get()
	b := *bp
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	b = append(b, '[')
	for i, u := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = rc.t.appendUser(b, u, brief, access)
	}
	b = append(b, ']')
	*bp = b
	return resp{status: 200, body: b, pooled: bp}
}

// bufPool recycles the buffers response bodies and user representations are built in.
// Each Twin has its own, so that Twins in one process share nothing. The zero value is
// ready to use.
type bufPool struct{ p sync.Pool }

// get returns an empty buffer.
func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	return new([]byte)
}

// put takes a buffer back; very large ones are left to the GC.
func (bp *bufPool) put(b *[]byte) {
	if b != nil && cap(*b) <= 4<<20 {
		bp.p.Put(b)
	}
}

// releaseBody returns a pooled response buffer once the response is written.
func (t *Twin) releaseBody(out resp) { t.bufs.put(out.pooled) }

// GET /admin/realms/{realm}/users
func (rc *rctx) getUsers() resp {
	if r, ok := rc.need(roleQueryUsers); !ok {
		return r
	}
	p := rc.params()
	first, max := p.page(100) // Constants.DEFAULT_MAX_RESULTS
	if r, bad := p.badResp(); bad {
		return r
	}
	brief := p.boolOr("briefRepresentation", false)
	if !rc.sess.perms.has(roleViewUsers) {
		return rawJSON(200, []byte("[]")) // rows are filtered by canView
	}
	rm := rc.realm
	f := rc.userFilter(p)
	var page []*user
	switch {
	case f.ids != nil:
		for _, id := range f.ids {
			if u := rm.users[id]; u != nil {
				page = append(page, u)
			}
		}
	case !f.searchSet && !f.anyFieldSet:
		lo, hi := window(len(rm.humans), first, max)
		page = rm.humans[lo:hi]
	default:
		src := rm.byName
		if !f.includeSA {
			src = rm.humans
		}
		skip := max0(first)
		for _, u := range src {
			if max >= 0 && len(page) >= max {
				break
			}
			if !f.match(u) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			page = append(page, u)
		}
	}
	return rc.usersJSON(page, brief, true)
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// GET /admin/realms/{realm}/users/count. Service accounts are never counted on 25.0 and
// 26.2: the count path builds its query without UserModel.INCLUDE_SERVICE_ACCOUNT
// (model/jpa/src/main/java/org/keycloak/models/jpa/JpaUserProvider.java getUsersCount),
// while the list includes them under field filters — the disagreement PR #45421 fixed later.
func (rc *rctx) getUsersCount() resp {
	if r, ok := rc.need(roleQueryUsers); !ok {
		return r
	}
	p := rc.params()
	f := rc.userFilter(p)
	f.includeSA = false
	rm := rc.realm
	n := 0
	switch {
	case f.ids != nil:
		for _, id := range f.ids {
			if rm.users[id] != nil {
				n++
			}
		}
	case !f.searchSet && !f.anyFieldSet:
		n = len(rm.humans)
	default:
		for _, u := range rm.humans {
			if f.match(u) {
				n++
			}
		}
	}
	return rawJSON(200, strconv.AppendInt(nil, int64(n), 10))
}

// userByPath resolves {id} with UsersResource.user's rule: 404 to callers who may query
// users, 403 to others (no id phishing).
func (rc *rctx) userByPath() (*user, resp, bool) {
	u := rc.realm.users[rc.r.PathValue("id")]
	if u == nil {
		if rc.sess.perms.has(roleQueryUsers) {
			return nil, notFound("User not found"), false
		}
		return nil, rc.t.forbidden(), false
	}
	if !rc.sess.perms.has(roleViewUsers) {
		return nil, rc.t.forbidden(), false
	}
	return u, resp{}, true
}

// GET /admin/realms/{realm}/users/{id}
func (rc *rctx) getUser() resp {
	u, r, ok := rc.userByPath()
	if !ok {
		return r
	}
	return rawJSON(200, rc.t.appendUser(nil, u, false, accessJSON(rc.sess.perms, rc.t.v26())))
}

// GET /admin/realms/{realm}/users/{id}/groups
func (rc *rctx) getUserGroups() resp {
	u, r, ok := rc.userByPath()
	if !ok {
		return r
	}
	p := rc.params()
	first, max := p.page(-1)
	if r, bad := p.badResp(); bad {
		return r
	}
	search, _ := p.str("search")
	brief := p.boolOr("briefRepresentation", true)
	gs := slices.Clone(u.groups)
	slices.SortFunc(gs, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	var sel []*group
	for _, g := range gs {
		if search == "" || strings.Contains(strings.ToLower(g.name), strings.ToLower(search)) {
			sel = append(sel, g)
		}
	}
	lo, hi := window(len(sel), first, max)
	reps := make([]groupRep, 0, hi-lo)
	for _, g := range sel[lo:hi] {
		// The membership listing carries neither subGroupCount nor access.
		rep := groupToRep(g, !brief)
		rep.SubGroupCount = nil
		reps = append(reps, rep)
	}
	return rawJSON(200, marshalGroups(reps, !brief))
}

// GET /admin/realms/{realm}/users/{id}/groups/count
func (rc *rctx) getUserGroupsCount() resp {
	u, r, ok := rc.userByPath()
	if !ok {
		return r
	}
	search, _ := rc.params().str("search")
	n := 0
	for _, g := range u.groups {
		if search == "" || strings.Contains(strings.ToLower(g.name), strings.ToLower(search)) {
			n++
		}
	}
	return jsonResp(200, map[string]int{"count": n})
}

// --- role mappings ------------------------------------------------------------------

// GET /admin/realms/{realm}/users/{id}/role-mappings
func (rc *rctx) getRoleMappings() resp {
	u, r, ok := rc.userByPath()
	if !ok {
		return r
	}
	return jsonResp(200, mappingsOf(rc.realm, u.roles))
}

func mappingsOf(rm *realm, roles []*role) mappingsRep {
	var out mappingsRep
	for _, r := range sortRoles(slices.Clone(roles)) {
		if r.client == nil {
			out.RealmMappings = append(out.RealmMappings, roleToRep(rm, r, false))
			continue
		}
		if out.ClientMappings == nil {
			out.ClientMappings = map[string]clientMappingsRep{}
		}
		cm := out.ClientMappings[r.client.clientID]
		cm.ID, cm.Client = r.client.id, r.client.clientID
		cm.Mappings = append(cm.Mappings, roleToRep(rm, r, false))
		out.ClientMappings[r.client.clientID] = cm
	}
	return out
}

// GET .../users/{id}/role-mappings/realm[/composite] and .../clients/{client}[/composite]
func (rc *rctx) getRoleMappingsFor(clientScoped, composite bool) resp {
	u, r, ok := rc.userByPath()
	if !ok {
		return r
	}
	var c *client
	if clientScoped {
		c = rc.realm.clients[rc.r.PathValue("client")]
		if c == nil {
			return notFound("Client not found")
		}
	}
	var set []*role
	if composite {
		for x := range rc.realm.effectiveRoles(u) {
			set = append(set, x)
		}
	} else {
		set = slices.Clone(u.roles)
	}
	var sel []*role
	for _, x := range set {
		if x.client == c {
			sel = append(sel, x)
		}
	}
	full := composite && !rc.params().boolOr("briefRepresentation", true)
	return rawJSON(200, rolesJSON(rc.realm, sortRoles(sel), full))
}

// --- groups -------------------------------------------------------------------------

func (rc *rctx) needGroupsView() (resp, bool) {
	return rc.need(roleViewUsers)
}

// GET /admin/realms/{realm}/groups
func (rc *rctx) getGroups() resp {
	if r, ok := rc.need(roleQueryGroups, roleViewUsers); !ok {
		return r
	}
	p := rc.params()
	first, max := p.page(-1) // no default: every top-level group
	if r, bad := p.badResp(); bad {
		return r
	}
	if !rc.sess.perms.has(roleViewUsers) {
		return rawJSON(200, []byte("[]"))
	}
	brief := p.boolOr("briefRepresentation", true)
	search, hasSearch := p.str("search")
	q, hasQ := p.str("q")
	exact := p.boolOr("exact", false)
	rm := rc.realm
	if !hasSearch && !hasQ {
		return rc.groupPage(rm.top, first, max, brief)
	}
	// Search: matching groups, paged, returned nested under their ancestors.
	attrs := map[string]string{}
	if hasQ {
		attrs = parseQuery(q)
	}
	var matches []*group
	var walk func(gs []*group)
	walk = func(gs []*group) {
		for _, g := range gs {
			if groupMatches(g, search, hasSearch, exact, attrs) {
				matches = append(matches, g)
			}
			walk(g.children)
		}
	}
	walk(rm.top)
	lo, hi := window(len(matches), first, max)
	return rawJSON(200, marshalGroups(nestUnderAncestors(matches[lo:hi], !brief), !brief))
}

func groupMatches(g *group, search string, hasSearch, exact bool, attrs map[string]string) bool {
	if hasSearch {
		name, s := strings.ToLower(g.name), strings.ToLower(search)
		if exact {
			if name != s {
				return false
			}
		} else if !strings.Contains(name, s) {
			return false
		}
	}
	for k, v := range attrs {
		ok := false
		for _, a := range g.attrs {
			if a.key == k && slices.Contains(a.values, v) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// nestUnderAncestors builds the hierarchy Keycloak returns for a group search: each match
// under its ancestors, which carry only the branches leading to matches.
func nestUnderAncestors(matches []*group, full bool) []groupRep {
	type node struct {
		g    *group
		kids []*node
	}
	nodes := map[*group]*node{}
	var roots []*node
	var get func(g *group) *node
	get = func(g *group) *node {
		if n := nodes[g]; n != nil {
			return n
		}
		n := &node{g: g}
		nodes[g] = n
		if g.parent == nil {
			roots = append(roots, n)
		} else {
			pn := get(g.parent)
			pn.kids = append(pn.kids, n)
		}
		return n
	}
	for _, g := range matches {
		get(g)
	}
	var render func(ns []*node) []groupRep
	render = func(ns []*node) []groupRep {
		slices.SortFunc(ns, func(a, b *node) int { return strings.Compare(a.g.name, b.g.name) })
		out := make([]groupRep, 0, len(ns))
		for _, n := range ns {
			rep := groupToRep(n.g, full)
			rep.SubGroups = render(n.kids)
			out = append(out, rep)
		}
		return out
	}
	return render(roots)
}

// GET /admin/realms/{realm}/groups/count
func (rc *rctx) getGroupsCount() resp {
	if r, ok := rc.need(roleQueryGroups, roleViewUsers); !ok {
		return r
	}
	p := rc.params()
	rm := rc.realm
	n := 0
	if search, ok := p.str("search"); ok {
		for _, g := range rm.groups {
			if strings.Contains(strings.ToLower(g.name), strings.ToLower(search)) {
				n++
			}
		}
	} else if p.boolOr("top", false) {
		n = len(rm.top)
	} else {
		n = len(rm.groups)
	}
	return jsonResp(200, map[string]int{"count": n})
}

// groupByPath resolves {id} before judging the caller, so a missing group is a 404 to
// every caller, as on Keycloak's /groups/{id} routes.
func (rc *rctx) groupByPath() (*group, resp, bool) {
	g := rc.realm.groups[rc.r.PathValue("id")]
	if g == nil {
		return nil, notFound("Could not find group by id"), false
	}
	if r, ok := rc.needGroupsView(); !ok {
		return nil, r, false
	}
	return g, resp{}, true
}

func (rc *rctx) groupAccess() map[string]bool {
	m := rc.sess.perms.has(roleManageUsers)
	return map[string]bool{"view": true, "viewMembers": true, "manageMembers": m, "manage": m, "manageMembership": m}
}

// GET /admin/realms/{realm}/groups/{id}
func (rc *rctx) getGroup() resp {
	g, r, ok := rc.groupByPath()
	if !ok {
		return r
	}
	rep := groupToRep(g, true)
	rep.Access = rc.groupAccess()
	return rawJSON(200, marshalGroup(rep, true))
}

// GET /admin/realms/{realm}/group-by-path/{path...}
func (rc *rctx) getGroupByPath() resp {
	if r, ok := rc.needGroupsView(); !ok {
		return r
	}
	path := "/" + strings.Trim(rc.r.PathValue("path"), "/")
	for _, g := range rc.realm.groups {
		if g.path() == path {
			// The single group read minus its access block.
			return rawJSON(200, marshalGroup(groupToRep(g, true), true))
		}
	}
	return notFound("Group path does not exist")
}

// GET /admin/realms/{realm}/groups/{id}/children: first 0, max 10, full by default.
func (rc *rctx) getChildren() resp {
	g, r, ok := rc.groupByPath()
	if !ok {
		return r
	}
	p := rc.params()
	first, max := p.page(10)
	if r, bad := p.badResp(); bad {
		return r
	}
	brief := p.boolOr("briefRepresentation", false)
	search, hasSearch := p.str("search")
	exact := p.boolOr("exact", false)
	kids := g.children
	if hasSearch {
		kids = nil
		for _, c := range g.children {
			if groupMatches(c, search, true, exact, nil) {
				kids = append(kids, c)
			}
		}
	}
	return rc.groupPage(kids, first, max, brief)
}

// groupPage answers a page of a group listing, each group with the caller's access.
func (rc *rctx) groupPage(gs []*group, first, max int, brief bool) resp {
	lo, hi := window(len(gs), first, max)
	reps := make([]groupRep, 0, hi-lo)
	access := rc.groupAccess()
	for _, g := range gs[lo:hi] {
		rep := groupToRep(g, !brief)
		rep.Access = access
		reps = append(reps, rep)
	}
	return rawJSON(200, marshalGroups(reps, !brief))
}

// GET /admin/realms/{realm}/groups/{id}/members: direct members by username, first 0,
// max 100, full representations without access.
func (rc *rctx) getMembers() resp {
	g, r, ok := rc.groupByPath()
	if !ok {
		return r
	}
	return rc.pagedUsers(g.members)
}

func (rc *rctx) pagedUsers(users []*user) resp {
	p := rc.params()
	first, max := p.page(100)
	if r, bad := p.badResp(); bad {
		return r
	}
	brief := p.boolOr("briefRepresentation", false)
	lo, hi := window(len(users), first, max)
	return rc.usersJSON(users[lo:hi], brief, false)
}

// --- roles --------------------------------------------------------------------------

// listRoles serves GET /roles and /clients/{id}/roles: unpaged unless both first and max
// are given (or a search), ordered by name, brief by default.
func (rc *rctx) listRoles(all []*role) resp {
	p := rc.params()
	first, firstSet := p.int("first")
	max, maxSet := p.int("max")
	if r, bad := p.badResp(); bad {
		return r
	}
	search, hasSearch := p.str("search")
	brief := p.boolOr("briefRepresentation", true)
	sel := all
	if hasSearch && search != "" {
		sel = nil
		s := strings.ToLower(search)
		for _, r := range all {
			if strings.Contains(strings.ToLower(r.name), s) || strings.Contains(strings.ToLower(r.description), s) {
				sel = append(sel, r)
			}
		}
	}
	if (firstSet && maxSet) || (hasSearch && search != "") {
		if !firstSet {
			first = 0
		}
		if !maxSet {
			max = -1
		}
		lo, hi := window(len(sel), first, max)
		sel = sel[lo:hi]
	} else {
		// Only the paged path is sorted by name; the whole set comes back in storage
		// order, which the twin makes the order of role ids.
		sel = slices.Clone(sel)
		slices.SortFunc(sel, func(a, b *role) int { return strings.Compare(a.id, b.id) })
	}
	return rawJSON(200, rolesJSON(rc.realm, sel, !brief))
}

// GET /admin/realms/{realm}/roles
func (rc *rctx) getRealmRoles() resp {
	if r, ok := rc.need(roleViewRealm, roleQueryUsers, roleQueryGroups, roleQueryClients, roleQueryRealms); !ok {
		return r
	}
	return rc.listRoles(rc.realm.realmList)
}

// roleByName resolves {name} in the realm or in client {id}.
func (rc *rctx) roleByName(clientScoped bool) (*role, resp, bool) {
	name := rc.r.PathValue("name")
	if !clientScoped {
		if r, ok := rc.need(roleViewRealm); !ok {
			return nil, r, false
		}
		if x := rc.realm.realmRole[name]; x != nil {
			return x, resp{}, true
		}
		return nil, notFound("Could not find role"), false
	}
	c, r, ok := rc.clientByPath()
	if !ok {
		return nil, r, false
	}
	if x := c.roles[name]; x != nil {
		return x, resp{}, true
	}
	return nil, notFound("Could not find role"), false
}

// GET /roles/{name} and /clients/{id}/roles/{name}
func (rc *rctx) getRole(clientScoped bool) resp {
	x, r, ok := rc.roleByName(clientScoped)
	if !ok {
		return r
	}
	return rawJSON(200, roleJSON(roleToRep(rc.realm, x, true)))
}

// GET /roles/{name}/users and /clients/{id}/roles/{name}/users: direct holders only.
func (rc *rctx) getRoleUsers(clientScoped bool) resp {
	x, r, ok := rc.roleByName(clientScoped)
	if !ok {
		return r
	}
	if r, ok := rc.need(roleQueryUsers); !ok {
		return r
	}
	return rc.pagedUsers(x.users)
}

// GET .../roles/{name}/composites[/realm|/clients/{client}]
func (rc *rctx) getRoleComposites(clientScoped bool, which string) resp {
	x, r, ok := rc.roleByName(clientScoped)
	if !ok {
		return r
	}
	return rc.compositesOf(x, which)
}

func (rc *rctx) compositesOf(x *role, which string) resp {
	var sel []*role
	var c *client
	if which == "client" {
		c = rc.realm.clients[rc.r.PathValue("client")]
		if c == nil {
			return notFound("Could not find client")
		}
	}
	for _, y := range x.composites {
		switch which {
		case "realm":
			if y.client != nil {
				continue
			}
		case "client":
			if y.client != c {
				continue
			}
		}
		sel = append(sel, y)
	}
	return rawJSON(200, rolesJSON(rc.realm, sortRoles(sel), false))
}

// roleByID resolves {id} first (its 404 precedes the 403) and then requires the read role
// of the role's own container.
func (rc *rctx) roleByID() (*role, resp, bool) {
	x := rc.realm.roles[rc.r.PathValue("id")]
	if x == nil {
		return nil, notFound("Could not find role with id"), false
	}
	bit := uint32(roleViewRealm)
	if x.client != nil {
		bit = roleViewClients
	}
	if r, ok := rc.need(bit); !ok {
		return nil, r, false
	}
	return x, resp{}, true
}

// GET /roles-by-id/{id}
func (rc *rctx) getRoleByID() resp {
	x, r, ok := rc.roleByID()
	if !ok {
		return r
	}
	return rawJSON(200, roleJSON(roleToRep(rc.realm, x, true)))
}

// GET /roles-by-id/{id}/composites
func (rc *rctx) getRoleByIDComposites() resp {
	x, r, ok := rc.roleByID()
	if !ok {
		return r
	}
	return rc.compositesOf(x, "")
}

// --- clients ------------------------------------------------------------------------

func (rc *rctx) clientByPath() (*client, resp, bool) {
	c := rc.realm.clients[rc.r.PathValue("id")]
	if c == nil {
		if rc.sess.perms.has(roleQueryClients) || rc.sess.perms.has(roleViewClients) {
			return nil, notFound("Could not find client"), false
		}
		return nil, rc.t.forbidden(), false
	}
	if r, ok := rc.need(roleViewClients); !ok {
		return nil, r, false
	}
	return c, resp{}, true
}

// GET /admin/realms/{realm}/clients: by clientId, no default max.
func (rc *rctx) getClients() resp {
	if r, ok := rc.need(roleQueryClients, roleViewClients); !ok {
		return r
	}
	p := rc.params()
	first, max := p.page(-1)
	if r, bad := p.badResp(); bad {
		return r
	}
	if !rc.sess.perms.has(roleViewClients) {
		return rawJSON(200, []byte("[]"))
	}
	cid, hasCID := p.str("clientId")
	search := p.boolOr("search", false)
	var attrs map[string]string
	if q, ok := p.str("q"); ok {
		attrs = parseQuery(q)
	}
	var sel []*client
	for _, c := range rc.realm.clientLst {
		if !clientAttrsMatch(c, attrs) {
			continue
		}
		if hasCID {
			if search {
				if !strings.Contains(strings.ToLower(c.clientID), strings.ToLower(cid)) {
					continue
				}
			} else if c.clientID != cid {
				continue
			}
		}
		sel = append(sel, c)
	}
	lo, hi := window(len(sel), first, max)
	reps := make([]clientRep, 0, hi-lo)
	for _, c := range sel[lo:hi] {
		reps = append(reps, clientToRep(c, &rc.sess.perms))
	}
	return jsonResp(200, reps)
}

func clientAttrsMatch(c *client, attrs map[string]string) bool {
	for k, v := range attrs {
		if c.attributes[k] != v {
			return false
		}
	}
	return true
}

// GET /admin/realms/{realm}/clients/{id}
func (rc *rctx) getClient() resp {
	c, r, ok := rc.clientByPath()
	if !ok {
		return r
	}
	return jsonResp(200, clientToRep(c, &rc.sess.perms))
}

// GET /admin/realms/{realm}/clients/{id}/roles
func (rc *rctx) getClientRoles() resp {
	c, r, ok := rc.clientByPath()
	if !ok {
		return r
	}
	return rc.listRoles(c.roleList)
}

// GET /admin/realms/{realm}/clients/{id}/service-account-user
func (rc *rctx) getServiceAccountUser() resp {
	c, r, ok := rc.clientByPath()
	if !ok {
		return r
	}
	if !c.serviceAccounts || c.saUser == nil {
		return badRequest("Service account not enabled for the client '" + c.clientID + "'")
	}
	return rawJSON(200, rc.t.appendUser(nil, c.saUser, false, nil))
}

// GET /admin/realms/{realm}/clients/{id}/client-secret
func (rc *rctx) getClientSecret() resp {
	c, r, ok := rc.clientByPath()
	if !ok {
		return r
	}
	return jsonResp(200, map[string]string{"type": "secret", "value": c.secret})
}

// --- realms -------------------------------------------------------------------------

// GET /admin/realms: the realms the caller may see.
func (rc *rctx) getRealms() resp {
	t := rc.t
	var out []json.RawMessage
	for _, name := range sortedKeys(t.realms) {
		if !rc.sess.perms.all && rc.sess.realm != name {
			continue
		}
		rep := t.realmToRep(t.realms[name], rc.sess.perms.has(roleViewRealm))
		b, _ := json.Marshal(rep)
		out = append(out, b)
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return jsonResp(200, out)
}

// GET /admin/realms/{realm}
func (rc *rctx) getRealm() resp {
	return jsonResp(200, rc.t.realmToRep(rc.realm, rc.sess.perms.has(roleViewRealm)))
}
