package sinks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/sinktest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// tables is a few tables, enough for runner tests and quick to set up.
var tables = []*schemas.Table{schemas.User, schemas.UserAttribute, schemas.Event}

func newRunner(t *testing.T, st *sinktest.Stream, dec sinks.Decoder, sink sinks.Sink, cfg func(*sinks.Config), opts ...sinks.Option) *sinks.Runner {
	t.Helper()
	c := sinks.Config{Group: "runner-test", Sources: st.Sources(), BatchSize: 20, BatchAge: 5 * time.Millisecond}
	if cfg != nil {
		cfg(&c)
	}
	if dec == nil {
		dec = st.Decoder(t)
	}
	r, err := sinks.NewRunner(c, []kgo.Opt{kgo.SeedBrokers(st.Brokers()...), kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(100 * time.Millisecond)}, dec, sink,
		append([]sinks.Option{sinks.Retries(2, time.Millisecond, 2*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls cond until it holds, failing the test after 30s or if a runner stops.
func waitFor(t *testing.T, what string, cond func() bool, runners ...*sinktest.Running) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		for _, rn := range runners {
			select {
			case err := <-rn.Done:
				t.Fatalf("waiting for %s: a runner stopped: %v", what, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 30s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling for a condition, with the deadline above
	}
}

func offsets(t *testing.T, s sinks.OffsetStore, group string, st *sinktest.Stream) map[sinks.TopicPartition]int64 {
	t.Helper()
	got, err := s.Offsets(context.Background(), group, st.Topics())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func caughtUp(t *testing.T, s sinks.OffsetStore, group string, st *sinktest.Stream) func() bool {
	return func() bool { return maps.Equal(offsets(t, s, group, st), st.Ends()) }
}

// counting counts the records a sink applied.
type counting struct {
	*sinktest.MemorySink
	n atomic.Int64
}

func (c *counting) Apply(ctx context.Context, b sinks.Batch) error {
	err := c.MemorySink.Apply(ctx, b)
	if err == nil {
		c.n.Add(int64(len(b.Changes)))
	}
	return err
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  sinks.Config
		want []string
	}{
		{sinks.Config{}, []string{"group: required", "sources: at least one topic"}},
		{sinks.Config{Group: "g", Sources: map[string]sinks.Source{"t": {Realm: "r"}}}, []string{`topic "t" needs`}},
		{sinks.Config{Group: "g", Sources: map[string]sinks.Source{"t": {Realm: "r", Table: schemas.User}}, BatchSize: -1,
			BatchAge: -time.Second, DeadLetterLimit: -1, StopTimeout: -1}, []string{"batch size", "batch age", "dead-letter limit", "stop timeout"}},
		{sinks.Config{Group: "g", Sources: map[string]sinks.Source{"t": {Realm: "r", Table: schemas.User}}}, nil},
	} {
		err := tc.cfg.Validate()
		if tc.want == nil {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %v does not mention %q", tc.cfg, err, w)
			}
		}
	}
}

// TestMembersShareAndHandOver runs two members of a group, stops one in the middle and
// checks that the other takes its partitions over where it left them.
func TestMembersShareAndHandOver(t *testing.T) {
	st := sinktest.NewStream(t, tables, 1)
	st.Produce(t, 600)
	m := sinktest.NewMemory()
	a, b := &counting{MemorySink: m.Sink(nil)}, &counting{MemorySink: m.Sink(nil)}
	ra := sinktest.Start(newRunner(t, st, nil, a, nil))
	waitFor(t, "the first member to apply a batch", func() bool { return a.n.Load() > 0 }, ra)
	rb := sinktest.Start(newRunner(t, st, nil, b, nil))
	// Until the second member has its partitions, the first may read everything produced.
	waitFor(t, "the second member to apply a batch", func() bool {
		if b.n.Load() > 0 {
			return true
		}
		st.Produce(t, 20)
		return false
	}, ra, rb)
	if err := ra.Stop(t); err != nil {
		t.Fatalf("first member: %v", err)
	}
	st.Produce(t, 200)
	waitFor(t, "the group to catch up", caughtUp(t, a, "runner-test", st), rb)
	if err := rb.Stop(t); err != nil {
		t.Fatalf("second member: %v", err)
	}
	if d := sinktest.Diff(st.Want(nil), m.Rows(), tables); d != "" {
		t.Fatalf("rows differ:\n%s", d)
	}
	if len(m.DeadLetters("runner-test")) != len(st.Malformed()) {
		t.Fatalf("%d dead letters, want %d", len(m.DeadLetters("runner-test")), len(st.Malformed()))
	}
}

func TestDeadLetterLimit(t *testing.T) {
	st := sinktest.NewStream(t, tables, 2)
	st.Produce(t, 200)
	if len(st.Malformed()) < 3 {
		t.Fatalf("want at least 3 malformed records, have %d", len(st.Malformed()))
	}
	m := sinktest.NewMemory()
	limit := func(c *sinks.Config) { c.DeadLetterLimit = 1 }
	stored := 0
	for run := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := newRunner(t, st, nil, m.Sink(nil), limit).Run(ctx)
		cancel()
		if !errors.Is(err, sinks.ErrDeadLetterLimit) {
			t.Fatalf("run %d: Run returned %v, want the dead-letter limit", run, err)
		}
		// The batch that would pass the limit is not applied: a batch with two dead
		// letters stops the runner before the first is stored, and once the limit is
		// reached, restarts store no more.
		n := len(m.DeadLetters("runner-test"))
		if n > 1 || n < stored {
			t.Fatalf("run %d: %d dead letters stored (%d before), want at most the limit, 1", run, n, stored)
		}
		stored = n
	}
	rn := sinktest.Start(newRunner(t, st, nil, m.Sink(nil), nil))
	waitFor(t, "catching up without a limit", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	if n := len(m.DeadLetters("runner-test")); n != len(st.Malformed()) {
		t.Fatalf("%d dead letters, want %d", n, len(st.Malformed()))
	}
}

// rejecting rejects every change of one table.
type rejecting struct {
	*sinktest.MemorySink
	table *schemas.Table
}

func (r rejecting) Apply(ctx context.Context, b sinks.Batch) error {
	var rej sinks.RejectError
	for i, c := range b.Changes {
		if c.Table == r.table {
			rej.Rejects = append(rej.Rejects, sinks.Reject{Index: i, Reason: "rejected by the test"})
		}
	}
	if len(rej.Rejects) > 0 {
		return &rej
	}
	return r.MemorySink.Apply(ctx, b)
}

func TestRejectedChangesBecomeDeadLetters(t *testing.T) {
	st := sinktest.NewStream(t, tables, 3)
	st.Produce(t, 300)
	m := sinktest.NewMemory()
	rn := sinktest.Start(newRunner(t, st, nil, rejecting{m.Sink(nil), schemas.UserAttribute}, nil))
	waitFor(t, "catching up", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	if d := sinktest.Diff(st.Want(nil), m.Rows(), []*schemas.Table{schemas.User, schemas.Event}); d != "" {
		t.Fatalf("rows differ:\n%s", d)
	}
	if n := len(m.Rows()["acme"][schemas.UserAttribute.Name()]); n != 0 {
		t.Fatalf("%d rejected rows were stored", n)
	}
	rejected := 0
	for _, d := range m.DeadLetters("runner-test") {
		if d.Reason == "rejected by the test" {
			rejected++
			if d.Table != schemas.UserAttribute || len(d.Key) < 5 {
				t.Errorf("dead letter of a rejected change: %+v", d)
			}
		}
	}
	if rejected == 0 {
		t.Fatal("no rejected change became a dead letter")
	}
}

// flaky fails decoding with a registry outage while failing is set.
type flaky struct {
	sinks.Decoder
	failing atomic.Bool
	calls   atomic.Int64
}

var errOutage = errors.New("schema registry unreachable (test)")

func (f *flaky) Decode(ctx context.Context, topic string, key, value []byte) (schemas.Decoded, error) {
	f.calls.Add(1)
	if f.failing.Load() {
		return schemas.Decoded{}, errOutage
	}
	return f.Decoder.Decode(ctx, topic, key, value)
}

func TestRegistryOutageStopsWithoutDeadLetters(t *testing.T) {
	st := sinktest.NewStream(t, tables, 4)
	st.Produce(t, 100)
	m := sinktest.NewMemory()
	dec := &flaky{Decoder: st.Decoder(t)}
	dec.failing.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := newRunner(t, st, dec, m.Sink(nil), nil).Run(ctx)
	if !errors.Is(err, errOutage) {
		t.Fatalf("Run returned %v, want the registry error", err)
	}
	if dec.calls.Load() != 2 {
		t.Errorf("decoded %d times, want 2 tries of the first record", dec.calls.Load())
	}
	if n := len(m.DeadLetters("runner-test")); n != 0 {
		t.Fatalf("%d records were dead-lettered during a registry outage", n)
	}
	dec.failing.Store(false)
	rn := sinktest.Start(newRunner(t, st, dec, m.Sink(nil), nil))
	waitFor(t, "catching up", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	if d := sinktest.Diff(st.Want(nil), m.Rows(), tables); d != "" {
		t.Fatalf("rows differ:\n%s", d)
	}
}

// TestPositionMovedStops makes another writer advance the group's stored offsets under a
// running member, which must stop rather than overwrite them.
func TestPositionMovedStops(t *testing.T) {
	st := sinktest.NewStream(t, tables, 5)
	st.Produce(t, 200)
	m := sinktest.NewMemory()
	rn := sinktest.Start(newRunner(t, st, nil, m.Sink(nil), nil))
	waitFor(t, "catching up", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	var b sinks.Batch
	b.Group = "runner-test"
	for tp, n := range offsets(t, m.Sink(nil), "runner-test", st) {
		b.Positions = append(b.Positions, sinks.Position{TopicPartition: tp, Prev: n, Next: n + 1})
	}
	if err := m.Sink(nil).Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	st.Produce(t, 100)
	select {
	case err := <-rn.Done:
		if !errors.Is(err, sinks.ErrPositionMoved) {
			t.Fatalf("Run returned %v, want ErrPositionMoved", err)
		}
	case <-time.After(30 * time.Second):
		rn.Stop(t)
		t.Fatal("the runner did not stop after its positions moved")
	}
}

func TestMetricsAndLogs(t *testing.T) {
	st := sinktest.NewStream(t, tables, 6)
	st.Produce(t, 200)
	m := sinktest.NewMemory()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &counting{MemorySink: m.Sink(nil)}
	rn := sinktest.Start(newRunner(t, st, nil, c, nil, sinks.MeterProvider(mp), sinks.Logger(log), sinks.ProgressInterval(time.Nanosecond)))
	waitFor(t, "catching up", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[mt.Name] += p.Value
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					sums[mt.Name] += p.Sum
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					sums[mt.Name] += p.Value
				}
			}
		}
	}
	if sums["keycdc.sink.records"] != c.n.Load() {
		t.Errorf("keycdc.sink.records = %d, the sink applied %d changes", sums["keycdc.sink.records"], c.n.Load())
	}
	if got, want := sums["keycdc.sink.dead_letters"], int64(len(st.Malformed())); got != want {
		t.Errorf("keycdc.sink.dead_letters = %d, want %d", got, want)
	}
	if got, want := sums["keycdc.sink.batch.records"], c.n.Load()+int64(len(st.Malformed())); got != want {
		t.Errorf("keycdc.sink.batch.records sums to %d, want %d", got, want)
	}
	out := logs.String()
	for _, want := range []string{"sink started", "record sent to the dead-letter store"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "O'Brien") || strings.Contains(out, "not in the wire format") {
		t.Errorf("logs show record contents:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLatest(t *testing.T) {
	src := sinks.Source{Realm: "r", Table: schemas.UserAttribute}
	row := func(u, k, v string) schemas.Row {
		return schemas.Row{"user_id": u, "attribute_key": k, "attribute_value": v}
	}
	b := sinks.Batch{Changes: []sinks.Change{
		{Source: src, Key: row("u1", "a", "1"), Value: row("u1", "a", "1"), Offset: 1},
		{Source: src, Key: row("u1", "a", "2"), Value: row("u1", "a", "2"), Offset: 2},
		{Source: src, Key: row("u1", "a", "1"), Offset: 3}, // deletes the first
		{Source: sinks.Source{Realm: "r2", Table: schemas.UserAttribute}, Key: row("u1", "a", "1"), Value: row("u1", "a", "1"), Offset: 4},
		// Length prefixes keep these apart although their concatenations are equal.
		{Source: src, Key: row("u1a", "", "x"), Value: row("u1a", "", "x"), Offset: 5},
		{Source: src, Key: row("u1", "a", "x"), Value: row("u1", "a", "x"), Offset: 6},
	}}
	var got []string
	for _, i := range b.Latest() {
		got = append(got, fmt.Sprint(b.Changes[i].Offset))
	}
	if want := "3 2 4 5 6"; strings.Join(got, " ") != want {
		t.Fatalf("Latest kept offsets %v, want %s", got, want)
	}
}

// gate holds every Apply until released, after telling the test it has started.
type gate struct {
	*sinktest.MemorySink
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) Apply(ctx context.Context, b sinks.Batch) error {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.MemorySink.Apply(ctx, b)
}

// TestGracefulStopFinishesTheBatch stops the runner while a batch is being applied: the
// batch is finished, stored with its positions, and Run returns nil.
func TestGracefulStopFinishesTheBatch(t *testing.T) {
	st := sinktest.NewStream(t, tables, 7)
	st.Produce(t, 100)
	m := sinktest.NewMemory()
	g := &gate{MemorySink: m.Sink(nil), entered: make(chan struct{}), release: make(chan struct{})}
	rn := sinktest.Start(newRunner(t, st, nil, g, func(c *sinks.Config) { c.StopTimeout = time.Minute }))
	select {
	case <-g.entered:
	case err := <-rn.Done:
		t.Fatalf("the runner stopped before applying: %v", err)
	}
	rn.Cancel()
	close(g.release)
	if err := <-rn.Done; err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	stored := offsets(t, m.Sink(nil), "runner-test", st)
	if len(stored) == 0 {
		t.Fatal("the batch in progress at the stop was not stored")
	}
	if d := sinktest.Diff(st.Want(stored), m.Rows(), tables); d != "" {
		t.Fatalf("rows differ from the records before the stored offsets:\n%s", d)
	}
}

// failing fails every Apply while fail is set.
type failing struct {
	*sinktest.MemorySink
	fail atomic.Bool
}

func (f *failing) Apply(ctx context.Context, b sinks.Batch) error {
	if f.fail.Load() {
		return errors.New("warehouse down")
	}
	return f.MemorySink.Apply(ctx, b)
}

// Health reports a batch that fails and is being retried, with the sink's error, and is
// healthy again once the batch went through.
func TestHealthReportsFailingBatches(t *testing.T) {
	st := sinktest.NewStream(t, tables, 8)
	st.Produce(t, 50)
	m := sinktest.NewMemory()
	f := &failing{MemorySink: m.Sink(nil)}
	f.fail.Store(true)
	r := newRunner(t, st, nil, f, nil, sinks.Retries(1000, time.Millisecond, 5*time.Millisecond))
	if err := r.Health(); err != nil {
		t.Fatalf("before the start: %v", err)
	}
	rn := sinktest.Start(r)
	waitFor(t, "an unhealthy report", func() bool {
		err := r.Health()
		return err != nil && strings.Contains(err.Error(), "warehouse down")
	}, rn)
	f.fail.Store(false)
	waitFor(t, "the sink to catch up", caughtUp(t, m.Sink(nil), "runner-test", st), rn)
	if err := r.Health(); err != nil {
		t.Fatalf("after the warehouse came back: %v", err)
	}
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
}
