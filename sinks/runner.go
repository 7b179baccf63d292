package sinks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sethvargo/go-retry"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keycdc/keycdc/schemas"
)

// Decoder decodes a record of a topic; *schemas.Codec is one. Errors for which
// schemas.IsMalformed is true mean the record can never be decoded; any other error (the
// schema registry is unreachable, say) is retried.
type Decoder interface {
	Decode(ctx context.Context, topic string, key, value []byte) (schemas.Decoded, error)
}

// Config configures a Runner. Zero durations and sizes take the defaults their comments
// give.
type Config struct {
	// Group is the Kafka consumer group; sink processes with the same group share the
	// partitions. Required.
	Group string
	// Sources maps every topic to read to the realm and table it carries. Required.
	Sources map[string]Source
	// BatchSize bounds the records of one batch. Default 5000.
	BatchSize int
	// BatchAge bounds how long a record waits for its batch to fill before the batch is
	// applied anyway. Default 1s.
	BatchAge time.Duration
	// DeadLetterLimit stops the Runner when the dead letters of the group would exceed
	// it, counting those the sink already holds (DeadLetterCounter). 0 means no limit.
	DeadLetterLimit int
	// StopTimeout bounds how long a graceful stop may spend finishing the batch in
	// progress; after it, the batch's Apply is cancelled and so rolled back. Default 10s.
	StopTimeout time.Duration
}

func (c *Config) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 5000
	}
	if c.BatchAge == 0 {
		c.BatchAge = time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
}

// Validate reports every problem of c (after defaults).
func (c Config) Validate() error {
	c.defaults()
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("group: required"))
	}
	if len(c.Sources) == 0 {
		errs = append(errs, errors.New("sources: at least one topic is required"))
	}
	for _, topic := range slices.Sorted(maps.Keys(c.Sources)) {
		if s := c.Sources[topic]; s.Table == nil || s.Realm == "" || topic == "" {
			errs = append(errs, fmt.Errorf("sources: topic %q needs a name, a realm and a table", topic))
		}
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size: must be at least 1, got %d", c.BatchSize))
	}
	if c.BatchAge < 0 {
		errs = append(errs, fmt.Errorf("batch age: must be positive, got %v", c.BatchAge))
	}
	if c.DeadLetterLimit < 0 {
		errs = append(errs, fmt.Errorf("dead-letter limit: must not be negative, got %d", c.DeadLetterLimit))
	}
	if c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("stop timeout: must be positive, got %v", c.StopTimeout))
	}
	return errors.Join(errs...)
}

// Option configures a Runner.
type Option func(*Runner)

// Logger receives operator logs: a line at start, progress every ProgressInterval while
// the group lags, retries and failures. Default: discard.
func Logger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// MeterProvider records the Runner's metrics. Default: none.
func MeterProvider(mp metric.MeterProvider) Option { return func(r *Runner) { r.mp = mp } }

// TracerProvider records a span per batch applied (keycdc.sink.batch, with its records,
// dead letters and tries); the Sink's own spans go beneath it. Default: none.
func TracerProvider(tp trace.TracerProvider) Option { return func(r *Runner) { r.tp = tp } }

// Retries sets how often a failed Apply, or a decode failing for a reason other than a
// malformed record, is tried in all, and the first and longest pause between tries (with
// 20% jitter). Default 6 tries, 500ms to 15s: about half a minute before the Runner gives
// up and returns the error.
func Retries(tries int, first, longest time.Duration) Option {
	return func(r *Runner) { r.tries, r.firstPause, r.longestPause = tries, first, longest }
}

// ProgressInterval is how often the Runner logs its progress while the group lags behind
// the topics. Default 10s.
func ProgressInterval(d time.Duration) Option { return func(r *Runner) { r.progressEvery = d } }

