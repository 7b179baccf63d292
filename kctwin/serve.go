package kctwin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rctx is one Keycloak request being served.
type rctx struct {
	t     *Twin
	r     *http.Request
	route string
	sess  *session // nil on the public endpoints (token, realm info, discovery)
	realm *realm   // the {realm} of an Admin API path, when the route has one
}

// resp is a fully built response. Handlers build it under the Twin lock; it is written
// after the lock is released so that a slow client never blocks writers.
type resp struct {
	status   int
	body     []byte
	location string // Location header for 201 responses (path relative to the server)
	header   http.Header
	pooled   *[]byte // body's buffer, returned to its pool after writing
}

type errBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

type errMsgBody struct {
	ErrorMessage string `json:"errorMessage"`
}

func jsonResp(status int, v any) resp {
	b, err := json.Marshal(v)
	if err != nil {
		return serverError()
	}
	return resp{status: status, body: b}
}

func rawJSON(status int, b []byte) resp { return resp{status: status, body: b} }

func noContent() resp { return resp{status: 204} }

func created(loc string) resp { return resp{status: 201, location: loc} }

func notFound(msg string) resp { return jsonResp(404, errBody{Error: msg}) }

func badRequest(msg string) resp { return jsonResp(400, errBody{Error: msg}) }

func conflict(msg string) resp { return jsonResp(409, errMsgBody{ErrorMessage: msg}) }

// serverError is Keycloak's body for an unhandled exception (KeycloakErrorHandler).
func serverError() resp {
	return jsonResp(500, errBody{Error: "unknown_error", Description: "For more on this error consult the server log."})
}

func (t *Twin) unauthorized() resp { return jsonResp(401, errBody{Error: "HTTP 401 Unauthorized"}) }

// forbidden follows keycloak-api.md §9: recent releases report the exception message,
// older ones an "unknown_error" with a description.
func (t *Twin) forbidden() resp {
	if t.v26() {
		return jsonResp(403, errBody{Error: "HTTP 403 Forbidden"})
	}
	return jsonResp(403, errBody{Error: "unknown_error", Description: "For more on this error consult the server log at the debug level."})
}

// need returns a 403 response unless the caller holds one of bits.
func (rc *rctx) need(bits ...uint32) (resp, bool) {
	for _, b := range bits {
		if rc.sess.perms.has(b) {
			return resp{}, true
		}
	}
	return rc.t.forbidden(), false
}

// lockMode says how a handler touches the model.
type lockMode int

const (
	lockRead lockMode = iota
	lockWrite
)

type handlerFunc func(rc *rctx) resp

// kcRoute registers a Keycloak route. auth=false is for the public endpoints (token, realm
// info, discovery), whose handlers look the realm up themselves: an unknown realm there is
// "Realm does not exist", not the Admin API's "Realm not found.".
func (t *Twin) kcRoute(pattern string, mode lockMode, auth bool, h handlerFunc) {
	st := t.stats.route(pattern)
	t.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		t.serveKC(w, r, pattern, st, mode, auth, h)
	})
}

func (t *Twin) serveKC(w http.ResponseWriter, r *http.Request, route string, st *routeStats, mode lockMode, auth bool, h handlerFunc) {
	cw := &countingWriter{ResponseWriter: w}
	defer func() { st.record(cw.status, cw.n) }()

	if !t.faults.acquire() {
		t.stats.rejected.Add(1)
		hdr := http.Header{"Retry-After": []string{"1"}}
		t.write(cw, r, resp{status: 503, body: faultBodies[503], header: hdr}, false)
		return
	}
	defer t.faults.release()

	t.callHook(route, r)

	plan := t.faults.plan(route)
	if plan.latency > 0 && !t.sleep(r.Context(), plan.latency) {
		return
	}
	if plan.hang > 0 {
		// A hung upstream: nothing is sent until the client gives up, the hang passes or
		// the Twin closes; then the connection is dropped without a response.
		t.sleep(r.Context(), plan.hang)
		panic(http.ErrAbortHandler)
	}
	if plan.status != 0 {
		var hdr http.Header
		if plan.status == 429 || plan.status == 503 {
			hdr = http.Header{"Retry-After": []string{strconv.Itoa(plan.retryAfter)}}
		}
		t.write(cw, r, resp{status: plan.status, body: faultBodies[plan.status], header: hdr}, plan.status >= 502)
		return
	}

	rc := &rctx{t: t, r: r, route: route}
	var out resp
	if auth {
		rc.sess = t.bearer(r)
		if rc.sess == nil {
			t.write(cw, r, t.unauthorized(), false)
			return
		}
	}
	func() {
		if mode == lockWrite {
			t.mu.Lock()
			defer t.mu.Unlock()
		} else {
			t.mu.RLock()
			defer t.mu.RUnlock()
		}
		if name := r.PathValue("realm"); name != "" && auth {
			rc.realm = t.realms[name]
			if rc.realm == nil {
				out = notFound("Realm not found.")
				return
			}
			if !rc.sess.perms.all && rc.sess.realm != name {
				out = t.forbidden()
				return
			}
		}
		defer func() {
			// A bug in a handler must not take the server down or leave the lock held:
			// answer like Keycloak's unhandled-exception path and log it.
			if p := recover(); p != nil {
				t.cfg.logger.Error("kctwin: handler panic", "route", route, "panic", p)
				out = serverError()
			}
		}()
		if name := badIntParam(r); name != "" {
			// JAX-RS binds query parameters before the resource method runs its
			// permission check: a malformed integer is "no method found", a 404.
			out = notFound("HTTP 404 Not Found")
			return
		}
		out = h(rc)
	}()
	defer t.releaseBody(out)
	if plan.slow > 0 {
		t.writeSlow(cw, r, out, plan.slow)
		return
	}
	t.write(cw, r, out, false)
}

// badIntParam names the first integer query parameter (first, max) that Java's
// Integer.valueOf would refuse; empty values count as absent.
func badIntParam(r *http.Request) string {
	q := r.URL.RawQuery
	if q == "" || (!strings.Contains(q, "first=") && !strings.Contains(q, "max=")) {
		return ""
	}
	vals := r.URL.Query()
	for _, name := range [...]string{"first", "max"} {
		if v := vals.Get(name); v != "" {
			if _, err := strconv.ParseInt(v, 10, 32); err != nil {
				return name
			}
		}
	}
	return ""
}

func (t *Twin) write(w http.ResponseWriter, r *http.Request, out resp, textual bool) {
	h := w.Header()
	for k, v := range out.header {
		h[k] = v
	}
	if out.location != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		h.Set("Location", scheme+"://"+r.Host+out.location)
	}
	if out.body != nil {
		if textual {
			h.Set("Content-Type", "text/html")
		} else {
			h.Set("Content-Type", "application/json")
		}
		h.Set("Content-Length", strconv.Itoa(len(out.body)))
	}
	w.WriteHeader(out.status)
	if out.body != nil && r.Method != http.MethodHead {
		_, _ = w.Write(out.body)
	}
}

// writeSlow trickles the body out in small chunks spread over d.
func (t *Twin) writeSlow(w http.ResponseWriter, r *http.Request, out resp, d time.Duration) {
	body := out.body
	out.body = nil
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(out.status)
	const chunks = 10
	step := (len(body) + chunks - 1) / chunks
	if step == 0 {
		step = 1
	}
	pause := d / chunks
	fl, _ := w.(http.Flusher)
	for i := 0; i < len(body); i += step {
		end := min(i+step, len(body))
		if _, err := w.Write(body[i:end]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if end < len(body) && !t.sleep(r.Context(), pause) {
			return
		}
	}
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
