package kctwin

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GenerateSpec sizes a synthetic realm. Zero counts produce none of that kind (beyond the
// built-ins every realm has).
type GenerateSpec struct {
	Name        string
	Users       int
	Groups      int
	Roles       int
	Clients     int
	Events      int
	AdminEvents int
	Seed        uint64
}

// DefaultGenerateSpec returns the spec ParseGenerateSpec starts from, and what "keycdc twin"
// generates when given no realm: a realm "acme" with 100 users, 20 groups, 10 roles, 5
// clients, 200 events and 50 admin events, seed 1. Each call returns a new value, so no
// caller can change another's defaults.
func DefaultGenerateSpec() GenerateSpec {
	return GenerateSpec{Name: "acme", Users: 100, Groups: 20, Roles: 10, Clients: 5, Events: 200, AdminEvents: 50, Seed: 1}
}

// ParseGenerateSpec parses "name=acme,users=N,groups=N,roles=N,clients=N,events=N,
// admin-events=N,seed=S"; keys left out keep DefaultGenerateSpec's values. Errors name the key.
func ParseGenerateSpec(s string) (GenerateSpec, error) {
	spec := DefaultGenerateSpec()
	if strings.TrimSpace(s) == "" {
		return spec, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return spec, fmt.Errorf("generate spec: %q: want key=value", part)
		}
		if seen[k] {
			return spec, fmt.Errorf("generate spec: %s given twice", k)
		}
		seen[k] = true
		if k == "name" {
			if v == "" || strings.ContainsAny(v, "/ ") {
				return spec, fmt.Errorf("generate spec: name %q: want a non-empty realm name without '/' or spaces", v)
			}
			spec.Name = v
			continue
		}
		if k == "seed" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return spec, fmt.Errorf("generate spec: seed %q: want an unsigned integer", v)
			}
			spec.Seed = n
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return spec, fmt.Errorf("generate spec: %s %q: want a non-negative integer", k, v)
		}
		switch k {
		case "users":
			spec.Users = n
		case "groups":
			spec.Groups = n
		case "roles":
			spec.Roles = n
		case "clients":
			spec.Clients = n
		case "events":
			spec.Events = n
		case "admin-events":
			spec.AdminEvents = n
		default:
			return spec, fmt.Errorf("generate spec: unknown key %q (want name, users, groups, roles, clients, events, admin-events, seed)", k)
		}
	}
	return spec, nil
}

var (
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
		"niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "björn", "chloé", "josé"}
	lastNames = []string{"smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "anderson", "thomas", "moore",
		"martin", "lee", "perez", "white", "harris", "clark", "lewis", "young", "müller", "o'brien"}
	departments = []string{"Engineering", "Sales", "Marketing", "Finance", "Support", "Operations", "Legal", "People"}
	teamWords   = []string{"platform", "payments", "mobile", "web", "data", "security", "infra", "growth", "emea", "apac",
		"americas", "tier1", "tier2", "audit", "tax", "recruiting"}
	skills     = []string{"go", "java", "sql", "kafka", "k8s", "react", "python", "terraform"}
	roleNames  = []string{"staff", "manager", "auditor", "developer", "support-agent", "billing-admin", "reporting", "contractor"}
	clientRole = []string{"read", "write", "admin"}
)

