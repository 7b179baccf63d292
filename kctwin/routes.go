package kctwin

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ErrNotFound is returned (wrapped) by Go methods given a realm, user, group, role or
// client that does not exist.
var ErrNotFound = errors.New("not found")

func errorf(format string, a ...any) error { return fmt.Errorf("kctwin: "+format, a...) }

func lower(s string) string { return strings.ToLower(s) }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (t *Twin) realmLocked(name string) (*realm, error) {
	rm := t.realms[name]
	if rm == nil {
		return nil, fmt.Errorf("kctwin: realm %q: %w", name, ErrNotFound)
	}
	return rm, nil
}

// routes registers every Keycloak route and the control endpoints.
func (t *Twin) routes() {
	t.mux = http.NewServeMux()
	t.control = http.NewServeMux()
	const a = "/admin/realms/{realm}"
	r := func(method, path string, mode lockMode, h func(rc *rctx) resp) {
		t.kcRoute(method+" "+path, mode, true, h)
	}
	t.kcRoute("POST /realms/{realm}/protocol/openid-connect/token", lockWrite, false, t.tokenEndpoint)
	t.kcRoute("GET /realms/{realm}", lockRead, false, t.getPublicRealm)
	t.kcRoute("GET /realms/{realm}/.well-known/openid-configuration", lockRead, false, t.getOIDCConfiguration)

	r("GET", "/admin/realms", lockRead, (*rctx).getRealms)
	r("GET", a, lockRead, (*rctx).getRealm)
	r("GET", a+"/users", lockRead, (*rctx).getUsers)
	r("GET", a+"/users/count", lockRead, (*rctx).getUsersCount)
	r("GET", a+"/users/{id}", lockRead, (*rctx).getUser)
	r("GET", a+"/users/{id}/groups", lockRead, (*rctx).getUserGroups)
	r("GET", a+"/users/{id}/groups/count", lockRead, (*rctx).getUserGroupsCount)
	r("GET", a+"/users/{id}/role-mappings", lockRead, (*rctx).getRoleMappings)
	r("GET", a+"/users/{id}/role-mappings/realm", lockRead, func(rc *rctx) resp { return rc.getRoleMappingsFor(false, false) })
	r("GET", a+"/users/{id}/role-mappings/realm/composite", lockRead, func(rc *rctx) resp { return rc.getRoleMappingsFor(false, true) })
	r("GET", a+"/users/{id}/role-mappings/clients/{client}", lockRead, func(rc *rctx) resp { return rc.getRoleMappingsFor(true, false) })
	r("GET", a+"/users/{id}/role-mappings/clients/{client}/composite", lockRead, func(rc *rctx) resp { return rc.getRoleMappingsFor(true, true) })
	r("GET", a+"/groups", lockRead, (*rctx).getGroups)
	r("GET", a+"/groups/count", lockRead, (*rctx).getGroupsCount)
	r("GET", a+"/groups/{id}", lockRead, (*rctx).getGroup)
	r("GET", a+"/groups/{id}/children", lockRead, (*rctx).getChildren)
	r("GET", a+"/groups/{id}/members", lockRead, (*rctx).getMembers)
	r("GET", a+"/group-by-path/{path...}", lockRead, (*rctx).getGroupByPath)
	r("GET", a+"/group-by-path", lockRead, (*rctx).getGroupByPath)
	r("GET", a+"/roles", lockRead, (*rctx).getRealmRoles)
	r("GET", a+"/roles/{name}", lockRead, func(rc *rctx) resp { return rc.getRole(false) })
	r("GET", a+"/roles/{name}/users", lockRead, func(rc *rctx) resp { return rc.getRoleUsers(false) })
	r("GET", a+"/roles/{name}/composites", lockRead, func(rc *rctx) resp { return rc.getRoleComposites(false, "") })
	r("GET", a+"/roles/{name}/composites/realm", lockRead, func(rc *rctx) resp { return rc.getRoleComposites(false, "realm") })
	r("GET", a+"/roles/{name}/composites/clients/{client}", lockRead, func(rc *rctx) resp { return rc.getRoleComposites(false, "client") })
	r("GET", a+"/roles-by-id/{id}", lockRead, (*rctx).getRoleByID)
	r("GET", a+"/roles-by-id/{id}/composites", lockRead, (*rctx).getRoleByIDComposites)
	r("GET", a+"/clients", lockRead, (*rctx).getClients)
	r("GET", a+"/clients/{id}", lockRead, (*rctx).getClient)
	r("GET", a+"/clients/{id}/roles", lockRead, (*rctx).getClientRoles)
	r("GET", a+"/clients/{id}/roles/{name}", lockRead, func(rc *rctx) resp { return rc.getRole(true) })
	r("GET", a+"/clients/{id}/roles/{name}/users", lockRead, func(rc *rctx) resp { return rc.getRoleUsers(true) })
	r("GET", a+"/clients/{id}/roles/{name}/composites", lockRead, func(rc *rctx) resp { return rc.getRoleComposites(true, "") })
	r("GET", a+"/clients/{id}/service-account-user", lockRead, (*rctx).getServiceAccountUser)
	r("GET", a+"/clients/{id}/client-secret", lockRead, (*rctx).getClientSecret)
	r("GET", a+"/events", lockRead, (*rctx).getEvents)
	r("GET", a+"/admin-events", lockRead, (*rctx).getAdminEvents)
	r("GET", a+"/events/config", lockRead, (*rctx).getEventsConfig)
	t.writeRoutes(r)

	// Anything else: RESTEasy's answer for a path no resource method matches, and a
	// different body when the path exists for another method.
	st := t.stats.route("unmatched")
	t.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		msg := "Unable to find matching target resource method"
		for _, m := range [...]string{"GET", "POST", "PUT", "DELETE"} {
			probe := req.Clone(req.Context())
			probe.Method = m
			if _, pattern := t.mux.Handler(probe); pattern != "/" && pattern != "" {
				msg = "HTTP 404 Not Found"
				break
			}
		}
		t.write(cw, req, notFound(msg), false)
		st.record(cw.status, cw.n)
	})
	t.controlRoutes()
}
