package kctwin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Loading Keycloak realm exports (keycloak-api.md §10): a single realm object, a JSON array
// of realms (single-file export), or a "<realm>-users-<n>.json" file holding
// {"realm": name, "users": [...]}. References between entities are by name, path or
// clientId and are resolved here; missing ids are generated. Errors name the file and the
// JSON path of the offending value.

// LoadError is a problem in a realm file, located by file name and JSON path.
type LoadError struct {
	File string // as given to LoadFile or Load
	Path string // JSON path, e.g. $.groups[2].subGroups[0].name; or line:column of a syntax error
	Msg  string
}

func (e *LoadError) Error() string { return e.File + ": " + e.Path + ": " + e.Msg }

// LoadFile loads realms or users from one export file. A realm loaded under a name the
// Twin already holds replaces that realm.
func (t *Twin) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kctwin: load %w", err)
	}
	return t.Load(filepath.Base(path), data)
}

// LoadFiles loads several export files, realm files before users files, so that
// "*-users-N.json" files may be listed in any order.
func (t *Twin) LoadFiles(paths ...string) error {
	type item struct {
		name string
		data []byte
		user bool
	}
	var items []item
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("kctwin: load %w", err)
		}
		name := filepath.Base(p)
		items = append(items, item{name, data, usersFileName.MatchString(name) || isUsersFile(data)})
	}
	sort.SliceStable(items, func(i, j int) bool { return !items[i].user && items[j].user })
	for _, it := range items {
		if err := t.Load(it.name, it.data); err != nil {
			return err
		}
	}
	return nil
}

// usersFileName matches the files of "kc.sh export --users different_files".
var usersFileName = regexp.MustCompile(`-users-[0-9]+\.json$`)

func isUsersFile(data []byte) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return false
	}
	_, hasUsers := probe["users"]
	_, hasRealm := probe["realm"]
	return hasUsers && hasRealm && len(probe) == 2
}

// Load loads export JSON from data; name is used in error messages.
func (t *Twin) Load(name string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return syntaxError(name, data, err)
	}
	if dec.More() {
		return &LoadError{File: name, Path: "$", Msg: "unexpected data after the top-level value"}
	}
	l := &loader{t: t, file: name}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch x := v.(type) {
	case []any:
		for i, r := range x {
			if err := l.realm(r, fmt.Sprintf("$[%d]", i)); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		// A users file holds only "realm" and "users"; so may a minimal hand-written
		// realm file. It is a users file when named like one or when its realm exists.
		if _, ok := x["users"]; ok && len(x) == 2 {
			if rn, ok := x["realm"].(string); ok && (usersFileName.MatchString(name) || t.realms[rn] != nil) {
				return l.usersFile(x)
			}
		}
		return l.realm(x, "$")
	default:
		return &LoadError{File: name, Path: "$", Msg: "expected a realm object, an array of realms or a users file"}
	}
}

func syntaxError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	if errors.As(err, &se) {
		off = se.Offset
	} else if errors.As(err, &te) {
		off = te.Offset
	}
	if off < 0 {
		return &LoadError{File: name, Path: "$", Msg: err.Error()}
	}
	line, col := 1, 1
	for _, c := range data[:min(int(off), len(data))] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &LoadError{File: name, Path: "line " + strconv.Itoa(line) + " column " + strconv.Itoa(col), Msg: err.Error()}
}

type loader struct {
	t    *Twin
	file string
}

func (l *loader) errf(path, format string, a ...any) error {
	return &LoadError{File: l.file, Path: path, Msg: fmt.Sprintf(format, a...)}
}

func (l *loader) obj(v any, path string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, l.errf(path, "expected an object")
	}
	return m, nil
}

func (l *loader) str(m map[string]any, key, path string) (string, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, l.errf(path+"."+key, "expected a string")
	}
	return s, true, nil
}

// required reads a string that must be present and not empty; what names it in the error.
func (l *loader) required(m map[string]any, key, path, what string) (string, error) {
	s, ok, err := l.str(m, key, path)
	if err != nil {
		return "", err
	}
	if !ok || s == "" {
		return "", l.errf(path+"."+key, "missing %s", what)
	}
	return s, nil
}

func (l *loader) boolean(m map[string]any, key, path string, def bool) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, l.errf(path+"."+key, "expected true or false")
	}
	return b, nil
}