// Generate adds a synthetic realm built deterministically from spec.Seed: the same spec
// and the same clock give an identical realm, ids and event times included (times are
// relative to the clock's "now" when Generate runs). A realm of that name is replaced.
//
// Where sizes allow, it always contains the shapes that break naive pollers: a top-level
// group with more than 10 children, a group with more than 100 direct members, a realm
// role held directly by more than 100 users, composite roles, users with client roles,
// service-account users, multi-valued attributes, required actions, several events in one
// millisecond, and admin events with representations.
func (t *Twin) Generate(spec GenerateSpec) error {
	if spec.Name == "" {
		return errorf("generate: empty realm name")
	}
	if spec.Users < 0 || spec.Groups < 0 || spec.Roles < 0 || spec.Clients < 0 || spec.Events < 0 || spec.AdminEvents < 0 {
		return errorf("generate: counts must not be negative")
	}
	now := t.nowMillis()
	ids := seededIDs(spec.Seed, 0x7265616c6d)
	rng := mrand.New(mrand.NewPCG(spec.Seed, 0x67656e))
	rm := newRealm(ids.newID(), spec.Name)
	rm.displayName = strings.ToUpper(spec.Name[:1]) + spec.Name[1:]
	rm.eventsEnabled, rm.adminEventsEnabled, rm.adminEventsDetailsEnabled = true, true, true
	rm.eventsExpiration = 30 * 24 * 3600
	rm.eventsListeners = []string{"jboss-logging"}
	rm.attributes["adminEventsExpiration"] = strconv.Itoa(30 * 24 * 3600)
	t.ensureBuiltinsAt(rm, ids, now)

	// Clients: public SPA, confidential web app, confidential service with a service
	// account, bearer-only API, in turn; each with read/write/admin roles (admin composite).
	var appClients []*client
	for i := 0; i < spec.Clients; i++ {
		c := &client{id: ids.newID(), clientID: fmt.Sprintf("app-%03d", i), enabled: i%9 != 8, protocol: "openid-connect",
			standardFlow: true}
		switch i % 4 {
		case 0:
			c.public, c.name, c.rootURL = true, fmt.Sprintf("Portal %d", i), fmt.Sprintf("https://portal%d.example.com", i)
			c.redirectURIs = []string{c.rootURL + "/*"}
			c.webOrigins = []string{"+"}
		case 1:
			c.name, c.baseURL = fmt.Sprintf("Web app %d", i), "/app/"
			c.description = "Server-side web application"
		case 2:
			c.name, c.serviceAccounts, c.standardFlow = fmt.Sprintf("Batch service %d", i), true, false
			c.description = "Machine-to-machine integration"
		case 3:
			c.bearerOnly, c.standardFlow = true, false
			c.description = "Resource server"
		}
		if c.confidential() {
			c.secret = randomSecret(ids)
		}
		rm.addClient(c)
		var rs []*role
		for _, n := range clientRole {
			r := &role{id: ids.newID(), name: n, client: c, description: n + " access to " + c.clientID}
			rm.addRole(r)
			rs = append(rs, r)
		}
		rs[2].composites = []*role{rs[0], rs[1]}
		if c.serviceAccounts {
			t.ensureServiceAccountAt(rm, c, ids, now-int64(i)*3_600_000)
			c.saUser.roles = append(c.saUser.roles, rs[0])
			rs[0].users = append(rs[0].users, c.saUser)
		}
		appClients = append(appClients, c)
	}

	// Realm roles; every fourth is a composite of the two before it and a client role.
	var roles []*role
	for i := 0; i < spec.Roles; i++ {
		name := fmt.Sprintf("role-%04d", i)
		if i < len(roleNames) {
			name = roleNames[i]
		}
		r := &role{id: ids.newID(), name: name}
		if i%3 != 2 {
			r.description = "The " + name + " role"
		}
		if i%5 == 1 {
			r.attrs = []attr{{key: "tier", values: []string{strconv.Itoa(i % 3)}}}
		}
		rm.addRole(r)
		if i%4 == 3 {
			r.composites = append(r.composites, roles[i-1], roles[i-2])
			if len(appClients) > 0 {
				r.composites = append(r.composites, appClients[i%len(appClients)].roleList[0])
			}
		}
		roles = append(roles, r)
	}

	// Groups: the first top-level group gets up to 15 children, the rest hang under random
	// groups up to five levels deep, every seventh at the top.
	var groups []*group
	depth := map[*group]int{}
	for i := 0; i < spec.Groups; i++ {
		g := &group{id: ids.newID()}
		switch {
		case i == 0 || i%7 == 0:
			g.name = departments[(i/7)%len(departments)]
			if i/7 >= len(departments) {
				g.name += "-" + strconv.Itoa(i)
			}
		case i <= 15:
			g.parent = groups[0]
			g.name = teamWords[i%len(teamWords)] + "-" + strconv.Itoa(i)
		default:
			p := groups[rng.IntN(len(groups))]
			for depth[p] >= 4 {
				p = p.parent
			}
			g.parent = p
			g.name = teamWords[rng.IntN(len(teamWords))] + "-" + strconv.Itoa(i)
		}
		if g.parent != nil {
			depth[g] = depth[g.parent] + 1
		}
		if i%3 == 0 {
			g.description = "Group " + g.name
			g.attrs = []attr{{key: "costCenter", values: []string{strconv.Itoa(1000 + i)}}}
		}
		if i%6 == 1 && len(roles) > 0 {
			g.roles = append(g.roles, roles[i%len(roles)])
		}
		rm.addGroup(g)
		groups = append(groups, g)
	}

	// Users, appended in bulk and indexed once at the end.
	const day = int64(24 * time.Hour / time.Millisecond)
	humans := make([]*user, 0, spec.Users)
	var nb []byte
	for i := 0; i < spec.Users; i++ {
		fn, ln := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		nb = append(nb[:0], fn...)
		nb = append(nb, '.')
		nb = append(nb, ln...)
		nb = strconv.AppendInt(nb, int64(i), 10)
		u := &user{id: ids.newID(), username: string(nb), enabled: i%13 != 12, emailVerified: i%3 != 2,
			created: now - rng.Int64N(365*day) - day}
		if i%17 != 16 {
			u.email = u.username + "@" + spec.Name + ".example.com"
		}
		if i%19 != 18 {
			u.firstName = strings.ToUpper(fn[:1]) + fn[1:]
			u.lastName = strings.ToUpper(ln[:1]) + ln[1:]
		}
		u.attrs = []attr{{key: "department", values: []string{departments[i%len(departments)]}},
			{key: "employeeNumber", values: []string{strconv.Itoa(100000 + i)}}}
		if i%4 == 0 {
			a, b := rng.IntN(len(skills)), rng.IntN(len(skills))
			vals := []string{skills[a]}
			if b != a {
				vals = append(vals, skills[b])
			}
			u.attrs = append(u.attrs, attr{key: "skills", values: vals})
		}
		if i%10 == 0 {
			u.attrs = append(u.attrs, attr{key: "phone", values: []string{"+1 555 01" + strconv.Itoa(10+i%90)}})
		}
		slices.SortFunc(u.attrs, func(a, b attr) int { return strings.Compare(a.key, b.key) })
		switch {
		case i%11 == 5:
			u.requiredActions = []string{"UPDATE_PASSWORD", "CONFIGURE_TOTP"}
		case i%7 == 3:
			u.requiredActions = []string{"VERIFY_EMAIL"}
		}
		u.password = "password"
		rm.users[u.id] = u
		humans = append(humans, u)
		bulkGrant(u, rm.defaultRole)
		if len(roles) > 0 {
			if i%2 == 0 || i < 110 {
				bulkGrant(u, roles[0]) // held directly by more than 100 users
			}
			if i%3 == 1 {
				bulkGrant(u, roles[(1+rng.IntN(len(roles)))%len(roles)])
			}
		}
		if len(appClients) > 0 && i%5 == 0 {
			c := appClients[rng.IntN(len(appClients))]
			bulkGrant(u, c.roleList[rng.IntN(len(c.roleList))])
		}
		if len(groups) > 0 {
			if i%3 == 0 || i < 110 {
				bulkJoin(u, groups[0]) // more than 100 direct members
			}
			for k := rng.IntN(3); k > 0; k-- {
				bulkJoin(u, groups[rng.IntN(len(groups))])
			}
		}
	}
	rm.reindex()

	// User events over the last seven days, with same-millisecond runs.
	if spec.Events > 0 {
		times := make([]int64, spec.Events)
		for i := range times {
			times[i] = now - rng.Int64N(7*day)
		}
		slices.Sort(times)
		for i := 1; i < len(times); i++ {
			if i%25 == 0 || i%100 == 1 || i%100 == 2 {
				times[i] = times[i-1]
			}
		}
		evClients := []string{"account-console", "security-admin-console"}
		for _, c := range appClients {
			if !c.bearerOnly {
				evClients = append(evClients, c.clientID)
			}
		}
		for i, tm := range times {
			e := genEvent(rng, ids, rm, humans, evClients, tm, i)
			rm.events = append(rm.events, e)
		}
		slices.SortFunc(rm.events, cmpStamped[*event])
	}

	// Admin events by the master realm's admin through admin-cli.
	t.mu.Lock()
	defer t.mu.Unlock()
	master := t.realms["master"]
	actor := adminActor{realmID: master.id, clientUUID: master.byClient["admin-cli"].id,
		userID: master.userByName(lower(t.cfg.adminUser)).id, ip: "127.0.0.1"}
	for i := 0; i < spec.AdminEvents; i++ {
		tm := now - rng.Int64N(7*day)
		if i%20 == 1 && len(rm.adminEvents) > 0 {
			tm = rm.adminEvents[len(rm.adminEvents)-1].time
		}
		rm.adminEvents = append(rm.adminEvents, genAdminEvent(rng, ids, rm, actor, humans, groups, roles, appClients, tm))
	}
	slices.SortFunc(rm.adminEvents, cmpStamped[*adminEvent])
	t.realms[rm.name] = rm
	return nil
}

