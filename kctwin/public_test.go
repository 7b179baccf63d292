package kctwin_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/Nerzal/gocloak/v13"

	"github.com/keycdc/keycdc/kctwin"
)

// TestPublicRealmEndpoints: the realm's public information and its OpenID discovery
// document are served without a token, point at the twin's own endpoints, and an unknown
// realm gets Keycloak's 404.
func TestPublicRealmEndpoints(t *testing.T) {
	for _, version := range []string{kctwin.Version26, kctwin.Version25} {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, version, loadAcme(t))
			base := e.srv.URL + "/realms/acme"

			// GET /realms/{realm}, read by a third-party client.
			info, err := e.gc.GetIssuer(e.ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if gocloak.PString(info.Realm) != "acme" || gocloak.PString(info.TokenService) != base+"/protocol/openid-connect" ||
				gocloak.PString(info.AccountService) != base+"/account" || info.TokensNotBefore == nil || *info.TokensNotBefore != 0 {
				t.Fatalf("realm info %+v", info)
			}
			der, err := base64.StdEncoding.DecodeString(gocloak.PString(info.PublicKey))
			if err != nil {
				t.Fatalf("public_key is not base64: %v", err)
			}
			if _, err := x509.ParsePKIXPublicKey(der); err != nil {
				t.Fatalf("public_key is not a public key: %v", err)
			}
			again, err := e.gc.GetIssuer(e.ctx, "acme")
			if err != nil || gocloak.PString(again.PublicKey) != gocloak.PString(info.PublicKey) {
				t.Fatalf("public_key changed between reads: %v", err)
			}
			master, err := e.gc.GetIssuer(e.ctx, "master")
			if err != nil || gocloak.PString(master.PublicKey) == gocloak.PString(info.PublicKey) {
				t.Fatalf("master shares acme's public key: %v", err)
			}

			// The discovery document; its token endpoint issues tokens naming its issuer.
			var oidc struct {
				Issuer                string   `json:"issuer"`
				AuthorizationEndpoint string   `json:"authorization_endpoint"`
				TokenEndpoint         string   `json:"token_endpoint"`
				JWKSURI               string   `json:"jwks_uri"`
				GrantTypes            []string `json:"grant_types_supported"`
				AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
				Scopes                []string `json:"scopes_supported"`
			}
			e.get("/realms/acme/.well-known/openid-configuration", "", &oidc)
			if oidc.Issuer != base || oidc.TokenEndpoint != base+"/protocol/openid-connect/token" ||
				oidc.AuthorizationEndpoint != base+"/protocol/openid-connect/auth" || oidc.JWKSURI != base+"/protocol/openid-connect/certs" {
				t.Fatalf("discovery %+v", oidc)
			}
			for _, g := range []string{"client_credentials", "password", "authorization_code", "refresh_token"} {
				if !slices.Contains(oidc.GrantTypes, g) {
					t.Errorf("grant_types_supported %v lacks %s", oidc.GrantTypes, g)
				}
			}
			if !slices.Contains(oidc.AuthMethods, "client_secret_basic") || !slices.Contains(oidc.Scopes, "openid") {
				t.Errorf("auth methods %v, scopes %v", oidc.AuthMethods, oidc.Scopes)
			}
			creds, err := e.tw.PollerCredentials("acme")
			if err != nil {
				t.Fatal(err)
			}
			st, body := e.form(strings.TrimPrefix(oidc.TokenEndpoint, e.srv.URL), url.Values{"grant_type": {"client_credentials"},
				"client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}})
			if st != 200 {
				t.Fatalf("token endpoint from discovery: %d %s", st, body)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok.AccessToken, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q", tok.AccessToken)
			}
			claims, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Iss string `json:"iss"`
			}
			if err := json.Unmarshal(claims, &c); err != nil || c.Iss != oidc.Issuer {
				t.Fatalf("token issuer %q, discovery says %q (%v)", c.Iss, oidc.Issuer, err)
			}

			// Unknown realms, with or without a token.
			for _, p := range []string{"/realms/nope", "/realms/nope/.well-known/openid-configuration"} {
				e.expect("GET", p, "", nil, 404, `{"error":"Realm does not exist"}`)
				e.expect("GET", p, e.admin, nil, 404, `{"error":"Realm does not exist"}`)
			}
		})
	}
}
