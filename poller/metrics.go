package poller

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/keycdc/keycdc/poller/events"
	"github.com/keycdc/keycdc/schemas"
)

type metrics struct {
	realm           attribute.KeyValue
	records         metric.Int64Counter
	txRecords       metric.Int64Histogram
	txDuration      metric.Float64Histogram
	scans           metric.Int64Counter
	sessionFailures metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider, p *Poller) metrics {
	m := mp.Meter("github.com/keycdc/keycdc/poller")
	var out metrics
	out.records, _ = m.Int64Counter("keycdc.records", metric.WithDescription("Records committed, by realm, table and kind (upsert or tombstone)"))
	out.txRecords, _ = m.Int64Histogram("keycdc.transaction.records", metric.WithDescription("Records per committed transaction"))
	out.txDuration, _ = m.Float64Histogram("keycdc.transaction.duration", metric.WithUnit("s"), metric.WithDescription("Duration of a transaction commit"))
	out.scans, _ = m.Int64Counter("keycdc.full_scans", metric.WithDescription("Completed full scans"))
	out.sessionFailures, _ = m.Int64Counter("keycdc.session.failures", metric.WithDescription("Realm sessions that ended in an error and were restarted"))
	out.realm = attribute.String("realm", p.cfg.Realm)
	_, _ = m.Float64ObservableGauge("keycdc.events.lag", metric.WithUnit("s"),
		metric.WithDescription("Seconds since the start of the last poll that read every event of the realm up to then, by kind: "+
			"how stale the event topics are; it grows when keycdc falls behind or cannot reach Keycloak, not when the realm is quiet"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			st := p.Status()
			now := p.now()
			for kind, t := range map[string]time.Time{"user": st.EventsCaughtUp, "admin": st.AdminEventsCaughtUp} {
				if !t.IsZero() {
					o.Observe(now.Sub(t).Seconds(), metric.WithAttributes(out.realm, attribute.String("kind", kind)))
				}
			}
			return nil
		}))
	_, _ = m.Float64ObservableGauge("keycdc.last_cycle", metric.WithUnit("s"),
		metric.WithDescription("Unix time of the realm's last complete cycle (full scan when due, then events)"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			if st := p.Status(); !st.LastCycle.IsZero() {
				o.Observe(float64(st.LastCycle.UnixMilli())/1000, metric.WithAttributes(out.realm))
			}
			return nil
		}))
	return out
}

func (m metrics) recordCommit(ctx context.Context, changes []schemas.Change, d time.Duration) {
	counts := map[[2]string]int64{}
	for _, c := range changes {
		kind := "upsert"
		if c.Value == nil {
			kind = "tombstone"
		}
		counts[[2]string{c.Table.Name(), kind}]++
	}
	for k, n := range counts {
		m.records.Add(ctx, n, metric.WithAttributes(m.realm, attribute.String("table", k[0]), attribute.String("kind", k[1])))
	}
	m.txRecords.Record(ctx, int64(len(changes)), metric.WithAttributes(m.realm))
	m.txDuration.Record(ctx, d.Seconds(), metric.WithAttributes(m.realm))
}

// Status is a snapshot of a realm's progress for operators.
type Status struct {
	Realm                string
	Records              map[string]int64 // committed by this process, by table
	LastCommit           time.Time
	LastCycle            time.Time
	LastFullScan         time.Time
	EventsWatermark      time.Time
	AdminEventsWatermark time.Time
	// LastProgress is when the realm last moved forward: a commit, a completed cycle, or a
	// running scan applying what it read.
	LastProgress time.Time
	// EventsCaughtUp and AdminEventsCaughtUp are the start times of the last polls that
	// read every event up to then.
	EventsCaughtUp      time.Time
	AdminEventsCaughtUp time.Time
	LastError           string
	FailedSessions      int // sessions that ended in an error since the process started
}

// Status returns the realm's progress; it is safe to call from any goroutine.
func (p *Poller) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	if ms := p.progress.Load(); ms > 0 {
		s.LastProgress = time.UnixMilli(ms)
	}
	s.Records = make(map[string]int64, len(p.status.Records))
	for k, v := range p.status.Records {
		s.Records[k] = v
	}
	return s
}

func (p *Poller) update(f func(*Status)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status.Records == nil {
		p.status.Records = map[string]int64{}
	}
	f(&p.status)
}

func (p *Poller) setError(err error) {
	p.update(func(s *Status) { s.LastError, s.FailedSessions = err.Error(), s.FailedSessions+1 })
}
func (p *Poller) setCaughtUp(k events.Kind, t time.Time) {
	p.update(func(s *Status) {
		if k == events.Admin {
			s.AdminEventsCaughtUp = t
		} else {
			s.EventsCaughtUp = t
		}
	})
}
func (p *Poller) setCycle() {
	p.progress.Store(p.now().UnixMilli())
	p.update(func(s *Status) { s.LastCycle = p.now(); s.LastError = "" })
}
func (p *Poller) setScan() {
	p.update(func(s *Status) { s.LastFullScan = p.now() })
}
func (p *Poller) setCommitted(changes []schemas.Change) {
	p.progress.Store(p.now().UnixMilli())
	p.update(func(s *Status) {
		for _, c := range changes {
			s.Records[c.Table.Name()]++
		}
		s.LastCommit = p.now()
	})
}
func (p *Poller) setEvents(k events.Kind, wm int64) {
	p.update(func(s *Status) {
		if wm > 0 {
			if k == events.Admin {
				s.AdminEventsWatermark = time.UnixMilli(wm)
			} else {
				s.EventsWatermark = time.UnixMilli(wm)
			}
		}
	})
}