func bulkGrant(u *user, r *role) {
	if r == nil || slices.Contains(u.roles, r) {
		return
	}
	u.roles = append(u.roles, r)
	r.users = append(r.users, u)
}

func bulkJoin(u *user, g *group) {
	if slices.Contains(u.groups, g) {
		return
	}
	u.groups = append(u.groups, g)
	g.members = append(g.members, u)
}

func genEvent(rng *mrand.Rand, ids *idSource, rm *realm, humans []*user, clients []string, tm int64, i int) *event {
	e := &event{id: ids.newID(), time: tm, realmID: rm.id, clientID: clients[rng.IntN(len(clients))],
		ipAddress: "192.0.2." + strconv.Itoa(1+rng.IntN(250))}
	var u *user
	if len(humans) > 0 {
		u = humans[rng.IntN(len(humans))]
		e.userID = u.id
	}
	x := rng.IntN(100)
	switch {
	case x < 45:
		e.typ = "LOGIN"
	case x < 55:
		e.typ, e.err = "LOGIN_ERROR", "invalid_user_credentials"
	case x < 70:
		e.typ = "CODE_TO_TOKEN"
	case x < 80:
		e.typ = "LOGOUT"
	case x < 85:
		e.typ = "UPDATE_PROFILE"
	case x < 90:
		e.typ = "UPDATE_PASSWORD"
	case x < 94:
		e.typ = "REGISTER"
	case x < 97:
		e.typ, e.err = "CODE_TO_TOKEN_ERROR", "invalid_code"
	default:
		e.typ = "DELETE_ACCOUNT"
	}
	if e.typ != "LOGIN_ERROR" && e.typ != "REGISTER" {
		e.sessionID = ids.newID()
	}
	if u != nil {
		e.details = []kv{{"auth_method", "openid-connect"}, {"username", u.username}}
		if e.typ == "LOGIN" || e.typ == "REGISTER" {
			e.details = append(e.details, kv{"redirect_uri", "https://portal.example.com/callback"})
		}
		if e.typ == "UPDATE_PROFILE" {
			e.details = append(e.details, kv{"previous_first_name", u.firstName}, kv{"updated_first_name", u.firstName + "x"})
		}
	}
	if e.typ == "LOGIN_ERROR" && i%4 == 0 {
		e.userID, e.err = "", "user_not_found"
		e.details = []kv{{"auth_method", "openid-connect"}, {"username", "unknown" + strconv.Itoa(i)}}
	}
	sortDetails(e.details)
	return e
}

