// Package expected computes, from the Keycloak twin's ground truth (kctwin.RealmDump), the
// rows every keycdc table must hold, and compares them with rows read back from Kafka or a
// warehouse. It is imported by tests only.
package expected

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/schemas"
)

// Tables maps table name → canonical key → row.
type Tables map[string]map[string]schemas.Row

// Key is the canonical form of a row's key: its key columns joined by U+001F.
func Key(t *schemas.Table, r schemas.Row) string {
	var parts []string
	for _, c := range t.KeyColumns() {
		parts = append(parts, fmt.Sprint(r[c]))
	}
	return strings.Join(parts, "\x1f")
}

func (ts Tables) put(t *schemas.Table, r schemas.Row) {
	m := ts[t.Name()]
	if m == nil {
		m = map[string]schemas.Row{}
		ts[t.Name()] = m
	}
	m[Key(t, r)] = r
}

func opt(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Entities returns the entity tables' rows of d (every table but event and admin_event) as
// a Keycloak of the given version exposes them: group descriptions only exist from 26.3.
func Entities(d kctwin.RealmDump, version string) Tables {
	groupDescriptions := version >= "26.3"
	ts := Tables{}
	for _, t := range []*schemas.Table{schemas.User, schemas.UserAttribute, schemas.UserRealmRole, schemas.UserClientRole,
		schemas.UserRequiredAction, schemas.Group, schemas.GroupMember, schemas.Role, schemas.RoleComposite, schemas.Client} {
		ts[t.Name()] = map[string]schemas.Row{}
	}
	realmRole := map[string]string{}
	clientRole := map[[2]string]string{}
	for _, r := range d.Roles {
		if r.ClientRole {
			clientRole[[2]string{r.ClientID, r.Name}] = r.ID
		} else {
			realmRole[r.Name] = r.ID
		}
		ts.put(schemas.Role, schemas.Row{"id": r.ID, "name": r.Name, "description": opt(r.Description),
			"composite": r.Composite, "client_role": r.ClientRole, "container_id": r.ContainerID, "client_id": opt(r.ClientID)})
		for _, c := range r.Composites {
			ts.put(schemas.RoleComposite, schemas.Row{"role_id": r.ID, "composite_role_id": c})
		}
	}
	clientUUID := map[string]string{}
	for _, c := range d.Clients {
		clientUUID[c.ClientID] = c.ID
		ts.put(schemas.Client, schemas.Row{"id": c.ID, "client_id": c.ClientID, "name": opt(c.Name),
			"description": opt(c.Description), "enabled": c.Enabled, "public_client": c.PublicClient,
			"protocol": opt(c.Protocol), "base_url": opt(c.BaseURL), "root_url": opt(c.RootURL),
			"bearer_only": c.BearerOnly, "service_accounts_enabled": c.ServiceAccountsEnabled})
	}
	for _, g := range d.Groups {
		desc := opt(g.Description)
		if !groupDescriptions {
			desc = nil
		}
		ts.put(schemas.Group, schemas.Row{"id": g.ID, "name": g.Name, "path": g.Path, "parent_id": opt(g.ParentID),
			"description": desc})
	}
	saOn := map[string]bool{} // OAuth clientId → service accounts enabled
	for _, c := range d.Clients {
		saOn[c.ClientID] = c.ServiceAccountsEnabled
	}
	for _, u := range d.Users {
		// Keycloak keeps a service-account user when its client's service accounts are
		// switched off, but no longer says whose it is: the column is null then.
		sa := u.ServiceAccountClientID
		if !saOn[sa] {
			sa = ""
		}
		var created any
		if u.CreatedTimestamp != 0 {
			created = time.UnixMilli(u.CreatedTimestamp).UTC()
		}
		ts.put(schemas.User, schemas.Row{"id": u.ID, "username": u.Username, "email": opt(u.Email),
			"first_name": opt(u.FirstName), "last_name": opt(u.LastName), "enabled": u.Enabled,
			"email_verified": u.EmailVerified, "created_timestamp": created,
			"service_account_client_id": opt(sa), "federation_link": opt(u.FederationLink)})
		for k, vs := range u.Attributes {
			for _, v := range vs {
				ts.put(schemas.UserAttribute, schemas.Row{"user_id": u.ID, "attribute_key": k, "attribute_value": v})
			}
		}
		for _, a := range u.RequiredActions {
			ts.put(schemas.UserRequiredAction, schemas.Row{"user_id": u.ID, "required_action": a})
		}
		for _, r := range u.RealmRoles {
			ts.put(schemas.UserRealmRole, schemas.Row{"user_id": u.ID, "role_name": r, "role_id": realmRole[r]})
		}
		for c, rs := range u.ClientRoles {
			for _, r := range rs {
				ts.put(schemas.UserClientRole, schemas.Row{"user_id": u.ID, "client_id": c, "role_name": r,
					"role_id": clientRole[[2]string{c, r}], "client_uuid": clientUUID[c]})
			}
		}
		for _, g := range u.Groups {
			ts.put(schemas.GroupMember, schemas.Row{"group_id": g, "user_id": u.ID})
		}
	}
	return ts
}

// Events returns the event rows of d, keyed by the twin's event id, leaving out
// CLIENT_LOGIN events of the client ownClient (keycdc drops its own by default).
func Events(d kctwin.RealmDump, ownClient string) map[string]schemas.Row {
	out := map[string]schemas.Row{}
	for _, e := range d.Events {
		if ownClient != "" && e.Type == "CLIENT_LOGIN" && e.ClientID == ownClient {
			continue
		}
		var details any
		if e.Details != nil {
			details = e.Details
		}
		out[e.ID] = schemas.Row{"id": e.ID, "time": time.UnixMilli(e.Time).UTC(), "type": e.Type,
			"realm_id": opt(e.RealmID), "user_id": opt(e.UserID), "session_id": opt(e.SessionID),
			"ip_address": opt(e.IPAddress), "client_id": opt(e.ClientID), "error": opt(e.Error), "details": details}
	}
	return out
}

// AdminEvents returns the admin_event rows of d keyed by the twin's id, without
// representations (keycdc leaves them out by default), as a Keycloak of the given version
// exposes them: details only exist from 26.1.
func AdminEvents(d kctwin.RealmDump, version string) map[string]schemas.Row {
	out := map[string]schemas.Row{}
	for _, e := range d.AdminEvents {
		var details any
		if e.Details != nil && version >= "26.1" {
			details = e.Details
		}
		out[e.ID] = schemas.Row{"id": e.ID, "time": time.UnixMilli(e.Time).UTC(), "operation_type": e.OperationType,
			"resource_type": e.ResourceType, "resource_path": opt(e.ResourcePath), "realm_id": opt(e.RealmID),
			"auth_realm_id": opt(e.AuthRealmID), "auth_client_id": opt(e.AuthClientID), "auth_user_id": opt(e.AuthUserID),
			"auth_ip_address": opt(e.AuthIPAddress), "error": opt(e.Error), "representation": nil, "details": details}
	}
	return out
}

// WithoutID returns rows keyed by their content without the id column, with a count per
// distinct content: how events are compared when keycdc had to make up their ids.
func WithoutID(rows map[string]schemas.Row) map[string]int {
	out := map[string]int{}
	for _, r := range rows {
		c := schemas.Row{}
		for k, v := range r {
			if k != "id" {
				c[k] = v
			}
		}
		out[canon(c)]++
	}
	return out
}

func canon(r schemas.Row) string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, valueString(r[k]))
	}
	return b.String()
}