// Runner reads the configured topics as a member of a consumer group, with read_committed
// isolation, decodes every record and hands batches of them to a Sink. Create it with
// NewRunner and start it with Run; a Runner runs once.
type Runner struct {
	cfg    Config
	kafka  []kgo.Opt
	dec    Decoder
	sink   Sink
	store  OffsetStore // sink, if it stores offsets
	topics []string

	log           *slog.Logger
	mp            metric.MeterProvider
	tp            trace.TracerProvider
	tracer        trace.Tracer
	tries         int
	firstPause    time.Duration
	longestPause  time.Duration
	progressEvery time.Duration
	m             metrics

	mu       sync.Mutex
	stored   map[TopicPartition]int64 // what the sink holds for each assigned partition; -1: nothing
	next     map[TopicPartition]int64 // where the next batch starts: stored, or the Next of a batch being applied
	stable   map[TopicPartition]int64 // last stable offset last seen per assigned partition
	hurry    bool                     // a rebalance waits for the batch in progress
	stopPoll context.CancelFunc       // cancels the poll in progress while a batch is open or in flight
	applyErr error                    // the last failed try of the batch being retried; nil after a success
	fetchErr error                    // the last fetch error, while polls keep failing
	fetchBad time.Time                // when fetches started failing

	// Used by one batch's apply at a time (the loop waits for each before the next).
	deadLetters int64     // dead letters of the group in the sink
	progress    progress  // what has been applied since the last progress line
	lastLog     time.Time // when the last progress line was written
}

type progress struct {
	records int64
	since   time.Time
}

// NewRunner validates cfg and returns a Runner. kafka holds the options every keycdc Kafka
// client gets (brokers, TLS, SASL, client id, and kgo.InstanceID for static membership);
// the Runner appends the group, topics, isolation level and rebalance callbacks, which
// take precedence over the same options in kafka. dec decodes records, sink applies the
// batches.
func NewRunner(cfg Config, kafka []kgo.Opt, dec Decoder, sink Sink, opts ...Option) (*Runner, error) {
	cfg.defaults()
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if dec == nil || sink == nil {
		errs = append(errs, errors.New("a decoder and a sink are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sink runner: %w", err)
	}
	r := &Runner{cfg: cfg, kafka: slices.Clone(kafka), dec: dec, sink: sink,
		topics: slices.Sorted(maps.Keys(cfg.Sources)),
		log:    slog.New(slog.DiscardHandler), mp: noop.NewMeterProvider(), tp: tnoop.NewTracerProvider(),
		tries: 6, firstPause: 500 * time.Millisecond, longestPause: 15 * time.Second, progressEvery: 10 * time.Second,
		stored: map[TopicPartition]int64{}, next: map[TopicPartition]int64{}, stable: map[TopicPartition]int64{}}
	r.store, _ = sink.(OffsetStore)
	for _, o := range opts {
		o(r)
	}
	if r.tries < 1 || r.firstPause <= 0 || r.longestPause < r.firstPause {
		return nil, fmt.Errorf("sink runner: retries: want at least 1 try and 0 < first pause <= longest pause, got %d, %v, %v",
			r.tries, r.firstPause, r.longestPause)
	}
	r.m = newMetrics(r.mp, r)
	r.tracer = r.tp.Tracer("github.com/keycdc/keycdc/sinks")
	return r, nil
}

// ErrDeadLetterLimit is returned, wrapped, by Run when a batch would take the group's dead
// letters past Config.DeadLetterLimit. That batch was not applied.
var ErrDeadLetterLimit = errors.New("dead-letter limit reached")

// Run consumes until ctx is cancelled or an error stops it. It returns nil after a
// graceful stop: the batch in progress is applied first (within Config.StopTimeout) and
// the group is left. It returns an error when a batch cannot be applied after the
// configured retries, when a record cannot be decoded for a reason other than being
// malformed, when the dead-letter limit is reached (ErrDeadLetterLimit), or when another
// consumer has written one of its partitions (ErrPositionMoved). Nothing is lost in any of
// these cases: the sink only ever holds whole batches, and the next Run starts after the
// last one.
func (r *Runner) Run(ctx context.Context) error {
	if c, ok := r.sink.(DeadLetterCounter); ok {
		n, err := c.DeadLetters(ctx, r.cfg.Group)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it started
			}
			return fmt.Errorf("count the dead letters of group %q: %w", r.cfg.Group, err)
		}
		r.deadLetters = n
		if limit := int64(r.cfg.DeadLetterLimit); limit > 0 && n > limit {
			return fmt.Errorf("%w: group %q has %d dead letters, more than the limit of %d", ErrDeadLetterLimit, r.cfg.Group, n, limit)
		}
	}

	// hard is cancelled StopTimeout after ctx: the batch in progress gets that long to finish.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(r.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			cancelHard()
		}
	}()
	defer wg.Wait()
	defer close(done)

	// Newly assigned partitions that start from a listed offset (the beginning) join the
	// fetch after the one in flight returns; kgo's default of waiting up to 5s for data
	// would hold them that long after every rebalance, so wait 500ms as Kafka's own
	// consumer does, unless the caller's options say otherwise.
	opts := append([]kgo.Opt{kgo.FetchMaxWait(500 * time.Millisecond)}, r.kafka...)
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.OnPartitionsCallbackBlocked(r.blocked),
	)...)
	if err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	r.log.Info("sink started", "group", r.cfg.Group, "topics", len(r.topics), "batch_size", r.cfg.BatchSize,
		"dead_letters", r.deadLetters)
	err = r.loop(ctx, hard, cl)
	// Leaving the group runs the revoke callback, which commits the marked offsets to Kafka.
	cl.CloseAllowingRebalance()
	return err
}

