package kctwin

import "slices"

// Every Keycloak realm carries built-in clients and roles; a poller sees them, so the twin
// has them too. Names and composites follow a fresh Keycloak 25/26 realm (see the 24.0.4
// migration export and Nerzal/gocloak testdata/gocloak-realm.json named in keycloak-api.md
// §9, §11).

// Realm-management roles the twin checks, as bits of perms.
const (
	roleQueryUsers = 1 << iota
	roleViewUsers
	roleManageUsers
	roleQueryGroups
	roleQueryClients
	roleViewClients
	roleManageClients
	roleViewRealm
	roleManageRealm
	roleViewEvents
	roleManageEvents
	roleQueryRealms
	roleImpersonation
	roleCreateClient
)

var mgmtRoleBits = map[string]uint32{
	"query-users":    roleQueryUsers,
	"view-users":     roleViewUsers,
	"manage-users":   roleManageUsers,
	"query-groups":   roleQueryGroups,
	"query-clients":  roleQueryClients,
	"view-clients":   roleViewClients,
	"manage-clients": roleManageClients,
	"view-realm":     roleViewRealm,
	"manage-realm":   roleManageRealm,
	"view-events":    roleViewEvents,
	"manage-events":  roleManageEvents,
	"query-realms":   roleQueryRealms,
	"impersonation":  roleImpersonation,
	"create-client":  roleCreateClient,
}

// mgmtRoles lists realm-management roles in creation order with their composites.
var mgmtRoles = []struct {
	name       string
	composites []string
}{
	{"query-users", nil},
	{"query-groups", nil},
	{"query-clients", nil},
	{"query-realms", nil},
	{"view-users", []string{"query-users", "query-groups"}},
	{"view-clients", []string{"query-clients"}},
	{"view-realm", nil},
	{"view-events", nil},
	{"view-identity-providers", nil},
	{"view-authorization", nil},
	{"manage-users", nil},
	{"manage-clients", nil},
	{"manage-realm", nil},
	{"manage-events", nil},
	{"manage-identity-providers", nil},
	{"manage-authorization", nil},
	{"create-client", nil},
	{"impersonation", nil},
	{"realm-admin", []string{"query-users", "query-groups", "query-clients", "query-realms", "view-users",
		"view-clients", "view-realm", "view-events", "view-identity-providers", "view-authorization",
		"manage-users", "manage-clients", "manage-realm", "manage-events", "manage-identity-providers",
		"manage-authorization", "create-client", "impersonation"}},
}

var accountRoles = []struct {
	name       string
	composites []string
}{
	{"view-profile", nil},
	{"manage-account-links", nil},
	{"manage-account", []string{"manage-account-links"}},
	{"view-applications", nil},
	{"view-consent", nil},
	{"manage-consent", []string{"view-consent"}},
	{"delete-account", nil},
	{"view-groups", nil},
}

// pollerRoles are the realm-management roles of the client handed to keycdc.
var pollerRoles = []string{"view-users", "view-events", "view-realm", "view-clients"}

const mgmtClientID = "realm-management"

// ensureBuiltins adds whatever of the built-in clients and roles rm lacks, and the poller
// client. ids supplies new ids (seeded for generated realms).
func (t *Twin) ensureBuiltins(rm *realm, ids *idSource) { t.ensureBuiltinsAt(rm, ids, t.nowMillis()) }

func (t *Twin) ensureBuiltinsAt(rm *realm, ids *idSource, now int64) {
	ensureBuiltinClients(rm, ids)
	ensureBuiltinRoles(rm, ids)
	ensureDefaultRole(rm, ids)
	t.ensurePollerClientAt(rm, ids, now)
}

// The loader runs the three steps below apart, the way Keycloak's import does: built-in
// clients before the file's roles (which may be roles of those clients), built-in roles
// after the file's roles (so that a declared built-in keeps the file's id and description)
// but before the file's composites and mappings (which may name them), and the default role
// after the file's defaultRole.

// ensureBuiltinClients adds the built-in clients rm lacks.
func ensureBuiltinClients(rm *realm, ids *idSource) {
	mk := func(clientID string, public, bearer bool) *client {
		if c := rm.byClient[clientID]; c != nil {
			return c
		}
		c := &client{id: ids.newID(), clientID: clientID, enabled: true, public: public, bearerOnly: bearer,
			protocol: "openid-connect", standardFlow: !bearer}
		if c.confidential() {
			c.secret = randomSecret(ids)
		}
		rm.addClient(c)
		return c
	}
	account := mk("account", true, false)
	account.name = orDefault(account.name, "${client_account}")
	account.baseURL = orDefault(account.baseURL, "/realms/"+rm.name+"/account/")
	console := mk("account-console", true, false)
	console.name = orDefault(console.name, "${client_account-console}")
	admincli := mk("admin-cli", true, false)
	admincli.name = orDefault(admincli.name, "${client_admin-cli}")
	admincli.directAccess = true
	admincli.standardFlow = false
	broker := mk("broker", false, true)
	broker.name = orDefault(broker.name, "${client_broker}")
	mgmt := mk(mgmtClientID, false, true)
	mgmt.name = orDefault(mgmt.name, "${client_realm-management}")
	sac := mk("security-admin-console", true, false)
	sac.name = orDefault(sac.name, "${client_security-admin-console}")
}

