package kctwin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// perms is what a token may do: realm-management role bits for its own realm, or every
// right on every realm for the master realm's admin.
type perms struct {
	all  bool
	bits uint32
}

func (p perms) has(bit uint32) bool { return p.all || p.bits&bit != 0 }

// session is what an access token stands for.
type session struct {
	realm      string // issuing realm name
	realmID    string
	clientID   string // OAuth clientId
	clientUUID string
	userID     string
	ip         string
	perms      perms
	exp        time.Time
	epoch      uint64
}

type tokenStore struct {
	mu     sync.RWMutex
	byTok  map[string]*session
	epoch  uint64 // bumped by RevokeTokens
	key    []byte
	expMin time.Duration // runtime override of the lifespan; 0 = config
}

func (s *tokenStore) init() {
	s.byTok = map[string]*session{}
	s.key = make([]byte, 32)
	_, _ = rand.Read(s.key)
}

// RevokeTokens makes every access token issued so far invalid: the next Admin API call
// with one gets 401, as after a server-side session logout.
func (t *Twin) RevokeTokens() {
	t.tokens.mu.Lock()
	t.tokens.epoch++
	t.tokens.byTok = map[string]*session{}
	t.tokens.mu.Unlock()
}

// SetTokenLifespan changes the lifespan of tokens issued from now on.
func (t *Twin) SetTokenLifespan(d time.Duration) {
	t.tokens.mu.Lock()
	t.tokens.expMin = d
	t.tokens.mu.Unlock()
}

func (t *Twin) tokenLifespan() time.Duration {
	t.tokens.mu.RLock()
	defer t.tokens.mu.RUnlock()
	if t.tokens.expMin > 0 {
		return t.tokens.expMin
	}
	return t.cfg.tokenLifespan
}

// issue creates a signed JWT-shaped access token for s.
func (t *Twin) issue(s *session, issuer string) (string, int) {
	life := t.tokenLifespan()
	now := t.now()
	s.exp = now.Add(life)
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := map[string]any{
		"exp": s.exp.Unix(), "iat": now.Unix(), "jti": formatUUID(jti),
		"iss": issuer, "sub": s.userID, "typ": "Bearer", "azp": s.clientID,
		"preferred_username": "", "scope": "profile email",
	}
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	msg := hdr + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, t.tokens.key)
	mac.Write([]byte(msg))
	tok := msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	t.tokens.mu.Lock()
	s.epoch = t.tokens.epoch
	t.tokens.byTok[tok] = s
	// Drop expired sessions now and then so a long soak does not grow the map forever.
	if len(t.tokens.byTok)%1024 == 0 {
		for k, v := range t.tokens.byTok {
			if now.After(v.exp) {
				delete(t.tokens.byTok, k)
			}
		}
	}
	t.tokens.mu.Unlock()
	return tok, int(life / time.Second)
}

// bearer returns the session of the request's bearer token, or nil when it is missing,
// unknown, revoked or expired.
func (t *Twin) bearer(r *http.Request) *session {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil
	}
	tok := strings.TrimSpace(h[7:])
	t.tokens.mu.RLock()
	s := t.tokens.byTok[tok]
	t.tokens.mu.RUnlock()
	if s == nil || !t.now().Before(s.exp) {
		return nil
	}
	return s
}

