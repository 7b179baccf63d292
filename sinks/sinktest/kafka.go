package sinktest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
)

// Stream is a kfake cluster and an srfake registry holding the topics of two realms, into
// which generated changes are produced in transactions, some of them aborted, with a few
// malformed records among the committed ones. Tests of code around sinks use it as their
// source of records; it is not safe for concurrent use.
type Stream struct {
	addrs    []string
	registry string
	sources  map[string]sinks.Source
	prod     *kgo.Client
	codec    *schemas.Codec // the producer's
	gen      *generator

	records   []produced // committed records, in produce order
	ends      map[sinks.TopicPartition]int64
	malformed []produced
	tx        int
}

type produced struct {
	change sinks.Change // zero Table for a malformed record
	tp     sinks.TopicPartition
	offset int64
}

// NewStream starts a cluster and a registry for the test, creates the topics of tables
// for two realms (three partitions each) and registers their schemas. Changes are
// generated from seed.
func NewStream(t testing.TB, tables []*schemas.Table, seed uint64) *Stream {
	t.Helper()
	sources := map[string]sinks.Source{}
	for _, realm := range realms {
		for _, tab := range tables {
			sources[topicOf(realm, tab)] = sinks.Source{Realm: realm, Table: tab}
		}
	}
	st := newStream(t, sources)
	st.gen = newGenerator(seed, realms, tables, 25)
	return st
}

// NewBenchStream is a Stream of one table of one realm holding n records made by row,
// committed in transactions of 5000, for benchmarks.
func NewBenchStream(t testing.TB, table *schemas.Table, n int, row func(i int) schemas.Row) *Stream {
	t.Helper()
	topic := topicOf("bench", table)
	st := newStream(t, map[string]sinks.Source{topic: {Realm: "bench", Table: table}})
	ctx := ctxFor(t)
	for first := 0; first < n; first += 5000 {
		var recs []*kgo.Record
		for i := first; i < min(first+5000, n); i++ {
			v := row(i)
			key := schemas.Row{}
			for _, k := range table.KeyColumns() {
				key[k] = v[k]
			}
			ch, err := encode(sinks.Change{Source: sinks.Source{Realm: "bench", Table: table}, Key: key, Value: v})
			if err != nil {
				t.Fatal(err)
			}
			k, val, err := st.codec.Frame(topic, ch)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: val})
		}
		if err := st.prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := st.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := st.prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			tp := sinks.TopicPartition{Topic: r.Topic, Partition: r.Partition}
			st.ends[tp] = max(st.ends[tp], r.Offset+1)
		}
	}
	return st
}

