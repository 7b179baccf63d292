// Package keycloak is keycdc's typed client for the parts of the Keycloak Admin REST API
// that a change-data poller reads: users, groups, roles, clients, their relations, user
// events and admin events.
//
// Data flow: a caller (poller/snapshot, poller/events) asks for one page or one entity; the
// client obtains a service-account token with the client-credentials grant (re-run before it
// expires, never refreshed), sends the request under a bounded number of concurrent
// requests, retries transient failures (429 honouring Retry-After, 5xx, timeouts) with
// jittered exponential backoff, and decodes Keycloak's JSON into the representation types
// of this package. A 401 re-authenticates once; a 403 becomes a *ForbiddenError naming the
// realm-management role the endpoint needs.
//
// Why retries live here and not in the poll loop: a full scan of a large realm is thousands
// of requests, so retrying whole cycles would never finish under a small fault rate. This is
// the only retry layer on the Keycloak call path; the poll loop does not retry failed
// cycles immediately, it waits for the next one.
//
// The client takes its *http.Client from the caller and keeps no package state. Secrets
// (client secret, tokens) never appear in errors or logs.
package keycloak
