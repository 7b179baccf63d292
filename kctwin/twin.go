package kctwin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Version names an emulated Keycloak release line.
const (
	Version26 = "26.2"
	Version25 = "25.0"
)

// Twin is a simulated Keycloak server: an http.Handler serving the OIDC token endpoint and
// the Admin REST API for the realms it holds, plus control endpoints under /_twin/.
//
// All exported methods are safe for concurrent use, including from inside a request hook.
// Close stops the background work (event cleanup, activity generator, hung responses); a
// Twin that was never given background work needs no Close, but calling it is harmless.
type Twin struct {
	cfg config

	mu     sync.RWMutex // guards realms and everything inside them
	realms map[string]*realm
	ids    *idSource // ids for entities created at run time

	tokens tokenStore
	faults faultState
	stats  statsTable
	bufs   bufPool // response and user-representation buffers

	hookMu sync.RWMutex
	hook   func(route string, r *http.Request)

	mux     *http.ServeMux
	control *http.ServeMux

	closeOnce sync.Once
	closed    chan struct{}
	bg        sync.WaitGroup // background goroutines owned by the Twin

	actMu    sync.Mutex // guards activity and orders StartActivity against Close
	activity *activityRun
}

type config struct {
	version       string
	clock         func() time.Time
	tokenLifespan time.Duration
	latency       time.Duration
	faultRate     float64
	faultStatuses []int
	faultSeed     uint64
	maxConcurrent int
	adminUser     string
	adminPassword string
	logger        *slog.Logger
	cleanup       time.Duration
	pollerClient  string
}

// Option configures a Twin in New.
type Option func(*config) error

// KeycloakVersion selects the emulated release: "26.2" (default) or "25.0". See the
// package documentation for what differs.
func KeycloakVersion(v string) Option {
	return func(c *config) error {
		if v != Version26 && v != Version25 {
			return fmt.Errorf("keycloak version %q: want %q or %q", v, Version26, Version25)
		}
		c.version = v
		return nil
	}
}

// Clock sets the source of "now" for token expiry, event times and expiration. Default
// time.Now.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("clock: nil function")
		}
		c.clock = now
		return nil
	}
}

// TokenLifespan sets the access-token lifespan for every realm (expires_in). Default 300s.
func TokenLifespan(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return fmt.Errorf("token lifespan %v: must be at least 1s", d)
		}
		c.tokenLifespan = d
		return nil
	}
}

// Latency adds a fixed delay before every Keycloak request is served. Default 0.
func Latency(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("latency %v: must not be negative", d)
		}
		c.latency = d
		return nil
	}
}

// FaultRate makes that fraction (0..1) of Keycloak requests fail with a status drawn from
// statuses (default 429, 500, 502, 503, 504). Default 0.
func FaultRate(rate float64, statuses ...int) Option {
	return func(c *config) error {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("fault rate %v: must be within 0..1", rate)
		}
		for _, s := range statuses {
			if _, ok := faultBodies[s]; !ok {
				return fmt.Errorf("fault status %d: want one of 429, 500, 502, 503, 504", s)
			}
		}
		c.faultRate = rate
		if len(statuses) > 0 {
			c.faultStatuses = statuses
		}
		return nil
	}
}

// FaultSeed seeds the draw of faults so a run is repeatable for a given request order.
// Default 1.
func FaultSeed(seed uint64) Option {
	return func(c *config) error { c.faultSeed = seed; return nil }
}

// MaxConcurrent caps the Keycloak requests served at once; requests above the cap get 503
// with Retry-After: 1 and are counted under the route in stats (status 503) and in
// Stats().Rejected. Default 0 (no cap).
func MaxConcurrent(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("max concurrent %d: must not be negative", n)
		}
		c.maxConcurrent = n
		return nil
	}
}

// Admin sets the master realm's admin user, who may use the password grant with the
// public admin-cli client and has every admin right on every realm. Default admin/admin.
func Admin(user, password string) Option {
	return func(c *config) error {
		if user == "" || password == "" {
			return errors.New("admin: user and password must not be empty")
		}
		c.adminUser, c.adminPassword = user, password
		return nil
	}
}

// Logger sets the logger for operator-facing messages. Default: discard.
func Logger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("logger: nil")
		}
		c.logger = l
		return nil
	}
}

// EventCleanupInterval runs Keycloak's periodic expiration of stored events every d in a
// background goroutine (stopped by Close). Default 0: expiration happens only when
// ExpireEvents is called, which keeps tests deterministic.
func EventCleanupInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("event cleanup interval %v: must not be negative", d)
		}
		c.cleanup = d
		return nil
	}
}