// loop fills and applies batches until ctx is done or an error happens. While one batch
// is applied (in a goroutine the loop waits for before it returns), the next is polled
// and decoded, so that the warehouse and the decoding work at the same time. Rebalances
// stay blocked until no batch is open or in flight.
func (r *Runner) loop(ctx, hard context.Context, cl *kgo.Client) (err error) {
	r.lastLog = time.Now()
	r.progress.since = r.lastLog
	var inflight chan error
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		return err
	}
	defer func() {
		if werr := wait(); err == nil {
			err = werr
		}
	}()
	for {
		p, err := r.fill(ctx, hard, cl, inflight != nil)
		if err != nil {
			return err
		}
		if err := wait(); err != nil {
			return err
		}
		if p.records > 0 {
			b := r.seal(p)
			ch := make(chan error, 1)
			inflight = ch
			go func() { ch <- r.apply(ctx, hard, cl, p, b) }()
		}
		if inflight == nil || r.hurrying() || ctx.Err() != nil {
			if err := wait(); err != nil {
				return err
			}
			r.mu.Lock()
			r.hurry = false
			r.mu.Unlock()
			cl.AllowRebalance()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// pending is a batch being filled: its changes and dead letters, the records they came
// from, and the last record of each partition.
type pending struct {
	records     int
	changes     []Change
	raw         []*kgo.Record // raw[i] is the record of changes[i]
	deadLetters []DeadLetter
	last        map[TopicPartition]*kgo.Record
	positions   []Position // set when the batch is sealed
}

// fill polls until the batch is full, BatchAge has passed since its first record, a
// rebalance waits for it, or ctx is done. Polling blocks rebalances until AllowRebalance,
// so no batch spans an assignment change.
// Records are decoded with hard, so that a graceful stop does not fail the decoding of
// records already polled. While busy (a batch is being applied), an empty batch is given
// up after BatchAge, so that the loop gets to allow rebalances.
func (r *Runner) fill(ctx, hard context.Context, cl *kgo.Client, busy bool) (*pending, error) {
	p := &pending{last: map[TopicPartition]*kgo.Record{}}
	var deadline time.Time
	if busy {
		deadline = time.Now().Add(r.cfg.BatchAge)
	}
	for p.records < r.cfg.BatchSize {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if p.records > 0 || busy {
			pctx, cancel = context.WithDeadline(ctx, deadline)
			if !r.pollCancel(cancel) {
				cancel()
				break
			}
		}
		fs := cl.PollRecords(pctx, r.cfg.BatchSize-p.records)
		r.pollCancel(nil)
		cancel()
		if err := r.fetchErrors(fs); err != nil {
			return nil, err
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.LastStableOffset >= 0 {
				r.mu.Lock()
				r.stable[TopicPartition{fp.Topic, fp.Partition}] = fp.LastStableOffset
				r.mu.Unlock()
			}
		})
		for _, rec := range fs.Records() {
			if err := r.add(hard, p, rec); err != nil {
				return nil, err
			}
		}
		if p.records > 0 && deadline.IsZero() {
			deadline = time.Now().Add(r.cfg.BatchAge)
		}
		if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) || r.hurrying() {
			break
		}
	}
	return p, nil
}

// pollCancel registers the cancel function of the poll in progress (nil when it ended),
// so that a waiting rebalance can cut the batch short. It returns false, and registers
// nothing, if a rebalance is already waiting.
func (r *Runner) pollCancel(cancel context.CancelFunc) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cancel != nil && r.hurry {
		return false
	}
	r.stopPoll = cancel
	return true
}

