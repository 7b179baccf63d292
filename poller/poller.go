package poller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keycdc/keycdc/checkpoint"
	"github.com/keycdc/keycdc/poller/events"
	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/poller/snapshot"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// Config is one realm's loop configuration. Durations and sizes have the defaults their
// comments give when left zero.
type Config struct {
	Realm       string
	TopicPrefix string // default "keycloak"
	// PollInterval is the pause between event polls. Default 5s.
	PollInterval time.Duration
	// FullScanInterval is how often every entity is re-read and diffed. Default 1h.
	FullScanInterval time.Duration
	// Start is where events start on a realm keycdc has not read before. Default: 30 days
	// before the first run.
	Start time.Time
	// Tables restricts what is written. Default: every table.
	Tables []*schemas.Table
	// Once runs one complete cycle (full scan and all events up to now) and returns.
	Once bool
	// EventsOverlap is how far behind the watermark event polls re-read. Default 30s.
	EventsOverlap time.Duration
	// PageSize is the page size of Admin API listings. Default 500.
	PageSize int
	// Concurrency is the number of concurrent fetching goroutines of a scan. Default 8.
	Concurrency int
	// MaxBatch bounds the records of one transaction. Default 5000.
	MaxBatch int
	// MaxBatchAge bounds how long scanned changes wait before they are committed. Default 2s.
	MaxBatchAge time.Duration
	// KeepOwnClientLogins keeps the CLIENT_LOGIN events of keycdc's own token grants.
	KeepOwnClientLogins bool
	// AdminEventRepresentations writes admin events' representations (redacted).
	AdminEventRepresentations bool
}

func (c *Config) defaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = "keycloak"
	}
	if c.PollInterval == 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.FullScanInterval == 0 {
		c.FullScanInterval = time.Hour
	}
	if c.EventsOverlap == 0 {
		c.EventsOverlap = 30 * time.Second
	}
	if c.PageSize == 0 {
		c.PageSize = 500
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 5000
	}
	if c.MaxBatchAge == 0 {
		c.MaxBatchAge = 2 * time.Second
	}
	if len(c.Tables) == 0 {
		c.Tables = schemas.Tables()
	}
}

// Validate reports every problem of c (after defaults).
func (c Config) Validate() error {
	c.defaults()
	var errs []error
	if c.Realm == "" {
		errs = append(errs, errors.New("realm: required"))
	}
	if err := topics.ValidatePrefix(c.TopicPrefix); err != nil {
		errs = append(errs, fmt.Errorf("kafka.topic_prefix: %w", err))
	}
	for name, d := range map[string]time.Duration{"sync.poll_interval": c.PollInterval,
		"sync.full_scan_interval": c.FullScanInterval, "sync.max_batch_age": c.MaxBatchAge} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", name, d))
		}
	}
	if c.EventsOverlap < 0 {
		errs = append(errs, fmt.Errorf("sync.events_overlap: must not be negative, got %v", c.EventsOverlap))
	}
	if c.PageSize < 2 {
		errs = append(errs, fmt.Errorf("keycloak.page_size: must be at least 2, got %d", c.PageSize))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("keycloak.concurrency: must be at least 1, got %d", c.Concurrency))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("kafka.max_transaction_records: must be at least 1, got %d", c.MaxBatch))
	}
	return errors.Join(errs...)
}

// Kafka is what a Poller needs of Kafka, built by the caller.
type Kafka struct {
	// NewProducer returns a new transactional producer for the realm: its
	// kgo.TransactionalID identifies the realm (one per realm), which is how a second
	// instance fences the first. Every session gets a new one and closes it, because a
	// producer whose transaction failed may be unusable for good (a fatal producer id).
	NewProducer func() (*kgo.Client, error)
	// NewConsumer returns a fresh consumer client (no group, no topics) for reading the
	// checkpoint and table topics back; the Poller closes it.
	NewConsumer func() (*kgo.Client, error)
}

// framer frames encoded changes with their registered schema ids.
type framer interface {
	Frame(topic string, c schemas.Change) (key, value []byte, err error)
}