// newStream starts the cluster and registry and creates and registers the topics.
func newStream(t testing.TB, sources map[string]sinks.Source) *Stream {
	t.Helper()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	st := &Stream{addrs: kf.ListenAddrs(), registry: reg.URL(), sources: sources, ends: map[sinks.TopicPartition]int64{}}
	st.prod, err = kgo.NewClient(kgo.SeedBrokers(st.addrs...), kgo.TransactionalID("sinktest-producer"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.prod.Close)
	st.codec = schemas.NewCodec(st.registryClient(t))
	ctx := ctxFor(t)
	names := st.Topics()
	resp, err := kadm.NewClient(st.prod).CreateTopics(ctx, 3, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, topic := range names {
		if err := st.codec.Register(ctx, topic, st.sources[topic].Table); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func (st *Stream) registryClient(t testing.TB) *sr.Client {
	cl, err := sr.NewClient(sr.URLs(st.registry))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// Produce writes n changes in transactions of 20 records; every fourth transaction is
// aborted (its records must never reach a sink), and every third committed one carries a
// malformed record.
func (st *Stream) Produce(t testing.TB, n int) {
	t.Helper()
	ctx := ctxFor(t)
	for n > 0 {
		st.tx++
		abort := st.tx%4 == 0
		var recs []*kgo.Record
		var changes []sinks.Change
		for range min(20, n) {
			c := st.gen.next()
			ch, err := encode(c)
			if err != nil {
				t.Fatal(err)
			}
			topic := topicOf(c.Realm, c.Table)
			k, v, err := st.codec.Frame(topic, ch)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: v})
			changes = append(changes, c)
		}
		if !abort {
			n -= len(recs)
		}
		if st.tx%3 == 0 {
			topic := topicOf(realms[0], st.gen.tables[0])
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(malformedKey), Value: []byte(malformedValue)})
			changes = append(changes, sinks.Change{})
		}
		if err := st.prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := st.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		commit := kgo.TryCommit
		if abort {
			commit = kgo.TryAbort
		}
		if err := st.prod.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
		if abort {
			continue
		}
		for i, r := range recs {
			p := produced{change: changes[i], tp: sinks.TopicPartition{Topic: r.Topic, Partition: r.Partition}, offset: r.Offset}
			st.records = append(st.records, p)
			st.ends[p.tp] = max(st.ends[p.tp], r.Offset+1)
			if p.change.Table == nil {
				st.malformed = append(st.malformed, p)
			}
		}
	}
}

// Want returns the rows the committed records before the given offsets leave behind
// (all records when upTo is nil).
func (st *Stream) Want(upTo map[sinks.TopicPartition]int64) Rows {
	var cs []sinks.Change
	for _, p := range st.records {
		if p.change.Table == nil {
			continue
		}
		if upTo != nil && p.offset >= upTo[p.tp] {
			continue
		}
		cs = append(cs, p.change)
	}
	return fold(cs)
}

// Topics returns the names of the stream's topics, sorted.
func (st *Stream) Topics() []string { return slices.Sorted(maps.Keys(st.sources)) }

// Sources maps each topic to its realm and table, as sinks.Config wants them.
func (st *Stream) Sources() map[string]sinks.Source { return maps.Clone(st.sources) }

// Brokers returns the cluster's addresses.
func (st *Stream) Brokers() []string { return slices.Clone(st.addrs) }

// Ends returns, for every partition, the offset after its last committed record: where a
// sink that holds everything stands.
func (st *Stream) Ends() map[sinks.TopicPartition]int64 { return maps.Clone(st.ends) }

// Malformed returns the malformed records among the committed ones as the dead letters
// they must become, without a reason.
func (st *Stream) Malformed() []sinks.DeadLetter {
	out := make([]sinks.DeadLetter, len(st.malformed))
	for i, m := range st.malformed {
		out[i] = sinks.DeadLetter{Source: st.sources[m.tp.Topic], TopicPartition: m.tp, Offset: m.offset,
			Key: []byte(malformedKey), Value: []byte(malformedValue)}
	}
	return out
}

// The malformed record: a key without the wire header, a value with a bad magic byte.
const (
	malformedKey   = "not in the wire format"
	malformedValue = "\x01\x02\x03"
)

// Decoder returns a new Codec on the stream's registry, which has to fetch every schema it
// decodes with.
func (st *Stream) Decoder(t testing.TB) *schemas.Codec { return schemas.NewCodec(st.registryClient(t)) }

// runner returns a Runner of the stream's topics for sink, with small batches, its own
// codec (so that schemas come from the registry) and no retries.
func (st *Stream) runner(t *testing.T, sink sinks.Sink, stopTimeout time.Duration) *sinks.Runner {
	t.Helper()
	r, err := sinks.NewRunner(sinks.Config{Group: group, Sources: st.sources, BatchSize: 16, BatchAge: 5 * time.Millisecond,
		StopTimeout: stopTimeout}, []kgo.Opt{kgo.SeedBrokers(st.addrs...), kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(100 * time.Millisecond)}, st.Decoder(t), sink,
		sinks.Retries(1, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Running is a Runner started in a goroutine by Start: Cancel stops it gracefully, Done
// receives what Run returned.
type Running struct {
	Cancel context.CancelFunc
	Done   chan error
}

// Start runs r in a goroutine until Cancel or Stop.
func Start(r *sinks.Runner) *Running {
	ctx, cancel := context.WithCancel(context.Background())
	rn := &Running{Cancel: cancel, Done: make(chan error, 1)}
	go func() { rn.Done <- r.Run(ctx) }()
	return rn
}

// Stop stops the Runner gracefully and returns what Run returned, failing the test if it
// takes over 30s.
func (rn *Running) Stop(t testing.TB) error {
	t.Helper()
	rn.Cancel()
	select {
	case err := <-rn.Done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the runner did not stop within 30s of its context being cancelled")
		return nil
	}
}

// waitCaughtUp waits until the sink holds everything produced: the stored offsets reach
// the ends of the partitions (an OffsetStore) or the rows equal what was produced.
func (st *Stream) waitCaughtUp(t *testing.T, s Store, sink sinks.Sink, rn *Running) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	want := st.Want(nil)
	os, isStore := sink.(sinks.OffsetStore)
	var last string
	for {
		select {
		case err := <-rn.Done:
			t.Fatalf("the runner stopped before catching up: %v", err)
		default:
		}
		if isStore {
			got, err := os.Offsets(ctxFor(t), group, st.Topics())
			if err != nil {
				t.Fatal(err)
			}
			if maps.Equal(got, st.ends) {
				return
			}
			last = "stored offsets " + fmtPositions(got) + "\nwant " + fmtPositions(st.ends)
		} else {
			d := diff(want, s.Rows(t), s.Tables, nil)
			if d == "" {
				return
			}
			last = d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink did not catch up within 30s:\n%s", last)
		}
		time.Sleep(10 * time.Millisecond) // polling for a condition, with the deadline above
	}
}

// checkConsistent checks that the rows are exactly what the records before the stored
// offsets leave behind: rows and offsets were committed together.
func (st *Stream) checkConsistent(t *testing.T, s Store, sink sinks.Sink) map[sinks.TopicPartition]int64 {
	t.Helper()
	os, ok := sink.(sinks.OffsetStore)
	if !ok {
		return nil
	}
	stored, err := os.Offsets(ctxFor(t), group, st.Topics())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(st.Want(stored), s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("rows are not what the records before the stored offsets (%s) leave behind:\n%s", fmtPositions(stored), d)
	}
	return stored
}

// watch wraps a sink to record the first offset of every partition it is given.
type watch struct {
	sinks.Sink
	mu    sync.Mutex
	first map[sinks.TopicPartition]int64
}

func (w *watch) Apply(ctx context.Context, b sinks.Batch) error {
	w.mu.Lock()
	for _, c := range b.Changes {
		if _, ok := w.first[c.TopicPartition]; !ok {
			w.first[c.TopicPartition] = c.Offset
		}
	}
	w.mu.Unlock()
	return w.Sink.Apply(ctx, b)
}

// Offsets passes through to the wrapped sink, so the Runner sees an OffsetStore.
func (w *watch) Offsets(ctx context.Context, group string, topics []string) (map[sinks.TopicPartition]int64, error) {
	return w.Sink.(sinks.OffsetStore).Offsets(ctx, group, topics)
}

func testRunner(t *testing.T, s Store) {
	st := NewStream(t, s.Tables, 11)
	st.Produce(t, 300)
	sink := s.Open(t, nil)
	rn := Start(st.runner(t, sink, 10*time.Second))
	st.waitCaughtUp(t, s, sink, rn)
	if err := rn.Stop(t); err != nil {
		t.Fatalf("graceful stop: Run returned %v", err)
	}
	if d := diff(st.Want(nil), s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("rows differ from the committed records:\n%s", d)
	}
	if len(st.malformed) == 0 {
		t.Fatal("sinktest: no malformed record was produced")
	}
	if s.DeadLetters != nil {
		got := s.DeadLetters(t, group)
		if len(got) != len(st.malformed) {
			t.Fatalf("%d dead letters, want one per malformed record (%d): %+v", len(got), len(st.malformed), got)
		}
		for _, m := range st.malformed {
			if !slices.ContainsFunc(got, func(d sinks.DeadLetter) bool {
				return d.TopicPartition == m.tp && d.Offset == m.offset && strings.Contains(d.Reason, "malformed") &&
					string(d.Key) == malformedKey && string(d.Value) == malformedValue
			}) {
				t.Errorf("no dead letter for the malformed record %s@%d in %+v", m.tp, m.offset, got)
			}
		}
	}

	// A restarted sink resumes where the first one stopped.
	stopped := st.checkConsistent(t, s, sink)
	st.Produce(t, 100)
	w := &watch{Sink: s.Open(t, nil), first: map[sinks.TopicPartition]int64{}}
	var restarted sinks.Sink = w
	if _, ok := w.Sink.(sinks.OffsetStore); !ok {
		restarted = w.Sink
	}
	rn = Start(st.runner(t, restarted, 10*time.Second))
	st.waitCaughtUp(t, s, w.Sink, rn)
	if err := rn.Stop(t); err != nil {
		t.Fatalf("graceful stop: Run returned %v", err)
	}
	if d := diff(st.Want(nil), s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("after the restart, rows differ from the committed records:\n%s", d)
	}
	if restarted == w {
		for tp, first := range w.first {
			if first < stopped[tp] {
				t.Errorf("the restarted sink read %s from offset %d, before its stored offset %d", tp, first, stopped[tp])
			}
		}
	}
}

func testCrash(t *testing.T, s Store) {
	st := NewStream(t, s.Tables, 12)
	st.Produce(t, 600)
	for run, crashAt := range []int{3, 1, 6, 2} {
		calls := 0
		sink := s.Open(t, func(context.Context) error {
			calls++
			if calls == crashAt {
				return errInjected
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := st.runner(t, sink, 10*time.Second).Run(ctx)
		cancel()
		if !errors.Is(err, errInjected) {
			t.Fatalf("run %d: Run returned %v, want the injected failure of Apply %d", run, err, crashAt)
		}
		stored := st.checkConsistent(t, s, sink)
		if stored != nil && maps.Equal(stored, st.ends) {
			t.Fatalf("run %d: the crash happened after everything was stored; the test needs more records", run)
		}
	}
	sink := s.Open(t, nil)
	rn := Start(st.runner(t, sink, 10*time.Second))
	st.waitCaughtUp(t, s, sink, rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	if d := diff(st.Want(nil), s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("after crashes and a restart, rows differ from the committed records:\n%s", d)
	}
	st.checkConsistent(t, s, sink)
}

func testHardStop(t *testing.T, s Store) {
	st := NewStream(t, s.Tables, 13)
	st.Produce(t, 300)
	entered := make(chan struct{})
	calls := 0
	sink := s.Open(t, func(ctx context.Context) error {
		calls++
		if calls == 2 {
			close(entered)
			<-ctx.Done() // the process is stopped while this batch is being written
			return ctx.Err()
		}
		return nil
	})
	rn := Start(st.runner(t, sink, 20*time.Millisecond))
	select {
	case <-entered:
	case err := <-rn.Done:
		t.Fatalf("the runner stopped before its second batch: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the runner did not apply a second batch within 30s")
	}
	if err := rn.Stop(t); err == nil {
		t.Fatal("Run returned nil after a stop that could not finish its batch; want the error")
	}
	stored := st.checkConsistent(t, s, sink)
	if stored != nil && maps.Equal(stored, st.ends) {
		t.Fatal("everything was stored before the hard stop; the test needs more records")
	}
	sink = s.Open(t, nil)
	rn = Start(st.runner(t, sink, 10*time.Second))
	st.waitCaughtUp(t, s, sink, rn)
	if err := rn.Stop(t); err != nil {
		t.Fatal(err)
	}
	if d := diff(st.Want(nil), s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("after a hard stop and a restart, rows differ from the committed records:\n%s", d)
	}
}
