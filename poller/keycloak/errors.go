package keycloak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// StatusError is a non-2xx answer from Keycloak. Path is the request path without the
// query; Error and Description come from Keycloak's JSON error body when it sent one.
type StatusError struct {
	Method      string
	Path        string
	Status      int
	KCError     string
	Description string
	// RetryAfter is the server's Retry-After hint (zero when absent).
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.KCError != "" {
		msg += ": " + e.KCError
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// ForbiddenError is a 403: the service account lacks a realm-management role.
type ForbiddenError struct {
	*StatusError
	Realm string
	// Role is the realm-management client role the endpoint needs, e.g. "view-users".
	Role string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%v: the service account of realm %q lacks the realm-management role %q; assign it in "+
		"Keycloak (Clients → realm-management → Service account roles of keycdc's client)", e.StatusError, e.Realm, e.Role)
}

func (e *ForbiddenError) Unwrap() error { return e.StatusError }

// AuthError is a refused client-credentials grant (wrong id or secret, service accounts
// disabled, unknown realm). It is permanent: retrying cannot help.
type AuthError struct {
	Realm       string
	ClientID    string
	Status      int
	KCError     string
	Description string
}

func (e *AuthError) Error() string {
	hint := "check keycloak.client_id and keycloak.client_secret"
	switch e.KCError {
	case "unauthorized_client":
		if e.Description != "" && e.Description != "Invalid client or Invalid client credentials" {
			hint = "enable 'Service accounts roles' (client authentication on) for this client"
		}
	case "Realm does not exist":
		hint = "check keycloak.realms and keycloak.auth_realm"
	}
	d := e.Description
	if d == "" {
		d = e.KCError
	}
	return fmt.Sprintf("keycloak refused the client-credentials grant for client %q in realm %q (HTTP %d %s: %s); %s",
		e.ClientID, e.Realm, e.Status, e.KCError, d, hint)
}

// DecodeError is a 2xx answer whose body is not the JSON the endpoint documents.
type DecodeError struct {
	Method, Path string
	Err          error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s %s: keycloak answered with a body keycdc cannot read: %v", e.Method, e.Path, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is Keycloak's own answer that the entity asked for does
// not exist: a 404 with Keycloak's JSON error body naming the entity ("User not found",
// "Could not find group by id", ...). keycdc writes tombstones on this answer, so anything
// else that answers 404 — a proxy or ingress without a route ("404 page not found"), a
// wrong base path ("HTTP 404 Not Found"), a realm that is gone ("Realm not found.") — is
// not taken for it.
func IsNotFound(err error) bool {
	var s *StatusError
	if !errors.As(err, &s) || s.Status != http.StatusNotFound || s.KCError == "" {
		return false
	}
	msg := strings.ToLower(s.KCError)
	if strings.Contains(msg, "realm") || strings.HasPrefix(msg, "http 404") || msg == "not found" {
		return false
	}
	return strings.Contains(msg, "not found") || strings.Contains(msg, "could not find")
}

// IsNoServiceAccount reports Keycloak's 400 for the service-account user of a client
// whose service accounts are off ("Service account not enabled for the client …"): the
// client has no such user, as when it was switched off after the client was listed.
func IsNoServiceAccount(err error) bool {
	var s *StatusError
	return errors.As(err, &s) && s.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(s.KCError+" "+s.Description), "service account not enabled")
}

// IsForbidden reports whether err is a 403.
func IsForbidden(err error) bool {
	var f *ForbiddenError
	return errors.As(err, &f)
}

// IsRetryable reports whether a request that failed with err may succeed if sent again:
// 408, 429 and 5xx gateway/availability answers, timeouts and broken connections. A
// cancelled parent context is not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var s *StatusError
	if errors.As(err, &s) {
		switch s.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var a *AuthError
	if errors.As(err, &a) {
		return a.Status >= 500 || a.Status == http.StatusTooManyRequests
	}
	var d *DecodeError
	if errors.As(err, &d) {
		// A body cut short by a dropped connection is transient; malformed JSON is not.
		return errors.Is(err, io.ErrUnexpectedEOF)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// retryAfter returns the server's Retry-After hint carried by err, if any.
func retryAfter(err error) time.Duration {
	var s *StatusError
	if errors.As(err, &s) {
		return s.RetryAfter
	}
	return 0
}

// neededRole names the realm-management role that the endpoint of route needs.
func neededRole(route string) string {
	switch route {
	case routeRealmRoles, routeClientRoles, routeRoleByID, routeRoleComposites:
		return "view-realm"
	case routeRoleUsers, routeClientRoleUsers:
		return "view-realm and view-users"
	case routeClients, routeClient, routeServiceAccount:
		return "view-clients"
	case routeEvents, routeAdminEvents, routeEventsConfig:
		return "view-events"
	default:
		return "view-users"
	}
}
