package kctwin

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
)

// Public realm endpoints: what anyone may read about a realm without a token
// (services/.../resources/RealmsResource.java). keycdc does not need them, but people
// pointing tools at the twin do, and a client library may call them to find the token
// endpoint.

// realmDoesNotExist is RealmsResource's answer for an unknown realm on every public path.
func realmDoesNotExist() resp { return jsonResp(404, errBody{Error: "Realm does not exist"}) }

// baseURL is the server's address as the request reached it, like the base URI Keycloak
// builds its links from when no hostname is configured.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// issuerURL is a realm's issuer: its public URL, the "iss" of its tokens.
func issuerURL(r *http.Request, realmName string) string { return baseURL(r) + "/realms/" + realmName }

// publishedRealm is PublishedRealmRepresentation.
type publishedRealm struct {
	Realm           string `json:"realm"`
	PublicKey       string `json:"public_key"`
	TokenService    string `json:"token-service"`
	AccountService  string `json:"account-service"`
	TokensNotBefore int    `json:"tokens-not-before"`
}

// GET /realms/{realm}
func (t *Twin) getPublicRealm(rc *rctx) resp {
	rm := t.realms[rc.r.PathValue("realm")]
	if rm == nil {
		return realmDoesNotExist()
	}
	iss := issuerURL(rc.r, rm.name)
	return jsonResp(200, publishedRealm{Realm: rm.name, PublicKey: realmPublicKey(rm),
		TokenService: iss + "/protocol/openid-connect", AccountService: iss + "/account"})
}

// realmPublicKey stands in for the realm's RSA signing key: a well-formed, base64 DER
// SubjectPublicKeyInfo (what Keycloak's public_key holds) derived from the realm's id, so it
// is stable for the realm's life and differs between realms. No private key exists; the
// twin's tokens are HMAC-signed and verifiable by nobody but the twin.
func realmPublicKey(rm *realm) string {
	var n []byte
	for i := byte(0); len(n) < 256; i++ {
		h := sha256.Sum256(append([]byte(rm.id+"\x00"+rm.name+"\x00"), i))
		n = append(n, h[:]...)
	}
	n[0] |= 0x80 // a full 2048-bit modulus
	n[255] |= 1  // odd, as an RSA modulus is
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(der)
}

// oidcConfiguration is the part of Keycloak's OpenID Provider Metadata
// (OIDCConfigurationRepresentation) that names endpoints, grants, methods and scopes. The
// algorithm lists are left out: the twin signs nothing a client could verify.
type oidcConfiguration struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
	UserinfoEndpoint                       string   `json:"userinfo_endpoint"`
	EndSessionEndpoint                     string   `json:"end_session_endpoint"`
	FrontchannelLogoutSessionSupported     bool     `json:"frontchannel_logout_session_supported"`
	FrontchannelLogoutSupported            bool     `json:"frontchannel_logout_supported"`
	JWKSURI                                string   `json:"jwks_uri"`
	CheckSessionIframe                     string   `json:"check_session_iframe"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	SubjectTypesSupported                  []string `json:"subject_types_supported"`
	ResponseModesSupported                 []string `json:"response_modes_supported"`
	RegistrationEndpoint                   string   `json:"registration_endpoint"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                        []string `json:"claims_supported"`
	ClaimTypesSupported                    []string `json:"claim_types_supported"`
	ClaimsParameterSupported               bool     `json:"claims_parameter_supported"`
	ScopesSupported                        []string `json:"scopes_supported"`
	RequestParameterSupported              bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported           bool     `json:"request_uri_parameter_supported"`
	CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
	TLSClientCertificateBoundAccessTokens  bool     `json:"tls_client_certificate_bound_access_tokens"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	BackchannelLogoutSupported             bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported      bool     `json:"backchannel_logout_session_supported"`
	DeviceAuthorizationEndpoint            string   `json:"device_authorization_endpoint"`
	BackchannelAuthenticationEndpoint      string   `json:"backchannel_authentication_endpoint"`
	PushedAuthorizationRequestEndpoint     string   `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests     bool     `json:"require_pushed_authorization_requests"`
	AuthorizationResponseIssParameter      bool     `json:"authorization_response_iss_parameter_supported"`
}

// GET /realms/{realm}/.well-known/openid-configuration
func (t *Twin) getOIDCConfiguration(rc *rctx) resp {
	rm := t.realms[rc.r.PathValue("realm")]
	if rm == nil {
		return realmDoesNotExist()
	}
	iss := issuerURL(rc.r, rm.name)
	oc := iss + "/protocol/openid-connect"
	// The twin's token endpoint implements client_credentials and password; the others are
	// listed because Keycloak lists them, so a client choosing by this document chooses as
	// it would against Keycloak.
	grants := []string{"authorization_code", "client_credentials", "implicit", "password", "refresh_token",
		"urn:ietf:params:oauth:grant-type:device_code"}
	if t.v26() {
		// Standard token exchange is on by default from 26.2.
		grants = append(grants, "urn:ietf:params:oauth:grant-type:token-exchange")
	}
	grants = append(grants, "urn:ietf:params:oauth:grant-type:uma-ticket", "urn:openid:params:grant-type:ciba")
	authMethods := []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"}
	return jsonResp(200, oidcConfiguration{
		Issuer:                                 iss,
		AuthorizationEndpoint:                  oc + "/auth",
		TokenEndpoint:                          oc + "/token",
		IntrospectionEndpoint:                  oc + "/token/introspect",
		UserinfoEndpoint:                       oc + "/userinfo",
		EndSessionEndpoint:                     oc + "/logout",
		FrontchannelLogoutSessionSupported:     true,
		FrontchannelLogoutSupported:            true,
		JWKSURI:                                oc + "/certs",
		CheckSessionIframe:                     oc + "/login-status-iframe.html",
		GrantTypesSupported:                    grants,
		ResponseTypesSupported:                 []string{"code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"},
		SubjectTypesSupported:                  []string{"public", "pairwise"},
		ResponseModesSupported:                 []string{"query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"},
		RegistrationEndpoint:                   iss + "/clients-registrations/openid-connect",
		TokenEndpointAuthMethodsSupported:      authMethods,
		ClaimsSupported:                        []string{"aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "acr"},
		ClaimTypesSupported:                    []string{"normal"},
		ClaimsParameterSupported:               true,
		ScopesSupported:                        []string{"openid", "offline_access", "profile", "email", "address", "phone", "roles", "web-origins", "acr", "microprofile-jwt", "basic"},
		RequestParameterSupported:              true,
		RequestURIParameterSupported:           true,
		CodeChallengeMethodsSupported:          []string{"plain", "S256"},
		TLSClientCertificateBoundAccessTokens:  true,
		RevocationEndpoint:                     oc + "/revoke",
		RevocationEndpointAuthMethodsSupported: authMethods,
		BackchannelLogoutSupported:             true,
		BackchannelLogoutSessionSupported:      true,
		DeviceAuthorizationEndpoint:            oc + "/auth/device",
		BackchannelAuthenticationEndpoint:      oc + "/ext/ciba/auth",
		PushedAuthorizationRequestEndpoint:     oc + "/ext/par/request",
		AuthorizationResponseIssParameter:      true,
	})
}