func (r *Runner) hurrying() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hurry
}

// fetchStall is how long fetches may keep failing before Health reports it: kgo rides out
// a leader election or a broker restart in seconds.
const fetchStall = time.Minute

// Health reports why the Runner is not loading, nil while it is: a batch that failed and is
// being retried, or fetches that have failed for over a minute. An idle Runner is healthy.
// Safe for concurrent use; for a /healthz endpoint.
func (r *Runner) Health() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applyErr != nil {
		return fmt.Errorf("applying a batch failed; retrying: %w", r.applyErr)
	}
	if r.fetchErr != nil && time.Since(r.fetchBad) > fetchStall {
		return fmt.Errorf("reading the topics has failed since %s: %w", r.fetchBad.UTC().Format(time.RFC3339), r.fetchErr)
	}
	return nil
}

// setApplyErr records the outcome of a try to apply a batch, for Health.
func (r *Runner) setApplyErr(err error) {
	r.mu.Lock()
	r.applyErr = err
	r.mu.Unlock()
}

// fetchErrors returns the errors of a poll that stop the Runner, logs the others (kgo
// retries what can be retried by itself), and ignores the poll's own cancellation.
func (r *Runner) fetchErrors(fs kgo.Fetches) error {
	var failed error
	defer func() {
		r.mu.Lock()
		if failed == nil {
			r.fetchErr = nil
		} else if r.fetchErr == nil {
			r.fetchErr, r.fetchBad = failed, time.Now()
		} else {
			r.fetchErr = failed
		}
		r.mu.Unlock()
	}()
	for _, fe := range fs.Errors() {
		switch err := fe.Err; {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			return fmt.Errorf("kafka consumer: %w", err)
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
			errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed):
			return fmt.Errorf("read topic %s partition %d: %w", fe.Topic, fe.Partition, err)
		default:
			failed = fmt.Errorf("topic %s partition %d: %w", fe.Topic, fe.Partition, err)
			r.log.Warn("fetch error; the consumer retries", "topic", fe.Topic, "partition", fe.Partition, "err", err)
		}
	}
	return nil
}

// add decodes one record into the batch, as a change or as a dead letter.
func (r *Runner) add(ctx context.Context, p *pending, rec *kgo.Record) error {
	tp := TopicPartition{rec.Topic, rec.Partition}
	src, ok := r.cfg.Sources[rec.Topic]
	if !ok { // the group's assignment can include topics another member asked for
		return fmt.Errorf("record of topic %s, which this sink does not read: members of group %q read different topics", rec.Topic, r.cfg.Group)
	}
	p.records++
	p.last[tp] = rec
	d, err := r.decode(ctx, rec)
	switch {
	case err != nil && schemas.IsMalformed(err):
		p.deadLetters = append(p.deadLetters, deadLetter(src, rec, err.Error()))
		return nil
	case err != nil:
		return err
	case d.Table != src.Table:
		p.deadLetters = append(p.deadLetters, deadLetter(src, rec,
			fmt.Sprintf("record of table %s on the topic of table %s", d.Table.Name(), src.Table.Name())))
		return nil
	}
	p.changes = append(p.changes, Change{Source: src, Key: d.Key, Value: d.Value, TopicPartition: tp, Offset: rec.Offset})
	p.raw = append(p.raw, rec)
	return nil
}

func deadLetter(src Source, rec *kgo.Record, reason string) DeadLetter {
	return DeadLetter{Source: src, TopicPartition: TopicPartition{rec.Topic, rec.Partition}, Offset: rec.Offset,
		Key: rec.Key, Value: rec.Value, Reason: reason}
}