// PollerClientID names the confidential client every realm gets for keycdc. Default "keycdc".
func PollerClientID(id string) Option {
	return func(c *config) error {
		if id == "" {
			return errors.New("poller client id: empty")
		}
		c.pollerClient = id
		return nil
	}
}

// New returns a Twin holding only the master realm.
func New(opts ...Option) (*Twin, error) {
	cfg := config{
		version:       Version26,
		clock:         time.Now,
		tokenLifespan: 300 * time.Second,
		faultStatuses: []int{429, 500, 502, 503, 504},
		faultSeed:     1,
		adminUser:     "admin",
		adminPassword: "admin",
		logger:        slog.New(slog.DiscardHandler),
		pollerClient:  "keycdc",
	}
	var errs []error
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kctwin: %w", err)
	}
	t := &Twin{
		cfg:    cfg,
		realms: map[string]*realm{},
		ids:    &idSource{},
		closed: make(chan struct{}),
	}
	t.tokens.init()
	t.faults.init(cfg)
	t.routes()
	t.mu.Lock()
	// The master realm is built from a fixed seed so that generated realms, whose admin
	// events name master's admin user and admin-cli client, are identical across Twins.
	mids := seededIDs(0x6d6173746572, 1)
	m := t.newRealmLocked("master", mids)
	t.ensureAdminLocked(m, mids)
	t.mu.Unlock()
	if cfg.cleanup > 0 {
		t.bg.Add(1)
		go t.cleanupLoop(cfg.cleanup)
	}
	return t, nil
}

// Close stops every goroutine the Twin started (event cleanup, activity generator) and
// releases hung responses, then waits for them. It does not close HTTP servers the Twin is
// mounted on.
func (t *Twin) Close() error {
	// Under actMu, so that a concurrent StartActivity either sees the Twin closed or has
	// registered its run for StopActivity to stop (see StartActivity).
	t.actMu.Lock()
	t.closeOnce.Do(func() { close(t.closed) })
	t.actMu.Unlock()
	t.StopActivity()
	t.bg.Wait()
	return nil
}

func (t *Twin) now() time.Time { return t.cfg.clock() }

func (t *Twin) nowMillis() int64 { return t.cfg.clock().UnixMilli() }

func (t *Twin) v26() bool { return t.cfg.version == Version26 }

// Version reports the emulated Keycloak version.
func (t *Twin) Version() string { return t.cfg.version }

// Realms lists the realm names the Twin holds, sorted.
func (t *Twin) Realms() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.realms))
	for n := range t.realms {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SetHook installs fn to be called before each Keycloak request (token endpoint and Admin
// API) is served, with the route template (e.g. "GET /admin/realms/{realm}/users") and the
// request. fn runs without any Twin lock held, so it may call mutation methods; nil removes
// the hook.
func (t *Twin) SetHook(fn func(route string, r *http.Request)) {
	t.hookMu.Lock()
	t.hook = fn
	t.hookMu.Unlock()
}

func (t *Twin) callHook(route string, r *http.Request) {
	t.hookMu.RLock()
	fn := t.hook
	t.hookMu.RUnlock()
	if fn != nil {
		fn(route, r)
	}
}

// ServeHTTP serves Keycloak's HTTP API and the /_twin/ control endpoints.
func (t *Twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_twin/") {
		t.control.ServeHTTP(w, r)
		return
	}
	// JAX-RS matches paths with or without a trailing slash and never redirects; clean
	// the path here so that ServeMux does not answer with a redirect either.
	if p := r.URL.Path; p != "/" {
		clean := path.Clean("/" + p)
		if clean != p {
			r2 := *r
			u := *r.URL
			u.Path = clean
			// An escaped path that no longer matches is ignored by EscapedPath.
			u.RawPath = strings.TrimRight(u.RawPath, "/")
			r2.URL = &u
			r = &r2
		}
	}
	t.mux.ServeHTTP(w, r)
}

func (t *Twin) cleanupLoop(every time.Duration) {
	defer t.bg.Done()
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.closed:
			return
		case <-tk.C:
			t.ExpireEvents()
		}
	}
}

// done is closed by Close; background work and hung responses watch it.
func (t *Twin) done() <-chan struct{} { return t.closed }

var _ http.Handler = (*Twin)(nil)

// ctxDone reports whether ctx or the twin is finished.
func (t *Twin) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	case <-t.closed:
		return false
	}
}