func (l *loader) int64(m map[string]any, key, path string) (int64, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, l.errf(path+"."+key, "expected a number")
	}
	i, err := n.Int64()
	if err != nil {
		return 0, false, l.errf(path+"."+key, "expected an integer")
	}
	return i, true, nil
}

func (l *loader) strList(m map[string]any, key, path string) ([]string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, l.errf(path+"."+key, "expected an array of strings")
	}
	out := make([]string, 0, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			return nil, l.errf(fmt.Sprintf("%s.%s[%d]", path, key, i), "expected a string")
		}
		out = append(out, s)
	}
	return out, nil
}

func (l *loader) list(m map[string]any, key, path string) ([]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, l.errf(path+"."+key, "expected an array")
	}
	return a, nil
}

// each calls fn with every element of the array at key, and its path (path.key[i]).
func (l *loader) each(m map[string]any, key, path string, fn func(v any, path string) error) error {
	a, err := l.list(m, key, path)
	if err != nil {
		return err
	}
	for i, v := range a {
		if err := fn(v, fmt.Sprintf("%s.%s[%d]", path, key, i)); err != nil {
			return err
		}
	}
	return nil
}

// object reads the object at key: nil when absent or null.
func (l *loader) object(m map[string]any, key, path string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, l.errf(path+"."+key, "expected an object")
	}
	return o, nil
}

// multiMap reads {k: [strings]} (user and group attributes, clientRoles).
func (l *loader) multiMap(m map[string]any, key, path string) (map[string][]string, error) {
	o, err := l.object(m, key, path)
	if o == nil || err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, k := range sortedKeys(o) {
		vals, err := l.strList(o, k, path+"."+key)
		if err != nil {
			return nil, err
		}
		out[k] = vals
	}
	return out, nil
}

// strMap reads {k: string} (client and realm attributes); numbers and booleans are kept
// as their text, as Keycloak stores attributes as strings.
func (l *loader) strMap(m map[string]any, key, path string) (map[string]string, error) {
	o, err := l.object(m, key, path)
	if o == nil || err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, x := range o {
		switch y := x.(type) {
		case string:
			out[k] = y
		case json.Number:
			out[k] = y.String()
		case bool:
			out[k] = strconv.FormatBool(y)
		case nil:
		default:
			return nil, l.errf(path+"."+key+"."+k, "expected a string")
		}
	}
	return out, nil
}

func (l *loader) id(m map[string]any, path string) (string, error) {
	s, ok, err := l.str(m, "id", path)
	if err != nil {
		return "", err
	}
	if !ok || s == "" {
		return l.t.ids.newID(), nil
	}
	return s, nil
}

type pendingComposite struct {
	parent *role
	path   string
	m      map[string]any
}

