// Package kctwin is a simulated Keycloak server — the twin — for keycdc's tests,
// benchmarks and demo: an http.Handler serving the OIDC token endpoint and the Admin REST
// API with the semantics recorded in shared/keycloak-api.md, including the awkward parts
// (service accounts hidden from unfiltered user listings, top-level-only /groups, paging
// defaults that differ per endpoint, version-specific event queries).
//
// It uses the standard library only and shares no types with keycdc's Keycloak client, so
// that a misreading of Keycloak in one of them is caught by the other.
package kctwin
