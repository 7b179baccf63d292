// Package kctwin is a simulated Keycloak server — the twin — for keycdc's tests,
// benchmarks and demo. No Keycloak runs on our machines or in CI, so the twin is how keycdc
// is proven against Keycloak's real behaviour: it follows shared/keycloak-api.md, awkward
// parts included, because a twin kinder than Keycloak would let bugs ship.
//
// It uses the standard library only and shares no types with keycdc's Keycloak client,
// so a misreading of Keycloak in one of them is caught by the other.
//
// # What it serves
//
// A *Twin is an http.Handler for:
//
//   - POST /realms/{realm}/protocol/openid-connect/token: client_credentials (recording a
//     CLIENT_LOGIN event, as Keycloak does) and the password grant (admin-cli in master for
//     the admin user, any direct-access client elsewhere), with Keycloak's error bodies.
//   - GET /realms/{realm} (public realm info: public_key, token-service, account-service)
//     and GET /realms/{realm}/.well-known/openid-configuration (issuer, endpoints, grant
//     types), without a token; an unknown realm is 404 "Realm does not exist", as on the
//     token endpoint. The public_key is a stable stand-in derived from the realm id.
//   - /admin/realms/...: the reads a poller needs (users, counts, groups, children,
//     members, roles, role users, composites, roles by id, clients, client roles,
//     service-account users, role mappings, user groups, events, admin events, events
//     config, realms) and the writes an administrator makes (users, memberships, role
//     mappings, groups and children, roles and composites, clients and client roles,
//     events config). 401 without a valid token, 403 without the realm-management role an
//     endpoint needs, 404 with Keycloak's messages.
//   - /_twin/...: control endpoints outside Keycloak's path space (stats, faults, tokens,
//     event expiration, dumps, event injection, activity); see control.go.
//
// Semantics follow the emulated version (KeycloakVersion): 26.2 by default, or 25.0.
// On 25.0 user and admin events come newest first only (direction is ignored), dateFrom
// and dateTo accept yyyy-MM-dd only (an epoch value is a 400) and dateTo is 00:00 of its
// day, event representations carry no id and admin events no details, and 403 bodies are
// "unknown_error". On 26.2 direction=asc|desc is honoured (anything else is a 400), dates
// are yyyy-MM-dd in UTC or epoch milliseconds, dateTo covers its whole day, ids and
// details are present, and 403 bodies are "HTTP 403 Forbidden". Inside one millisecond
// events are ordered by id in both directions: stable, but not insertion order and not
// reversed by direction, which trips pollers that assume either.
//
// Keycloak behaviour the twin reproduces on purpose (from keycloak-api.md, Keycloak's
// source, and behaviour measured on live 26.x servers):
//
//   - Users: unfiltered and searched listings leave service accounts out, any field
//     filter brings them in, and /users/count never counts them; field filters are
//     case-insensitive substrings while search is a prefix with "*" and "quoted" forms;
//     the full representation has no serviceAccountClientId (only exports do); listing
//     entries carry a one-key access map on 26.2 and single reads the full one; usernames
//     are immutable unless the realm allows editing them.
//   - Groups: /groups lists top-level groups only, with subGroupCount and access;
//     /children pages with max 10 by default; members and role users default to max 100;
//     /groups and /clients have no default max; membership listings omit subGroupCount;
//     a missing group is a 404 before any permission check.
//   - Roles: listings are unpaged, and then in no name order, unless both first and max
//     (or a non-empty search) are given, when they are sorted by name; role PUTs replace
//     where user and client PUTs merge; roles-by-id answers 404 before 403.
//   - Errors: a malformed first/max is a 404 before the role check; an unknown event type,
//     operation or resource type in a filter is a 500; bad dates and directions are 400s
//     with Keycloak's sentences; an empty or null JSON body is a 500; a known path with
//     the wrong method is "HTTP 404 Not Found", an unknown path "Unable to find matching
//     target resource method".
//   - Clients: secrets are returned in plaintext on confidential clients.
//   - Events: expire only when the periodic cleanup runs (ExpireEvents, or
//     EventCleanupInterval), never at read time; PUT /events/config replaces two fields and
//     merges four, and records itself when admin events were on before or after.
//
// # Data flow
//
// Realms enter through Load/LoadFile/LoadFiles (Keycloak realm exports: a realm object,
// an array of realms, or "<realm>-users-<n>.json" files; references by name, path and
// clientId are resolved, missing ids generated, errors name the file and JSON path; as in
// Keycloak's import the built-in clients and roles exist before references are resolved, so
// a file may use them undeclared, and ones it declares are merged with the built-ins) or
// Generate (a synthetic realm, deterministic for a seed, up to millions of users). Every
// realm gets its built-in clients and roles and a confidential poller client ("keycdc" by
// default) whose service account holds view-users, view-events, view-realm and
// view-clients; PollerCredentials returns it.
//
// Requests pass through serveKC: the concurrency cap, the request hook (SetHook), faults
// (latency, error statuses, slow and hung responses), the bearer token check, then the
// handler under the Twin's read or write lock. Handlers build the whole response under the
// lock and write it after releasing it. User representations are encoded by hand and
// cached per user until the user changes, and users are kept sorted by username so a page
// is a slice of an index; events are kept sorted by time so date filters are binary
// searches.
//
// Writes over the Admin API and the Go mutation methods (CreateUser, JoinGroup,
// GrantRoles, CreateClient, ...) share one mutation layer that records admin events with
// Keycloak's resourcePath rules. Simulated end-user activity (SimulateLogin, ...) records
// user events only. The activity generator (StartActivity) drives both at a rate. Dump
// returns a realm's complete state in the twin's own JSON format (see dump.go) as ground
// truth for tests.
//
// # Concurrency and lifetime
//
// Every exported method is safe for concurrent use, including from inside a request hook.
// Close stops the Twin's goroutines (event cleanup, activity generator) and releases hung
// responses; no goroutine outlives it.
//
// # Files
//
//	twin.go      Twin, options, New, Close, ServeHTTP, hook
//	serve.go     request pipeline: cap, hook, faults, auth, locking, response writing
//	routes.go    route table of the Keycloak API
//	auth.go      token endpoint, tokens, permissions
//	public.go    public realm info and OpenID discovery
//	builtins.go  built-in clients and roles, the poller client, the master admin
//	model.go     the realm model and its sorted indexes
//	userjson.go  hand-written, cached user representations
//	reps.go      other representations (groups, roles, clients, realms)
//	reads.go     Admin API reads
//	events.go    user and admin events: storage, queries, config, expiration, injection
//	writes.go    Admin API writes
//	mutate.go    mutation layer shared by writes and Go methods; admin events
//	api.go       Go mutation methods and simulated end-user activity
//	load.go      realm export loading
//	generate.go  synthetic realms
//	dump.go      Dump format and PollerCredentials
//	faults.go    fault injection and the concurrency cap
//	stats.go     request accounting
//	control.go   /_twin/ control endpoints
//	activity.go  activity generator
//	ids.go       ids and secrets
package kctwin