// ensureBuiltinRoles adds the built-in roles of the realm and of the built-in clients that
// rm lacks (ensureBuiltinClients must have run). A role it creates gets its built-in
// composites; a role the realm file declared keeps the file's composites, except that
// realm-management roles always get theirs, as Keycloak re-checks the admin roles after an
// import (RealmManager.checkRealmAdminManagementRoles).
func ensureBuiltinRoles(rm *realm, ids *idSource) {
	mkRole := func(c *client, name string) (*role, bool) {
		if c == nil {
			if r := rm.realmRole[name]; r != nil {
				return r, false
			}
		} else if r := c.roles[name]; r != nil {
			return r, false
		}
		r := &role{id: ids.newID(), name: name, client: c}
		rm.addRole(r)
		return r, true
	}
	account, broker, mgmt := rm.byClient["account"], rm.byClient["broker"], rm.byClient[mgmtClientID]

	created := map[*role]bool{}
	for _, d := range accountRoles {
		if r, ok := mkRole(account, d.name); ok {
			created[r] = true
		}
	}
	for _, d := range accountRoles {
		if p := account.roles[d.name]; created[p] {
			for _, c := range d.composites {
				compose(p, account.roles[c])
			}
		}
	}
	mkRole(broker, "read-token")
	for _, d := range mgmtRoles {
		mkRole(mgmt, d.name)
	}
	for _, d := range mgmtRoles {
		for _, c := range d.composites {
			compose(mgmt.roles[d.name], mgmt.roles[c])
		}
	}
	offline, _ := mkRole(nil, "offline_access")
	offline.description = orDefault(offline.description, "${role_offline-access}")
	uma, _ := mkRole(nil, "uma_authorization")
	uma.description = orDefault(uma.description, "${role_uma_authorization}")
}

// ensureDefaultRole gives rm its default-roles-<realm> role unless the realm has a default
// role already (ensureBuiltinRoles must have run). A default role without composites gets
// Keycloak's: offline_access, uma_authorization, account's view-profile and manage-account.
func ensureDefaultRole(rm *realm, ids *idSource) {
	if rm.defaultRole != nil {
		return
	}
	name := "default-roles-" + rm.name
	def := rm.realmRole[name]
	if def == nil {
		def = &role{id: ids.newID(), name: name}
		rm.addRole(def)
	}
	def.description = orDefault(def.description, "${role_default-roles}")
	if len(def.composites) == 0 {
		account := rm.byClient["account"]
		compose(def, rm.realmRole["offline_access"])
		compose(def, rm.realmRole["uma_authorization"])
		compose(def, account.roles["view-profile"])
		compose(def, account.roles["manage-account"])
	}
	rm.defaultRole = def
}

// compose makes child a composite of parent unless it is one already.
func compose(parent, child *role) {
	if child == nil || slices.Contains(parent.composites, child) {
		return
	}
	parent.composites = append(parent.composites, child)
}

// ensurePollerClient gives rm the confidential client keycdc uses, with a service account
// holding pollerRoles.
func (t *Twin) ensurePollerClient(rm *realm, ids *idSource) {
	t.ensurePollerClientAt(rm, ids, t.nowMillis())
}

func (t *Twin) ensurePollerClientAt(rm *realm, ids *idSource, now int64) {
	c := rm.byClient[t.cfg.pollerClient]
	if c == nil {
		c = &client{id: ids.newID(), clientID: t.cfg.pollerClient, name: "keycdc change-data poller",
			enabled: true, protocol: "openid-connect", serviceAccounts: true}
		rm.addClient(c)
	}
	c.public, c.bearerOnly, c.serviceAccounts, c.enabled = false, false, true, true
	if c.secret == "" || c.secret == "**********" {
		c.secret = randomSecret(ids)
	}
	t.ensureServiceAccountAt(rm, c, ids, now)
	mgmt := rm.byClient[mgmtClientID]
	for _, n := range pollerRoles {
		if r := mgmt.roles[n]; r != nil {
			rm.grant(c.saUser, r)
		}
	}
	rm.poller = c
}

// ensureServiceAccount creates c's service-account user if it has none, the way Keycloak
// does when service accounts are enabled: username service-account-<clientId>, default
// roles granted.
func (t *Twin) ensureServiceAccount(rm *realm, c *client, ids *idSource) {
	t.ensureServiceAccountAt(rm, c, ids, t.nowMillis())
}

func (t *Twin) ensureServiceAccountAt(rm *realm, c *client, ids *idSource, now int64) {
	if c.saUser != nil {
		return
	}
	for _, u := range rm.users {
		if u.saClient == c {
			c.saUser = u
			return
		}
	}
	u := &user{id: ids.newID(), username: "service-account-" + lower(c.clientID), enabled: true,
		created: now, saClient: c}
	rm.addUser(u)
	c.saUser = u
	if rm.defaultRole != nil {
		rm.grant(u, rm.defaultRole)
	}
}

// ensureAdminLocked creates the master realm's admin user and "admin" role.
func (t *Twin) ensureAdminLocked(m *realm, ids *idSource) {
	admin := m.realmRole["admin"]
	if admin == nil {
		admin = &role{id: ids.newID(), name: "admin", description: "${role_admin}"}
		m.addRole(admin)
		cr := &role{id: ids.newID(), name: "create-realm", description: "${role_create-realm}"}
		m.addRole(cr)
		admin.composites = append(admin.composites, cr)
	}
	u := m.userByName(lower(t.cfg.adminUser))
	if u == nil {
		u = &user{id: ids.newID(), username: lower(t.cfg.adminUser), enabled: true, created: t.nowMillis()}
		m.addUser(u)
		m.grant(u, m.defaultRole)
	}
	u.password = t.cfg.adminPassword
	m.grant(u, admin)
}

// newRealmLocked creates an empty realm with its built-ins. ids nil means random ids.
func (t *Twin) newRealmLocked(name string, ids *idSource) *realm {
	if ids == nil {
		ids = t.ids
	}
	rm := newRealm(ids.newID(), name)
	rm.eventsEnabled = false
	t.ensureBuiltins(rm, ids)
	t.realms[name] = rm
	return rm
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