func genAdminEvent(rng *mrand.Rand, ids *idSource, rm *realm, a adminActor, humans []*user, groups []*group, roles []*role,
	clients []*client, tm int64) *adminEvent {
	e := &adminEvent{id: ids.newID(), time: tm, realmID: rm.id, authRealmID: a.realmID, authClientID: a.clientUUID,
		authUserID: a.userID, authIP: a.ip, hasRep: true}
	pickUser := func() *user {
		if len(humans) == 0 {
			return nil
		}
		return humans[rng.IntN(len(humans))]
	}
	x := rng.IntN(6)
	u := pickUser()
	switch {
	case x == 0 && u != nil:
		e.operationType, e.resourceType, e.resourcePath = "UPDATE", "USER", "users/"+u.id
		e.representation = mustJSON(map[string]any{"id": u.id, "username": u.username, "enabled": u.enabled})
		e.details = []kv{{"username", u.username}}
	case x == 1 && u != nil && len(groups) > 0:
		g := groups[rng.IntN(len(groups))]
		e.operationType, e.resourceType, e.resourcePath = "CREATE", "GROUP_MEMBERSHIP", "users/"+u.id+"/groups/"+g.id
		e.representation = mustJSON(map[string]any{"id": g.id, "name": g.name, "path": g.path()})
		e.details = []kv{{"username", u.username}}
	case x == 2 && u != nil && len(roles) > 0:
		r := roles[rng.IntN(len(roles))]
		e.operationType, e.resourceType, e.resourcePath = "CREATE", "REALM_ROLE_MAPPING", "users/"+u.id+"/role-mappings/realm"
		e.representation = mustJSON([]any{map[string]any{"id": r.id, "name": r.name, "composite": len(r.composites) > 0,
			"clientRole": false, "containerId": rm.id}})
	case x == 3 && len(groups) > 0:
		g := groups[rng.IntN(len(groups))]
		e.operationType, e.resourceType, e.resourcePath = "UPDATE", "GROUP", "groups/"+g.id
		e.representation = mustJSON(map[string]any{"id": g.id, "name": g.name, "path": g.path()})
	case x == 4 && len(clients) > 0:
		c := clients[rng.IntN(len(clients))]
		e.operationType, e.resourceType, e.resourcePath = "UPDATE", "CLIENT", "clients/"+c.id
		e.representation = mustJSON(map[string]any{"id": c.id, "clientId": c.clientID, "enabled": c.enabled})
	default:
		e.operationType, e.resourceType, e.resourcePath = "UPDATE", "REALM", ""
		e.representation = mustJSON(map[string]any{"realm": rm.name, "enabled": true})
		e.hasRep = true
	}
	return e
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of plain values
	}
	return string(b)
}

type adminActor struct {
	realmID, clientUUID, userID, ip string
}