// Option configures a Poller.
type Option func(*Poller)

// Logger receives operator logs. Default: discard.
func Logger(l *slog.Logger) Option { return func(p *Poller) { p.log = l } }

// MeterProvider records the loop's metrics. Default: none.
func MeterProvider(mp metric.MeterProvider) Option { return func(p *Poller) { p.mp = mp } }

// TracerProvider records a trace per cycle. Default: none.
func TracerProvider(tp trace.TracerProvider) Option { return func(p *Poller) { p.tp = tp } }

// Instance names this Poller in the checkpoints it writes, for operators (which instance
// took a realm over) and for the ownership check. It must differ between processes.
// Default: host name, process id and a random suffix.
func Instance(name string) Option { return func(p *Poller) { p.instance = name } }

// Clock replaces time.Now (tests).
func Clock(now func() time.Time) Option { return func(p *Poller) { p.now = now } }

// Poller runs one realm. Create it with New and run it with Run.
type Poller struct {
	cfg   Config
	kc    *keycloak.Client
	kafka Kafka
	codec framer
	log   *slog.Logger
	mp    metric.MeterProvider
	tp    trace.TracerProvider
	// tracer makes the spans of a cycle: keycdc.cycle > keycdc.full_scan | keycdc.events >
	// keycdc.commit, with the Keycloak client's request spans beneath.
	tracer trace.Tracer
	now    func() time.Time

	topic      map[*schemas.Table]string
	wants      map[*schemas.Table]bool
	checkpoint string
	m          metrics

	// instance names this Poller in the checkpoints it writes; wrote is set once one of
	// them is committed (see stillOwner).
	instance string
	wrote    bool

	mu     sync.Mutex
	status Status
	// progress is when the realm last moved forward (epoch ms): a commit, a cycle, or a
	// scan applying what it read. Written from the scan's diff loop, hence atomic.
	progress atomic.Int64
}