func (l *loader) realm(v any, path string) error {
	m, err := l.obj(v, path)
	if err != nil {
		return err
	}
	name, err := l.required(m, "realm", path, "realm name")
	if err != nil {
		return err
	}
	id, err := l.id(m, path)
	if err != nil {
		return err
	}
	rm := newRealm(id, name)
	if rm.displayName, _, err = l.str(m, "displayName", path); err != nil {
		return err
	}
	if rm.enabled, err = l.boolean(m, "enabled", path, true); err != nil {
		return err
	}
	if rm.eventsEnabled, err = l.boolean(m, "eventsEnabled", path, false); err != nil {
		return err
	}
	if rm.eventsExpiration, _, err = l.int64(m, "eventsExpiration", path); err != nil {
		return err
	}
	if _, ok := m["eventsListeners"]; ok {
		if rm.eventsListeners, err = l.strList(m, "eventsListeners", path); err != nil {
			return err
		}
	}
	if rm.enabledEventTypes, err = l.strList(m, "enabledEventTypes", path); err != nil {
		return err
	}
	if rm.editUsernameAllowed, err = l.boolean(m, "editUsernameAllowed", path, false); err != nil {
		return err
	}
	if rm.adminEventsEnabled, err = l.boolean(m, "adminEventsEnabled", path, false); err != nil {
		return err
	}
	if rm.adminEventsDetailsEnabled, err = l.boolean(m, "adminEventsDetailsEnabled", path, false); err != nil {
		return err
	}
	attrs, err := l.strMap(m, "attributes", path)
	if err != nil {
		return err
	}
	for k, v := range attrs {
		rm.attributes[k] = v
	}

	// Clients.
	if err := l.each(m, "clients", path, func(v any, p string) error { return l.client(rm, v, p) }); err != nil {
		return err
	}

	// Keycloak creates a realm's built-in clients and roles before it imports the file's
	// (RealmManager.importRealm), so the file may refer to them without declaring them, and
	// a declared built-in is merged: the file's clients come first, then the built-in
	// clients it lacks, the file's roles, the built-in roles it lacks, and only then the
	// composites, default role, groups and users that refer to roles.
	ensureBuiltinClients(rm, l.t.ids)

	// Roles, then their composites once every role exists.
	var pending []pendingComposite
	if rv, ok := m["roles"]; ok && rv != nil {
		roles, err := l.obj(rv, path+".roles")
		if err != nil {
			return err
		}
		err = l.each(roles, "realm", path+".roles", func(x any, p string) error {
			r, err := l.role(rm, nil, x, p)
			if err != nil {
				return err
			}
			pending = append(pending, pendingComposite{r, p, x.(map[string]any)})
			return nil
		})
		if err != nil {
			return err
		}
		if cv, ok := roles["client"]; ok && cv != nil {
			byClient, err := l.obj(cv, path+".roles.client")
			if err != nil {
				return err
			}
			for _, cid := range sortedKeys(byClient) {
				cp := path + ".roles.client." + cid
				c := rm.byClient[cid]
				if c == nil {
					return l.errf(cp, "unknown client %q", cid)
				}
				list, ok := byClient[cid].([]any)
				if !ok {
					return l.errf(cp, "expected an array")
				}
				for i, x := range list {
					p := fmt.Sprintf("%s[%d]", cp, i)
					r, err := l.role(rm, c, x, p)
					if err != nil {
						return err
					}
					pending = append(pending, pendingComposite{r, p, x.(map[string]any)})
				}
			}
		}
	}
	ensureBuiltinRoles(rm, l.t.ids)
	for _, pc := range pending {
		if err := l.composites(rm, pc); err != nil {
			return err
		}
	}
	if dv, ok := m["defaultRole"]; ok && dv != nil {
		dm, err := l.obj(dv, path+".defaultRole")
		if err != nil {
			return err
		}
		dn, _, err := l.str(dm, "name", path+".defaultRole")
		if err != nil {
			return err
		}
		rm.defaultRole = rm.realmRole[dn]
		switch {
		case rm.defaultRole != nil:
		case dn == "default-roles-"+name:
			// Keycloak made this role when it created the realm; the file need not
			// declare it. ensureDefaultRole gives it its composites.
			id, err := l.id(dm, path+".defaultRole")
			if err != nil {
				return err
			}
			rm.addRole(&role{id: id, name: dn})
		default:
			return l.errf(path+".defaultRole.name", "unknown realm role %q", dn)
		}
	}
	ensureDefaultRole(rm, l.t.ids)

	// Groups.
	if err := l.each(m, "groups", path, func(v any, p string) error { return l.group(rm, nil, v, p) }); err != nil {
		return err
	}

	// Users.
	if err := l.each(m, "users", path, func(v any, p string) error { return l.user(rm, v, p) }); err != nil {
		return err
	}
	l.t.ensurePollerClient(rm, l.t.ids)
	for _, c := range rm.clientLst {
		if c.serviceAccounts && !c.public && !c.bearerOnly {
			l.t.ensureServiceAccount(rm, c, l.t.ids)
		}
	}
	l.t.realms[name] = rm
	if name == "master" {
		l.t.ensureAdminLocked(rm, l.t.ids)
	}
	return nil
}

func (l *loader) client(rm *realm, v any, path string) error {
	m, err := l.obj(v, path)
	if err != nil {
		return err
	}
	c := &client{}
	if c.id, err = l.id(m, path); err != nil {
		return err
	}
	if c.clientID, err = l.required(m, "clientId", path, "clientId"); err != nil {
		return err
	}
	if rm.byClient[c.clientID] != nil {
		return l.errf(path+".clientId", "duplicate clientId %q", c.clientID)
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &c.name}, {"description", &c.description}, {"protocol", &c.protocol}, {"rootUrl", &c.rootURL},
		{"baseUrl", &c.baseURL}, {"secret", &c.secret}} {
		if *f.dst, _, err = l.str(m, f.key, path); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		dst *bool
		def bool
	}{{"enabled", &c.enabled, true}, {"publicClient", &c.public, false}, {"bearerOnly", &c.bearerOnly, false},
		{"serviceAccountsEnabled", &c.serviceAccounts, false}, {"standardFlowEnabled", &c.standardFlow, true},
		{"directAccessGrantsEnabled", &c.directAccess, false}} {
		if *f.dst, err = l.boolean(m, f.key, path, f.def); err != nil {
			return err
		}
	}
	if c.redirectURIs, err = l.strList(m, "redirectUris", path); err != nil {
		return err
	}
	if c.webOrigins, err = l.strList(m, "webOrigins", path); err != nil {
		return err
	}
	if c.attributes, err = l.strMap(m, "attributes", path); err != nil {
		return err
	}
	if c.confidential() && (c.secret == "" || c.secret == "**********") {
		c.secret = randomSecret(l.t.ids)
	}
	rm.addClient(c)
	return nil
}