// permsFor computes what a user's token may do, from its effective realm-management roles
// (and the master "admin" role). Called under t.mu.
func (t *Twin) permsFor(rm *realm, u *user) perms {
	eff := rm.effectiveRoles(u)
	var p perms
	for r := range eff {
		if rm.name == "master" && r.client == nil && r.name == "admin" {
			p.all = true
		}
		if r.client != nil && r.client.clientID == mgmtClientID {
			p.bits |= mgmtRoleBits[r.name]
		}
	}
	// The admin permission evaluators let a manage role read what its view role reads,
	// and a view role query what its query role queries.
	for _, imp := range [...]struct{ has, gives uint32 }{
		{roleManageUsers, roleViewUsers}, {roleViewUsers, roleQueryUsers | roleQueryGroups},
		{roleManageClients, roleViewClients}, {roleViewClients, roleQueryClients},
		{roleManageRealm, roleViewRealm}, {roleManageEvents, roleViewEvents},
	} {
		if p.bits&imp.has != 0 {
			p.bits |= imp.gives
		}
	}
	return p
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func oauthErr(status int, code, desc string) resp {
	return jsonResp(status, oauthError{Error: code, Description: desc})
}

// tokenEndpoint serves POST /realms/{realm}/protocol/openid-connect/token with the
// client_credentials grant, and the password grant for public or confidential clients with
// direct access grants (admin-cli). Error bodies follow keycloak-api.md §1.
func (t *Twin) tokenEndpoint(rc *rctx) resp {
	r := rc.r
	rm := t.realms[r.PathValue("realm")]
	if rm == nil {
		return realmDoesNotExist()
	}
	if err := r.ParseForm(); err != nil {
		return oauthErr(400, "invalid_request", "Invalid form body")
	}
	grant := r.PostForm.Get("grant_type")
	cid, secret, basic := r.BasicAuth()
	if !basic {
		cid, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if grant == "" {
		return oauthErr(400, "invalid_request", "Missing form parameter: grant_type")
	}
	ip := remoteIP(r)
	c := rm.byClient[cid]
	if c == nil || !c.enabled {
		t.recordUserEventLocked(rm, eventSpec{typ: loginErrorFor(grant), clientID: cid, ip: ip, err: "client_not_found"})
		return oauthErr(401, "invalid_client", "Invalid client or Invalid client credentials")
	}
	if c.bearerOnly {
		return oauthErr(401, "unauthorized_client", "Bearer-only not allowed")
	}
	if !c.public && (secret == "" || !hmac.Equal([]byte(secret), []byte(c.secret))) {
		t.recordUserEventLocked(rm, eventSpec{typ: loginErrorFor(grant), clientID: cid, ip: ip, err: "invalid_client_credentials"})
		return oauthErr(401, "unauthorized_client", "Invalid client or Invalid client credentials")
	}
	issuer := issuerURL(r, rm.name)
	switch grant {
	case "client_credentials":
		if c.public {
			return oauthErr(401, "unauthorized_client", "Public client not allowed to retrieve service account")
		}
		if !c.serviceAccounts || c.saUser == nil {
			t.recordUserEventLocked(rm, eventSpec{typ: "CLIENT_LOGIN_ERROR", clientID: cid, ip: ip, err: "invalid_client"})
			return oauthErr(401, "unauthorized_client", "Client not enabled to retrieve service account")
		}
		s := &session{realm: rm.name, realmID: rm.id, clientID: c.clientID, clientUUID: c.id,
			userID: c.saUser.id, ip: ip, perms: t.permsFor(rm, c.saUser)}
		tok, exp := t.issue(s, issuer)
		// Keycloak records a CLIENT_LOGIN user event for every client_credentials grant
		// (services/.../protocol/oidc/grants/ClientCredentialsGrantType.java).
		t.recordUserEventLocked(rm, eventSpec{typ: "CLIENT_LOGIN", clientID: c.clientID, userID: c.saUser.id, ip: ip,
			details: []kv{{"grant_type", "client_credentials"}, {"scope", "profile email"},
				{"client_auth_method", "client-secret"}, {"username", c.saUser.username}}})
		return tokenResp(tok, exp)
	case "password":
		if !c.directAccess {
			return oauthErr(400, "unauthorized_client", "Client not allowed for direct access grants")
		}
		name := lower(r.PostForm.Get("username"))
		u := rm.userByName(name)
		if u == nil {
			u = rm.userByEmail(name)
		}
		if u == nil || u.password == "" || u.password != r.PostForm.Get("password") || !u.enabled {
			uid := ""
			if u != nil {
				uid = u.id
			}
			errName := "user_not_found"
			if u != nil {
				errName = "invalid_user_credentials"
			}
			t.recordUserEventLocked(rm, eventSpec{typ: "LOGIN_ERROR", clientID: c.clientID, userID: uid, ip: ip, err: errName,
				details: []kv{{"auth_method", "openid-connect"}, {"grant_type", "password"}, {"username", name}}})
			return oauthErr(401, "invalid_grant", "Invalid user credentials")
		}
		s := &session{realm: rm.name, realmID: rm.id, clientID: c.clientID, clientUUID: c.id,
			userID: u.id, ip: ip, perms: t.permsFor(rm, u)}
		tok, exp := t.issue(s, issuer)
		t.recordUserEventLocked(rm, eventSpec{typ: "LOGIN", clientID: c.clientID, userID: u.id, ip: ip, session: true,
			details: []kv{{"auth_method", "openid-connect"}, {"grant_type", "password"}, {"username", u.username}}})
		return tokenResp(tok, exp)
	default:
		return oauthErr(400, "unsupported_grant_type", "Unsupported grant_type")
	}
}

func loginErrorFor(grant string) string {
	if grant == "client_credentials" {
		return "CLIENT_LOGIN_ERROR"
	}
	return "LOGIN_ERROR"
}

func tokenResp(tok string, exp int) resp {
	b := []byte(`{"access_token":`)
	b = appendJSONString(b, tok)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, int64(exp), 10)
	b = append(b, `,"refresh_expires_in":0,"token_type":"Bearer","not-before-policy":0,"scope":"profile email"}`...)
	return resp{status: 200, body: b}
}

func remoteIP(r *http.Request) string {
	h := r.RemoteAddr
	if i := strings.LastIndexByte(h, ':'); i > 0 {
		h = h[:i]
	}
	return strings.Trim(h, "[]")
}