func valueString(v any) string {
	switch t := v.(type) {
	case nil:
		return "<null>"
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	case map[string]string:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range keys {
			fmt.Fprintf(&b, "%q:%q,", k, t[k])
		}
		b.WriteString("}")
		return b.String()
	default:
		return fmt.Sprintf("%T:%v", v, v)
	}
}

// Diff compares want with got for one table and describes up to limit differences; ""
// means equal. Rows compare column by column (absent and null are the same).
func Diff(table string, want, got map[string]schemas.Row, limit int) string {
	var out []string
	add := func(s string) {
		if len(out) < limit {
			out = append(out, s)
		} else if len(out) == limit {
			out = append(out, "…")
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			add(fmt.Sprintf("%s: missing row %q: %s", table, k, canon(want[k])))
			continue
		}
		if !same(want[k], g) {
			add(fmt.Sprintf("%s: row %q differs:\n  want %s\n  got  %s", table, k, canon(want[k]), canon(g)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			add(fmt.Sprintf("%s: unexpected row %q: %s", table, k, canon(g)))
		}
	}
	return strings.Join(out, "\n")
}

func same(a, b schemas.Row) bool {
	for k := range a {
		if !reflect.DeepEqual(norm(a[k]), norm(b[k])) {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && b[k] != nil {
			return false
		}
	}
	return true
}

func norm(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().UnixMilli()
	}
	if m, ok := v.(map[string]string); ok && m == nil {
		return nil
	}
	return v
}

// Apply folds decoded records (in commit order) into tables: a nil value deletes the row.
func (ts Tables) Apply(t *schemas.Table, key, value schemas.Row) {
	m := ts[t.Name()]
	if m == nil {
		m = map[string]schemas.Row{}
		ts[t.Name()] = m
	}
	k := Key(t, key)
	if value == nil {
		delete(m, k)
		return
	}
	m[k] = value
}