func (l *loader) role(rm *realm, c *client, v any, path string) (*role, error) {
	m, err := l.obj(v, path)
	if err != nil {
		return nil, err
	}
	r := &role{client: c}
	if r.id, err = l.id(m, path); err != nil {
		return nil, err
	}
	if r.name, err = l.required(m, "name", path, "role name"); err != nil {
		return nil, err
	}
	if (c == nil && rm.realmRole[r.name] != nil) || (c != nil && c.roles[r.name] != nil) {
		return nil, l.errf(path+".name", "duplicate role %q", r.name)
	}
	if r.description, _, err = l.str(m, "description", path); err != nil {
		return nil, err
	}
	attrs, err := l.multiMap(m, "attributes", path)
	if err != nil {
		return nil, err
	}
	r.attrs = attrsFromMap(attrs)
	rm.addRole(r)
	return r, nil
}

func (l *loader) composites(rm *realm, pc pendingComposite) error {
	cv, ok := pc.m["composites"]
	if !ok || cv == nil {
		return nil
	}
	path := pc.path + ".composites"
	cm, err := l.obj(cv, path)
	if err != nil {
		return err
	}
	names, err := l.strList(cm, "realm", path)
	if err != nil {
		return err
	}
	for i, n := range names {
		r := rm.realmRole[n]
		if r == nil {
			return l.errf(fmt.Sprintf("%s.realm[%d]", path, i), "unknown realm role %q", n)
		}
		compose(pc.parent, r)
	}
	byClient, err := l.multiMap(cm, "client", path)
	if err != nil {
		return err
	}
	for _, cid := range sortedKeys(byClient) {
		c := rm.byClient[cid]
		if c == nil {
			return l.errf(path+".client."+cid, "unknown client %q", cid)
		}
		for i, n := range byClient[cid] {
			r := c.roles[n]
			if r == nil {
				return l.errf(fmt.Sprintf("%s.client.%s[%d]", path, cid, i), "unknown role %q of client %q", n, cid)
			}
			compose(pc.parent, r)
		}
	}
	return nil
}

