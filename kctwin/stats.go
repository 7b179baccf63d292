package kctwin

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// RouteStats counts the responses of one route template.
type RouteStats struct {
	Count    int64            `json:"count"`
	Bytes    int64            `json:"bytes"`
	Statuses map[string]int64 `json:"statuses"`
}

// Stats is the Twin's request accounting, as served by GET /_twin/stats.
type Stats struct {
	// Routes is keyed by route template, e.g. "GET /admin/realms/{realm}/users".
	// Requests that matched no route are counted under "unmatched".
	Routes map[string]RouteStats `json:"routes"`
	// Total is the number of Keycloak requests answered, Bytes their body bytes.
	Total int64 `json:"total"`
	Bytes int64 `json:"bytes"`
	// Rejected counts requests refused with 503 because MaxConcurrent was reached.
	Rejected int64 `json:"rejected"`
	// PeakConcurrent is the highest number of Keycloak requests served at once.
	PeakConcurrent int64 `json:"peakConcurrent"`
}

type routeStats struct {
	mu       sync.Mutex
	count    int64
	bytes    int64
	statuses map[int]int64
}

func (s *routeStats) record(status int, n int64) {
	if status == 0 {
		status = 200
	}
	s.mu.Lock()
	s.count++
	s.bytes += n
	s.statuses[status]++
	s.mu.Unlock()
}

type statsTable struct {
	mu       sync.Mutex
	routes   map[string]*routeStats
	rejected atomic.Int64
}

func (st *statsTable) route(pattern string) *routeStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.routes == nil {
		st.routes = map[string]*routeStats{}
	}
	s := st.routes[pattern]
	if s == nil {
		s = &routeStats{statuses: map[int]int64{}}
		st.routes[pattern] = s
	}
	return s
}

// Stats returns a snapshot of the request accounting. Routes never requested are left out.
func (t *Twin) Stats() Stats {
	out := Stats{Routes: map[string]RouteStats{}, Rejected: t.stats.rejected.Load(), PeakConcurrent: t.faults.peak.Load()}
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()
	for name, s := range t.stats.routes {
		s.mu.Lock()
		if s.count > 0 {
			rs := RouteStats{Count: s.count, Bytes: s.bytes, Statuses: map[string]int64{}}
			for k, v := range s.statuses {
				rs.Statuses[strconv.Itoa(k)] = v
			}
			out.Routes[name] = rs
			out.Total += s.count
			out.Bytes += s.bytes
		}
		s.mu.Unlock()
	}
	return out
}

// ResetStats zeroes the request accounting.
func (t *Twin) ResetStats() {
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()
	for _, s := range t.stats.routes {
		s.mu.Lock()
		s.count, s.bytes = 0, 0
		s.statuses = map[int]int64{}
		s.mu.Unlock()
	}
	t.stats.rejected.Store(0)
	t.faults.peak.Store(t.faults.inflight.Load())
}
