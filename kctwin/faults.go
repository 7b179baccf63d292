package kctwin

import (
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults describes injected misbehaviour. The zero value injects nothing. Faults apply to
// Keycloak routes only (token endpoint and Admin API), never to /_twin/.
type Faults struct {
	// Latency is added before every request is served.
	Latency time.Duration `json:"-"`
	// Rate is the fraction (0..1) of requests answered with a status drawn uniformly from
	// Statuses (default 429, 500, 502, 503, 504) instead of being served. 429 and 503 carry
	// Retry-After: RetryAfter seconds (default 1).
	Rate       float64 `json:"rate"`
	Statuses   []int   `json:"statuses,omitempty"`
	RetryAfter int     `json:"retryAfter,omitempty"`
	// SlowRate is the fraction of served requests whose body trickles out over SlowFor.
	SlowRate float64       `json:"slowRate"`
	SlowFor  time.Duration `json:"-"`
	// HangRate is the fraction of requests that get no response: the twin waits until the
	// client gives up or HangFor passes (default 1 minute), then drops the connection.
	HangRate float64       `json:"hangRate"`
	HangFor  time.Duration `json:"-"`
	// Routes limits Rate, SlowRate and HangRate to routes whose template contains one of
	// these strings (e.g. "/users", "POST /realms/"); empty means every route.
	Routes []string `json:"routes,omitempty"`
	// Seed, when non-zero, restarts the fault draw from this seed so a run is repeatable.
	Seed uint64 `json:"seed,omitempty"`
	// MaxConcurrent caps requests served at once (0 = no cap); above it: 503, Retry-After: 1.
	MaxConcurrent int `json:"maxConcurrent"`
}

// faultBodies are the bodies Keycloak (429 from a rate limiter in front of it, 500) or a
// reverse proxy (502, 503, 504) send.
var faultBodies = map[int][]byte{
	429: []byte(`{"error":"too_many_requests","error_description":"Rate limit exceeded"}`),
	500: []byte(`{"error":"unknown_error","error_description":"For more on this error consult the server log."}`),
	502: []byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"),
	503: []byte(`{"error":"HTTP 503 Service Unavailable"}`),
	504: []byte("<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>\n"),
}

type faultState struct {
	mu   sync.Mutex
	f    Faults
	rng  *mrand.Rand
	next []int // statuses forced on the next requests, in order

	max      atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
}

type faultPlan struct {
	latency    time.Duration
	status     int
	retryAfter int
	slow       time.Duration
	hang       time.Duration
}

func (fs *faultState) init(c config) {
	fs.f = Faults{Latency: c.latency, Rate: c.faultRate, Statuses: c.faultStatuses, MaxConcurrent: c.maxConcurrent}
	fs.rng = mrand.New(mrand.NewPCG(c.faultSeed, 0x6b6374776e))
	fs.max.Store(int64(c.maxConcurrent))
}

func (fs *faultState) acquire() bool {
	n := fs.inflight.Add(1)
	if m := fs.max.Load(); m > 0 && n > m {
		fs.inflight.Add(-1)
		return false
	}
	for {
		p := fs.peak.Load()
		if n <= p || fs.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return true
}

func (fs *faultState) release() { fs.inflight.Add(-1) }

func (fs *faultState) plan(route string) faultPlan {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := &fs.f
	p := faultPlan{latency: f.Latency, retryAfter: max(f.RetryAfter, 1)}
	if len(fs.next) > 0 {
		p.status = fs.next[0]
		fs.next = fs.next[1:]
		return p
	}
	if f.Rate == 0 && f.SlowRate == 0 && f.HangRate == 0 {
		return p
	}
	if len(f.Routes) > 0 {
		match := false
		for _, s := range f.Routes {
			if strings.Contains(route, s) {
				match = true
				break
			}
		}
		if !match {
			return p
		}
	}
	if f.Rate > 0 && fs.rng.Float64() < f.Rate {
		st := f.Statuses
		if len(st) == 0 {
			st = []int{429, 500, 502, 503, 504}
		}
		p.status = st[fs.rng.IntN(len(st))]
		return p
	}
	if f.HangRate > 0 && fs.rng.Float64() < f.HangRate {
		p.hang = f.HangFor
		if p.hang <= 0 {
			p.hang = time.Minute
		}
		return p
	}
	if f.SlowRate > 0 && fs.rng.Float64() < f.SlowRate {
		p.slow = f.SlowFor
		if p.slow <= 0 {
			p.slow = time.Second
		}
	}
	return p
}

func validateFaults(f Faults) error {
	var errs []string
	if f.Latency < 0 {
		errs = append(errs, "latency must not be negative")
	}
	for name, r := range map[string]float64{"rate": f.Rate, "slowRate": f.SlowRate, "hangRate": f.HangRate} {
		if r < 0 || r > 1 {
			errs = append(errs, fmt.Sprintf("%s %v must be within 0..1", name, r))
		}
	}
	for _, s := range f.Statuses {
		if _, ok := faultBodies[s]; !ok {
			errs = append(errs, fmt.Sprintf("status %d: want one of 429, 500, 502, 503, 504", s))
		}
	}
	if f.MaxConcurrent < 0 || f.RetryAfter < 0 || f.SlowFor < 0 || f.HangFor < 0 {
		errs = append(errs, "maxConcurrent, retryAfter, slowFor and hangFor must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("faults: %s", strings.Join(errs, "; "))
	}
	return nil
}

// SetFaults replaces the injected faults. A non-zero Seed restarts the draw.
func (t *Twin) SetFaults(f Faults) error {
	if err := validateFaults(f); err != nil {
		return err
	}
	fs := &t.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Seed != 0 {
		fs.rng = mrand.New(mrand.NewPCG(f.Seed, 0x6b6374776e))
	}
	f.Statuses = append([]int(nil), f.Statuses...)
	f.Routes = append([]string(nil), f.Routes...)
	fs.f = f
	fs.max.Store(int64(f.MaxConcurrent))
	return nil
}

// Faults returns the faults in force.
func (t *Twin) Faults() Faults {
	fs := &t.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	f.Statuses = append([]int(nil), f.Statuses...)
	f.Routes = append([]string(nil), f.Routes...)
	return f
}

// FailNext answers the next len(statuses) Keycloak requests with these statuses, in order,
// before any random fault is drawn. Each status must be 429, 500, 502, 503 or 504.
func (t *Twin) FailNext(statuses ...int) error {
	for _, s := range statuses {
		if _, ok := faultBodies[s]; !ok {
			return fmt.Errorf("fail next: status %d: want one of 429, 500, 502, 503, 504", s)
		}
	}
	t.faults.mu.Lock()
	t.faults.next = append(t.faults.next, statuses...)
	t.faults.mu.Unlock()
	return nil
}