// New validates cfg and returns a Poller. The codec must have the realm's topics
// registered.
func New(cfg Config, kc *keycloak.Client, k Kafka, codec framer, opts ...Option) (*Poller, error) {
	cfg.defaults()
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if kc == nil || k.NewProducer == nil || k.NewConsumer == nil || codec == nil {
		errs = append(errs, errors.New("poller: Keycloak client, producer and consumer factories and codec are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &Poller{cfg: cfg, kc: kc, kafka: k, codec: codec, log: slog.New(slog.DiscardHandler),
		mp: noop.NewMeterProvider(), tp: tnoop.NewTracerProvider(), now: time.Now,
		topic: map[*schemas.Table]string{}, wants: map[*schemas.Table]bool{},
		checkpoint: topics.CheckpointTopic(cfg.TopicPrefix)}
	for _, o := range opts {
		o(p)
	}
	if p.instance == "" {
		p.instance = defaultInstance()
	}
	for _, t := range cfg.Tables {
		p.wants[t] = true
		p.topic[t] = topics.Name(cfg.TopicPrefix, cfg.Realm, t)
	}
	if p.cfg.Start.IsZero() {
		p.cfg.Start = p.now().Add(-30 * 24 * time.Hour).UTC().Truncate(24 * time.Hour)
	}
	p.m = newMetrics(p.mp, p)
	p.tracer = p.tp.Tracer("github.com/keycdc/keycdc/poller")
	p.status.Realm = cfg.Realm
	return p, nil
}

// defaultInstance is host/pid/random: readable in the checkpoint, unique per process.
func defaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

// Topics returns the topic of every table the poller writes.
func (p *Poller) Topics() map[*schemas.Table]string {
	out := make(map[*schemas.Table]string, len(p.topic))
	for t, n := range p.topic {
		out[t] = n
	}
	return out
}

// ErrFenced is returned by Run when another keycdc instance took over the realm.
var ErrFenced = errors.New("another keycdc instance with the same transactional id took over this realm")

// Run polls until ctx is cancelled (or, with Once, until one cycle is committed). A failed
// session is retried after a growing, jittered pause, rebuilding state from Kafka. Errors a
// retry cannot heal (bad credentials, a missing realm-management role) end Run while the
// process has committed nothing for the realm, so that they are reported at once; later
// they are retried, since an operator may be rotating a secret. Fencing by another
// instance always ends Run. Run returns nil after a graceful stop: the open transaction is
// finished or aborted first.
func (p *Poller) Run(ctx context.Context) error {
	newBackoff := func() retry.Backoff {
		return retry.WithCappedDuration(time.Minute, retry.WithJitterPercent(20, retry.NewExponential(time.Second)))
	}
	backoff := newBackoff()
	everProgressed := false
	for {
		progressed, err := p.session(ctx)
		everProgressed = everProgressed || progressed
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil // Once
		}
		if checkpoint.IsFenced(err) {
			return fmt.Errorf("realm %q: %w", p.cfg.Realm, ErrFenced)
		}
		if errors.Is(err, ErrFenced) {
			return fmt.Errorf("realm %q: %w", p.cfg.Realm, err)
		}
		p.m.sessionFailures.Add(ctx, 1, metric.WithAttributes(p.m.realm))
		p.setError(err)
		if p.cfg.Once || (!everProgressed && permanent(err)) {
			return fmt.Errorf("realm %q: %w", p.cfg.Realm, err)
		}
		if progressed {
			backoff = newBackoff()
		}
		wait, _ := backoff.Next()
		p.log.Error("realm session failed; restarting from the last checkpoint", "realm", p.cfg.Realm, "err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// permanent reports errors that a retry cannot heal without an operator.
func permanent(err error) bool {
	var ae *keycloak.AuthError
	var fe *keycloak.ForbiddenError
	return errors.As(err, &ae) || errors.As(err, &fe)
}

// session runs from start-up state to the first error (or the end of a Once cycle).
// progressed reports whether anything was committed.
func (p *Poller) session(ctx context.Context) (progressed bool, err error) {
	if p.wrote {
		if err := p.stillOwner(ctx); err != nil {
			return false, err
		}
	}
	prod, err := p.kafka.NewProducer()
	if err != nil {
		return false, fmt.Errorf("kafka producer: %w", err)
	}
	defer prod.Close()
	w, err := checkpoint.NewWriter(prod, p.checkpoint, p.cfg.Realm)
	if err != nil {
		return false, err
	}
	if err := w.Fence(ctx); err != nil {
		return false, fmt.Errorf("initialise transactional producer: %w", err)
	}
	pos, err := p.loadPosition(ctx)
	if err != nil {
		return false, err
	}
	st := &state{w: w, pos: pos}
	if pos.Instance != p.instance {
		// Take the realm over in the checkpoint at once, before the (possibly long)
		// rebuild of state: an instance this one fenced sees it at its next session.
		tctx, span := p.tracer.Start(ctx, "keycdc.takeover", trace.WithAttributes(attribute.String("realm", p.cfg.Realm),
			attribute.String("keycdc.previous_instance", pos.Instance)))
		err := p.commit(tctx, st, nil, pos)
		span.End()
		if err != nil {
			return false, fmt.Errorf("take over realm %q: %w", p.cfg.Realm, err)
		}
		if pos.Instance != "" {
			p.log.Info("took over the realm's checkpoint from another instance", "realm", p.cfg.Realm, "previous", pos.Instance)
		}
	}
	if err := p.restore(ctx, st); err != nil {
		return st.commits > 0, err
	}
	for {
		if err := p.cycle(ctx, st); err != nil {
			return st.commits > 0, err
		}
		if p.cfg.Once {
			return true, nil
		}
		t := time.NewTimer(p.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return st.commits > 0, ctx.Err()
		case <-t.C:
		}
	}
}

// stillOwner checks, before a new session fences anyone, that the realm's last committed
// checkpoint is still this instance's: every commit records its writer, and an instance
// that takes over commits a checkpoint as soon as it has fenced the others. Without this
// check, an instance fenced by another would see only a failed transaction (brokers do not
// always say "fenced"), start a new session, and fence the other in turn — the two would
// take the realm from each other forever. Producer epochs cannot tell: brokers raise them
// at every transaction (KIP-890) and when they abort one that timed out.
func (p *Poller) stillOwner(ctx context.Context) error {
	pos, err := p.loadPosition(ctx)
	if err != nil {
		return err
	}
	if pos.Instance != p.instance {
		return fmt.Errorf("%w (its checkpoint was last written by instance %s; this is %s)", ErrFenced, pos.Instance, p.instance)
	}
	return nil
}

// loadPosition reads the realm's last committed checkpoint.
func (p *Poller) loadPosition(ctx context.Context) (Position, error) {
	cl, err := p.kafka.NewConsumer()
	if err != nil {
		return Position{}, fmt.Errorf("kafka consumer: %w", err)
	}
	defer cl.Close()
	raw, err := checkpoint.NewStore(cl, p.checkpoint).Load(ctx, p.cfg.Realm)
	if err != nil {
		return Position{}, fmt.Errorf("load checkpoint of realm %q: %w", p.cfg.Realm, err)
	}
	pos, err := decodePosition(raw)
	if err != nil {
		return Position{}, fmt.Errorf("checkpoint of realm %q in %s: %w", p.cfg.Realm, p.checkpoint, err)
	}
	return pos, nil
}

// state is one session's in-memory state; it is dropped on any error.
type state struct {
	w       *checkpoint.Writer
	pos     Position
	scanner *snapshot.Scanner
	userEv  *events.Stream
	adminEv *events.Stream
	commits int
}

// restore rebuilds the scanner's image from the table topics and sets up the event
// streams, into st (whose position is loaded).
func (p *Poller) restore(ctx context.Context, st *state) error {
	start := p.now()
	cl, err := p.kafka.NewConsumer()
	if err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	defer cl.Close()
	sc, err := snapshot.New(p.kc, p.cfg.Realm, snapshot.PageSize(p.cfg.PageSize), snapshot.Concurrency(p.cfg.Concurrency),
		snapshot.MaxBatch(p.cfg.MaxBatch), snapshot.MaxBatchAge(p.cfg.MaxBatchAge), snapshot.Logger(p.log),
		snapshot.OnProgress(func() { p.progress.Store(p.now().UnixMilli()) }),
		snapshot.Only(p.cfg.Tables...))
	if err != nil {
		return err
	}
	byTopic := map[string]*schemas.Table{}
	var names []string
	for _, t := range snapshot.Tables() {
		if p.wants[t] {
			byTopic[p.topic[t]] = t
			names = append(names, p.topic[t])
		}
	}
	n := 0
	err = topics.Replay(ctx, cl, names, func(r *kgo.Record) error {
		t := byTopic[r.Topic]
		key, val, err := stripHeaders(r.Key, r.Value)
		if err != nil {
			return fmt.Errorf("%s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		n++
		return sc.Restore(t, key, val)
	})
	if err != nil {
		return fmt.Errorf("rebuild state of realm %q from its topics: %w", p.cfg.Realm, err)
	}
	if n > 0 {
		p.log.Info("state rebuilt from topics", "realm", p.cfg.Realm, "records", n, "duration", p.now().Sub(start).Round(time.Millisecond))
	}
	st.scanner = sc
	mk := func(k events.Kind) (*events.Stream, error) {
		return events.New(p.kc, p.cfg.Realm, k, events.Overlap(p.cfg.EventsOverlap), events.PageSize(p.cfg.PageSize),
			events.MaxBatch(p.cfg.MaxBatch), events.OwnClient(p.kc.ClientID(), p.cfg.KeepOwnClientLogins),
			events.Representations(p.cfg.AdminEventRepresentations), events.Clock(p.now))
	}
	if st.userEv, err = mk(events.User); err != nil {
		return err
	}
	if st.adminEv, err = mk(events.Admin); err != nil {
		return err
	}
	return nil
}

// stripHeaders removes the Confluent wire header from a key and value (value nil stays nil).
func stripHeaders(key, value []byte) ([]byte, []byte, error) {
	if len(key) < 5 || key[0] != 0 {
		return nil, nil, errors.New("key is not in the Confluent wire format")
	}
	if value == nil {
		return key[5:], nil, nil
	}
	if len(value) < 5 || value[0] != 0 {
		return nil, nil, errors.New("value is not in the Confluent wire format")
	}
	return key[5:], value[5:], nil
}

// cycle runs a full scan when one is due, then the events.
func (p *Poller) cycle(ctx context.Context, st *state) error {
	ctx, span := p.tracer.Start(ctx, "keycdc.cycle",
		trace.WithAttributes(attribute.String("realm", p.cfg.Realm)))
	defer span.End()
	now := p.now()
	due := p.cfg.Once || st.pos.Rescan || st.pos.LastFullScan == 0 || now.Sub(time.UnixMilli(st.pos.LastFullScan)) >= p.cfg.FullScanInterval
	if due && p.scansEntities() {
		if err := p.fullScan(ctx, st, now); err != nil {
			span.SetStatus(codes.Error, err.Error())
			return err
		}
	}
	if err := p.pollEvents(ctx, st); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	p.setCycle()
	return nil
}

func (p *Poller) fullScan(ctx context.Context, st *state, started time.Time) error {
	ctx, span := p.tracer.Start(ctx, "keycdc.full_scan")
	defer span.End()
	c := &commitFn{p: p, st: st, pos: func() Position { return st.pos }}
	stats, err := st.scanner.Scan(ctx, c)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("full scan of realm %q: %w", p.cfg.Realm, err)
	}
	var upserts, tombstones int
	for _, n := range stats.Upserts {
		upserts += n
	}
	for _, n := range stats.Tombstones {
		tombstones += n
	}
	span.SetAttributes(attribute.Int("keycdc.upserts", upserts), attribute.Int("keycdc.tombstones", tombstones),
		attribute.Int("keycdc.lookups", stats.Lookups), attribute.Int("keycdc.rereads", stats.Rereads),
		attribute.StringSlice("keycdc.uncertain", stats.Uncertain))
	p.m.scans.Add(ctx, 1, metric.WithAttributes(p.m.realm))
	// Record the scan in the checkpoint (with nothing else when the realm was quiet); an
	// uncertain scan asks for another one.
	next := st.pos
	next.LastFullScan = started.UnixMilli()
	next.Rescan = p.uncertain(stats.Uncertain)
	if err := p.commit(ctx, st, nil, next); err != nil {
		return err
	}
	p.setScan()
	return nil
}

// pollEvents reads user and admin events; each batch's hints are refreshed and committed
// before the batch itself, so a crash in between repeats the refresh, never loses it.
func (p *Poller) pollEvents(ctx context.Context, st *state) error {
	for _, s := range []*events.Stream{st.userEv, st.adminEv} {
		// Admin events are read even when the admin_event table is not written, because
		// they keep entity tables current between full scans.
		if !p.wants[s.Kind().Table()] && !p.scansEntities() {
			continue
		}
		from := st.pos.Events
		if s.Kind() == events.Admin {
			from = st.pos.AdminEvents
		}
		started, dropped, oversized := p.now(), s.Dropped(), s.Oversized()
		sctx, span := p.tracer.Start(ctx, "keycdc.events", trace.WithAttributes(attribute.String("keycdc.kind", s.Kind().String())))
		var read int
		_, err := s.Poll(sctx, from, p.cfg.Start, func(ctx context.Context, b events.Batch) error {
			read += len(b.Users) + len(b.Admins)
			var h snapshot.Hints
			// Events from before the last full scan need no refresh: the scan read what they
			// changed. The overlap allows for Keycloak's clock running behind keycdc's.
			since := st.pos.LastFullScan - p.cfg.EventsOverlap.Milliseconds()
			for _, e := range b.Users {
				if e.Error == nil && e.UserID != nil && e.Time >= since {
					h.UserEvent(e.Type, *e.UserID)
				}
			}
			for _, e := range b.Admins {
				if e.Error == nil && e.ResourcePath != nil && e.Time >= since {
					h.AdminEvent(e.OperationType, e.ResourceType, *e.ResourcePath)
				}
			}
			if !h.Empty() && p.scansEntities() {
				c := &commitFn{p: p, st: st, pos: func() Position { return st.pos }}
				stats, err := st.scanner.Refresh(ctx, &h, c)
				if err != nil {
					return fmt.Errorf("refresh entities named by %s: %w", s.Kind(), err)
				}
				if p.uncertain(stats.Uncertain) {
					st.pos.Rescan = true // committed with this batch's position
				}
			}
			next := st.pos
			if s.Kind() == events.Admin {
				next.AdminEvents = b.Position
			} else {
				next.Events = b.Position
			}
			changes := b.Changes
			if !p.wants[s.Kind().Table()] {
				changes = nil
			}
			if err := p.commit(ctx, st, changes, next); err != nil {
				return err
			}
			p.setEvents(s.Kind(), b.Position.Watermark)
			return nil
		})
		span.SetAttributes(attribute.Int("keycdc.events_read", read))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if err != nil {
			return err
		}
		if n := s.Oversized() - oversized; n > 0 {
			p.log.Warn("admin-event representations larger than 1 MiB left out", "realm", p.cfg.Realm, "count", n)
		}
		if n := s.Dropped() - dropped; n > 0 {
			p.log.Warn("more events in the overlap window than a checkpoint holds: the window shrank for this burst",
				"realm", p.cfg.Realm, "kind", s.Kind().String(), "ids_left_out", n)
		}
		p.setCaughtUp(s.Kind(), started)
	}
	return nil
}

// uncertain reports (and logs) listings that kept shifting while read: the next cycle must
// be a full scan, so that rows they may have hidden do not wait for the full-scan interval.
func (p *Poller) uncertain(listings []string) bool {
	if len(listings) == 0 {
		return false
	}
	p.log.Warn("listings kept changing while read; scanning the realm again next cycle", "realm", p.cfg.Realm,
		"listings", strings.Join(listings, "; "))
	return true
}

// scansEntities reports whether an entity table is written. Without one, keycdc reads no
// users, groups, roles or clients (a SIEM feed of events needs only view-events), and
// events are not used as change hints.
func (p *Poller) scansEntities() bool {
	for _, t := range snapshot.Tables() {
		if p.wants[t] {
			return true
		}
	}
	return false
}

// commitFn adapts the snapshot's committer to the poller's commit with the current position.
type commitFn struct {
	p   *Poller
	st  *state
	pos func() Position
}

func (c *commitFn) Commit(ctx context.Context, changes []schemas.Change) error {
	return c.p.commit(ctx, c.st, changes, c.pos())
}

// commit writes changes and pos in one transaction and, once it is committed, makes pos
// the session's position.
func (p *Poller) commit(ctx context.Context, st *state, changes []schemas.Change, pos Position) error {
	recs := make([]*kgo.Record, 0, len(changes))
	for _, c := range changes {
		topic, ok := p.topic[c.Table]
		if !ok {
			continue
		}
		k, v, err := p.codec.Frame(topic, c)
		if err != nil {
			return fmt.Errorf("frame %s record: %w", c.Table.Name(), err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: v})
	}
	pos.Instance = p.instance
	raw, err := pos.encode()
	if err != nil {
		return err
	}
	ctx, span := p.tracer.Start(ctx, "keycdc.commit", trace.WithAttributes(attribute.Int("keycdc.records", len(recs))))
	defer span.End()
	start := p.now()
	// A graceful stop lets the open transaction finish: commit under a context that is not
	// cancelled by the stop, bounded by the transaction's own timeout.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := st.w.Commit(cctx, recs, raw); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("commit %d records of realm %q: %w", len(recs), p.cfg.Realm, err)
	}
	st.pos = pos
	st.commits++
	p.wrote = true
	p.m.recordCommit(ctx, changes, p.now().Sub(start))
	p.setCommitted(changes)
	return nil
}