// decode decodes a record, retrying failures that are not the record's fault.
func (r *Runner) decode(ctx context.Context, rec *kgo.Record) (schemas.Decoded, error) {
	b := r.backoff()
	for try := 1; ; try++ {
		d, err := r.dec.Decode(ctx, rec.Topic, rec.Key, rec.Value)
		if err == nil || schemas.IsMalformed(err) {
			return d, err
		}
		if try >= r.tries || ctx.Err() != nil {
			return d, fmt.Errorf("decode %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		wait, _ := b.Next()
		r.log.Warn("decoding failed; retrying", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
			"err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return d, fmt.Errorf("decode %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
	}
}

func (r *Runner) backoff() retry.Backoff {
	return retry.WithCappedDuration(r.longestPause, retry.WithJitterPercent(20, retry.NewExponential(r.firstPause)))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// seal fixes the positions of a filled batch: each partition goes from where the previous
// batch left it to after the batch's last record.
func (r *Runner) seal(p *pending) Batch {
	r.mu.Lock()
	for tp, rec := range p.last {
		prev, ok := r.next[tp]
		if !ok {
			prev = -1
		}
		p.positions = append(p.positions, Position{TopicPartition: tp, Prev: prev, Next: rec.Offset + 1})
		r.next[tp] = rec.Offset + 1
	}
	r.mu.Unlock()
	slices.SortFunc(p.positions, func(a, b Position) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return p.batch(r.cfg.Group)
}

func (p *pending) batch(group string) Batch {
	return Batch{Group: group, Changes: p.changes, DeadLetters: p.deadLetters, Positions: p.positions}
}

// apply applies a batch, moving rejected changes to the dead letters and retrying failures,
// then records the new positions and marks them for the Kafka commit.
func (r *Runner) apply(ctx, hard context.Context, cl *kgo.Client, p *pending, b Batch) (err error) {
	hard, span := r.tracer.Start(hard, "keycdc.sink.batch", trace.WithAttributes(attribute.Int("keycdc.records", p.records)))
	try := 1
	defer func() {
		span.SetAttributes(attribute.Int("keycdc.dead_letters", len(b.DeadLetters)), attribute.Int("keycdc.tries", try))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	bo := r.backoff()
	for {
		if limit := int64(r.cfg.DeadLetterLimit); limit > 0 && len(b.DeadLetters) > 0 && r.deadLetters+int64(len(b.DeadLetters)) > limit {
			d := b.DeadLetters[0]
			return fmt.Errorf("%w: group %q has %d dead letters and the next batch adds %d, more than the limit of %d; "+
				"the first new one is %s offset %d: %s", ErrDeadLetterLimit, r.cfg.Group, r.deadLetters, len(b.DeadLetters), limit,
				d.TopicPartition, d.Offset, d.Reason)
		}
		start := time.Now()
		err := r.sink.Apply(hard, b)
		if err == nil {
			r.setApplyErr(nil)
			r.applied(hard, cl, p, b, time.Since(start))
			return nil
		}
		var rej *RejectError
		if errors.As(err, &rej) {
			if err := r.reject(p, rej); err != nil {
				return err
			}
			b = p.batch(r.cfg.Group)
			continue
		}
		r.m.failures.Add(hard, 1)
		r.setApplyErr(err)
		if errors.Is(err, ErrPositionMoved) || hard.Err() != nil {
			return fmt.Errorf("apply batch of %d records: %w", p.records, err)
		}
		if try >= r.tries || ctx.Err() != nil {
			return fmt.Errorf("apply batch of %d records (tried %d times): %w", p.records, try, err)
		}
		wait, _ := bo.Next()
		r.log.Warn("applying a batch failed; retrying", "records", p.records, "try", try, "err", err,
			"retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return fmt.Errorf("apply batch of %d records: %w", p.records, err)
		}
		try++
	}
}

// reject moves rejected changes to the dead letters.
func (r *Runner) reject(p *pending, rej *RejectError) error {
	if len(rej.Rejects) == 0 {
		return fmt.Errorf("apply batch: the sink rejected changes without naming any: %w", rej)
	}
	drop := make(map[int]string, len(rej.Rejects))
	for _, x := range rej.Rejects {
		if x.Index < 0 || x.Index >= len(p.changes) {
			return fmt.Errorf("apply batch: the sink rejected change %d of %d: %w", x.Index, len(p.changes), rej)
		}
		drop[x.Index] = x.Reason
	}
	changes, raw := p.changes[:0:0], p.raw[:0:0]
	for i, c := range p.changes {
		if reason, ok := drop[i]; ok {
			p.deadLetters = append(p.deadLetters, deadLetter(c.Source, p.raw[i], reason))
			continue
		}
		changes, raw = append(changes, c), append(raw, p.raw[i])
	}
	p.changes, p.raw = changes, raw
	return nil
}

// applied records a successful batch.
func (r *Runner) applied(ctx context.Context, cl *kgo.Client, p *pending, b Batch, d time.Duration) {
	r.mu.Lock()
	for _, pos := range b.Positions {
		r.stored[pos.TopicPartition] = pos.Next
	}
	r.mu.Unlock()
	r.deadLetters += int64(len(b.DeadLetters))
	cl.MarkCommitRecords(slices.Collect(maps.Values(p.last))...)
	r.m.recordBatch(ctx, b, p.records, d)
	r.log.Debug("batch applied", "records", p.records, "changes", len(b.Changes), "dead_letters", len(b.DeadLetters),
		"partitions", len(b.Positions), "duration", d.Round(time.Microsecond))
	for _, dl := range b.DeadLetters {
		r.log.Warn("record sent to the dead-letter store", "topic", dl.Topic, "partition", dl.Partition, "offset", dl.Offset,
			"reason", dl.Reason)
	}
	r.progress.records += int64(p.records)
	if now := time.Now(); now.Sub(r.lastLog) >= r.progressEvery {
		if lag := r.lag(); lag > 0 {
			rate := float64(r.progress.records) / now.Sub(r.progress.since).Seconds()
			r.log.Info("catching up", "group", r.cfg.Group, "records", r.progress.records, "per_second", int64(rate), "lag", lag)
		}
		r.lastLog = now
		r.progress = progress{since: now}
	}
}

// lag is how many offsets the sink is behind the last stable offsets seen, summed over
// the assigned partitions (transaction markers count too, so it rarely reaches 0).
func (r *Runner) lag() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for tp, lso := range r.stable {
		pos := max(r.stored[tp], 0)
		if lso > pos {
			n += lso - pos
		}
	}
	return n
}

// adjustOffsets replaces the offsets Kafka holds for newly assigned partitions with those
// the sink holds, when it is an OffsetStore; a partition it holds nothing for starts at
// the beginning. Kafka's committed offsets are written after the sink's, so they can only
// lag behind; the sink's are the truth.
func (r *Runner) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if r.store == nil {
		r.mu.Lock()
		for topic, ps := range offsets {
			for part, o := range ps {
				tp, n := TopicPartition{topic, part}, max(o.EpochOffset().Offset, -1)
				r.stored[tp], r.next[tp] = n, n
			}
		}
		r.mu.Unlock()
		return offsets, nil
	}
	stored, err := r.store.Offsets(ctx, r.cfg.Group, slices.Sorted(maps.Keys(offsets)))
	if err != nil {
		r.log.Error("loading the stored offsets of newly assigned partitions failed; rejoining the group", "err", err)
		return nil, fmt.Errorf("load stored offsets: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, ps := range offsets {
		for part := range ps {
			tp := TopicPartition{topic, part}
			if n, ok := stored[tp]; ok {
				ps[part] = kgo.NewOffset().At(n).WithEpoch(-1)
				r.stored[tp], r.next[tp] = n, n
			} else {
				ps[part] = kgo.NewOffset().AtStart()
				r.stored[tp], r.next[tp] = -1, -1
			}
		}
	}
	return offsets, nil
}

func (r *Runner) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.log.Debug("partitions assigned", "group", r.cfg.Group, "partitions", count(assigned))
}

// revoked commits the marked offsets to Kafka (for monitoring; the batch in progress was
// applied before the callback could run) and forgets the partitions.
func (r *Runner) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.StopTimeout)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		r.log.Warn("committing offsets to Kafka for monitoring failed; the sink's offsets are unaffected", "err", err)
	}
	r.forget(revoked)
	r.log.Debug("partitions revoked", "group", r.cfg.Group, "partitions", count(revoked))
}

func (r *Runner) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.forget(lost)
	r.log.Warn("partitions lost from the group", "group", r.cfg.Group, "partitions", count(lost))
}

func (r *Runner) forget(parts map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, ps := range parts {
		for _, part := range ps {
			delete(r.stored, TopicPartition{topic, part})
			delete(r.next, TopicPartition{topic, part})
			delete(r.stable, TopicPartition{topic, part})
		}
	}
}

// blocked is kgo's signal that a rebalance waits for the batch in progress: it is cut
// short and applied.
func (r *Runner) blocked(context.Context, *kgo.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hurry = true
	if r.stopPoll != nil {
		r.stopPoll()
	}
}

func count(parts map[string][]int32) int {
	n := 0
	for _, ps := range parts {
		n += len(ps)
	}
	return n
}