// roleRefs resolves realmRoles and clientRoles members of a user or group.
func (l *loader) roleRefs(rm *realm, m map[string]any, path string) ([]*role, error) {
	var out []*role
	names, err := l.strList(m, "realmRoles", path)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		r := rm.realmRole[n]
		if r == nil {
			return nil, l.errf(fmt.Sprintf("%s.realmRoles[%d]", path, i), "unknown realm role %q", n)
		}
		out = append(out, r)
	}
	byClient, err := l.multiMap(m, "clientRoles", path)
	if err != nil {
		return nil, err
	}
	for _, cid := range sortedKeys(byClient) {
		c := rm.byClient[cid]
		if c == nil {
			return nil, l.errf(path+".clientRoles."+cid, "unknown client %q", cid)
		}
		for i, n := range byClient[cid] {
			r := c.roles[n]
			if r == nil {
				return nil, l.errf(fmt.Sprintf("%s.clientRoles.%s[%d]", path, cid, i), "unknown role %q of client %q", n, cid)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *loader) group(rm *realm, parent *group, v any, path string) error {
	m, err := l.obj(v, path)
	if err != nil {
		return err
	}
	g := &group{parent: parent}
	if g.id, err = l.id(m, path); err != nil {
		return err
	}
	if g.name, err = l.required(m, "name", path, "group name"); err != nil {
		return err
	}
	if strings.Contains(g.name, "/") {
		return l.errf(path+".name", "group name %q contains '/'", g.name)
	}
	siblings := rm.top
	if parent != nil {
		siblings = parent.children
	}
	for _, s := range siblings {
		if s.name == g.name {
			return l.errf(path+".name", "duplicate group name %q", g.name)
		}
	}
	if g.description, _, err = l.str(m, "description", path); err != nil {
		return err
	}
	attrs, err := l.multiMap(m, "attributes", path)
	if err != nil {
		return err
	}
	g.attrs = attrsFromMap(attrs)
	if g.roles, err = l.roleRefs(rm, m, path); err != nil {
		return err
	}
	rm.addGroup(g)
	return l.each(m, "subGroups", path, func(v any, p string) error { return l.group(rm, g, v, p) })
}

func (l *loader) user(rm *realm, v any, path string) error {
	m, err := l.obj(v, path)
	if err != nil {
		return err
	}
	u := &user{}
	if u.id, err = l.id(m, path); err != nil {
		return err
	}
	if rm.users[u.id] != nil {
		return l.errf(path+".id", "duplicate user id %q", u.id)
	}
	name, err := l.required(m, "username", path, "username")
	if err != nil {
		return err
	}
	u.username = lower(name)
	// A service-account user created when its client was loaded gives way to the exported
	// one, which may come later in a users file.
	if sa, ok := m["serviceAccountClientId"].(string); ok {
		if c := rm.byClient[sa]; c != nil && c.saUser != nil {
			rm.deleteUser(c.saUser)
		}
	}
	if rm.userByName(u.username) != nil {
		return l.errf(path+".username", "duplicate username %q", u.username)
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"email", &u.email}, {"firstName", &u.firstName}, {"lastName", &u.lastName}, {"federationLink", &u.federationLink}} {
		if *f.dst, _, err = l.str(m, f.key, path); err != nil {
			return err
		}
	}
	u.email = lower(u.email)
	if u.enabled, err = l.boolean(m, "enabled", path, false); err != nil {
		return err
	}
	if u.emailVerified, err = l.boolean(m, "emailVerified", path, false); err != nil {
		return err
	}
	var hasTS bool
	if u.created, hasTS, err = l.int64(m, "createdTimestamp", path); err != nil {
		return err
	}
	if !hasTS {
		u.created = l.t.nowMillis()
	}
	attrs, err := l.multiMap(m, "attributes", path)
	if err != nil {
		return err
	}
	u.attrs = attrsFromMap(attrs)
	if u.requiredActions, err = l.strList(m, "requiredActions", path); err != nil {
		return err
	}
	if sa, ok, err := l.str(m, "serviceAccountClientId", path); err != nil {
		return err
	} else if ok {
		c := rm.byClient[sa]
		if c == nil {
			return l.errf(path+".serviceAccountClientId", "unknown client %q", sa)
		}
		u.saClient, c.saUser = c, u
	}
	err = l.each(m, "credentials", path, func(v any, p string) error {
		cm, err := l.obj(v, p)
		if err != nil {
			return err
		}
		if ty, _, _ := l.str(cm, "type", path); ty == "password" {
			if val, ok, _ := l.str(cm, "value", path); ok {
				u.password = val
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	roles, err := l.roleRefs(rm, m, path)
	if err != nil {
		return err
	}
	paths, err := l.strList(m, "groups", path)
	if err != nil {
		return err
	}
	var groups []*group
	for i, p := range paths {
		g := groupByPath(rm, p)
		if g == nil {
			return l.errf(fmt.Sprintf("%s.groups[%d]", path, i), "unknown group path %q", p)
		}
		groups = append(groups, g)
	}
	rm.addUser(u)
	for _, r := range roles {
		rm.grant(u, r)
	}
	for _, g := range groups {
		rm.joinGroup(u, g)
	}
	return nil
}

// groupByPath finds a group by its "/a/b" path.
func groupByPath(rm *realm, p string) *group {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	level := rm.top
	var g *group
	for _, name := range parts {
		i, found := slices.BinarySearchFunc(level, name, cmpGroupName)
		if !found {
			return nil
		}
		g = level[i]
		level = g.children
	}
	return g
}

func (l *loader) usersFile(m map[string]any) error {
	name, ok, err := l.str(m, "realm", "$")
	if err != nil {
		return err
	}
	if !ok {
		return l.errf("$.realm", "missing realm name")
	}
	rm := l.t.realms[name]
	if rm == nil {
		return l.errf("$.realm", "realm %q is not loaded; load its realm file first", name)
	}
	if err := l.each(m, "users", "$", func(v any, p string) error { return l.user(rm, v, p) }); err != nil {
		return err
	}
	l.t.ensurePollerClient(rm, l.t.ids)
	return nil
}
