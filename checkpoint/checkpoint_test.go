package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var update = flag.Bool("update", false, "rewrite testdata/record.golden")

const (
	cpTopic   = "k._keycdc_checkpoints"
	dataTopic = "k.acme.user"
)

// env is a kfake cluster with a checkpoint topic and a data topic.
type env struct {
	t       *testing.T
	cluster *kfake.Cluster
	addrs   []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic(cpTopic, 1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(dataTopic, 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cluster: c, addrs: c.ListenAddrs()}
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.addrs...)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// writer returns a fenced Writer for key with transactional ID txnID on its own client.
func (e *env) writer(txnID, key string) *Writer {
	e.t.Helper()
	w, err := NewWriter(e.client(kgo.TransactionalID(txnID)), cpTopic, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Fence(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return w
}

// load returns the checkpoint of key, failing the test on error or after a minute.
func (e *env) load(key string) Position {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pos, err := NewStore(e.client(LoadOpts()...), cpTopic).Load(ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return pos
}

// readCommitted returns the committed data records of topic up to its last stable offset,
// partition by partition in offset order. It is written independently of Store.Load.
func (e *env) readCommitted(topic string) []*kgo.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(e.client()).ListCommittedOffsets(ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	left := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(left) == 0 {
		return nil
	}
	cl := e.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	var got []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			e.t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			lso, ok := left[r.Partition]
			if !ok || r.Offset >= lso {
				return
			}
			if !r.Attrs.IsControl() {
				got = append(got, r)
			}
			if r.Offset == lso-1 {
				delete(left, r.Partition)
			}
		})
	}
	return got
}

// committed returns the values of the committed records of topic, sorted.
func (e *env) committed(topic string) []string {
	e.t.Helper()
	var got []string
	for _, r := range e.readCommitted(topic) {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	return got
}

func data(values ...string) []*kgo.Record {
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: dataTopic, Key: []byte(v), Value: []byte(v)})
	}
	return recs
}

func TestCommitThenLoad(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w := e.writer("keycdc-k-acme", "acme")
	if pos := e.load("acme"); pos != nil {
		t.Fatalf("Load before any commit = %q, want nil", pos)
	}
	if err := w.Commit(ctx, data("r1", "r2"), Position("p1")); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); string(pos) != "p1" {
		t.Errorf("Load = %q, want p1", pos)
	}
	other := e.writer("keycdc-k-other", "other")
	if err := other.Commit(ctx, nil, Position("o1")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, nil, Position("p2")); err != nil { // no records: only the checkpoint moves
		t.Fatal(err)
	}
	if err := other.Commit(ctx, nil, Position("o2")); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); string(pos) != "p2" {
		t.Errorf("Load = %q, want p2", pos)
	}
	if pos := e.load("other"); string(pos) != "o2" {
		t.Errorf("Load(other) = %q, want o2", pos)
	}
	if err := w.Commit(ctx, nil, Position{}); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); pos == nil || len(pos) != 0 {
		t.Errorf("Load after an empty position = %q (nil: %v), want empty and non-nil", pos, pos == nil)
	}
	if got := e.committed(dataTopic); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Errorf("data topic holds %v", got)
	}

	// A tombstone removes the checkpoint.
	plain := e.client()
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: cpTopic, Key: []byte("acme")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); pos != nil {
		t.Errorf("Load after a tombstone = %q, want nil", pos)
	}
	if err := w.Commit(ctx, nil, nil); err == nil {
		t.Error("Commit accepted a nil position")
	}
}

func TestAbortedCommitIsInvisible(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w := e.writer("keycdc-k-acme", "acme")
	if err := w.Commit(ctx, data("kept"), Position("p1")); err != nil {
		t.Fatal(err)
	}

	// A record for a topic that does not exist fails the transaction.
	recs := append(data("lost1"), &kgo.Record{Topic: "k.acme.missing", Value: []byte("x")})
	err := w.Commit(ctx, recs, Position("p2"))
	if err == nil || !strings.Contains(err.Error(), "k.acme.missing") || IsFenced(err) {
		t.Fatalf("Commit with a missing topic: err = %v", err)
	}

	// A produce error injected on the data topic fails it too.
	e.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: dataTopic, Err: kerr.InvalidRecord})
	err = w.Commit(ctx, data("lost2"), Position("p3"))
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("Commit with an injected produce error: err = %v", err)
	}

	if pos := e.load("acme"); string(pos) != "p1" {
		t.Errorf("Load after aborted commits = %q, want p1", pos)
	}
	if got := e.committed(dataTopic); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("data topic holds %v, want only the committed record", got)
	}
	// A cancelled context aborts the transaction too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Commit(cctx, data("lost3"), Position("p3")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: err = %v", err)
	}
	if pos := e.load("acme"); string(pos) != "p1" {
		t.Errorf("Load after a cancelled commit = %q, want p1", pos)
	}
	// The Writer goes on after an abort.
	if err := w.Commit(ctx, data("next"), Position("p4")); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); string(pos) != "p4" {
		t.Errorf("Load = %q, want p4", pos)
	}
	if got := e.committed(dataTopic); !slices.Equal(got, []string{"kept", "next"}) {
		t.Errorf("data topic holds %v, want only the committed records", got)
	}
}

func TestSecondWriterFencesFirst(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	first := e.writer("keycdc-k-acme", "acme")
	if err := first.Commit(ctx, data("a"), Position("p1")); err != nil {
		t.Fatal(err)
	}
	second := e.writer("keycdc-k-acme", "acme")
	err := first.Commit(ctx, data("b"), Position("p2"))
	if !IsFenced(err) {
		t.Fatalf("the fenced writer's Commit: err = %v, want IsFenced", err)
	}
	if err := first.Commit(ctx, data("b"), Position("p2")); !IsFenced(err) {
		t.Errorf("the fenced writer's next Commit: err = %v, want IsFenced", err)
	}
	if pos := e.load("acme"); string(pos) != "p1" {
		t.Errorf("Load = %q, want p1", pos)
	}
	if err := second.Commit(ctx, data("c"), Position("p3")); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); string(pos) != "p3" {
		t.Errorf("Load = %q, want p3", pos)
	}
	if got := e.committed(dataTopic); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("data topic holds %v", got)
	}
	if IsFenced(errors.New("x")) || IsFenced(nil) {
		t.Error("IsFenced misclassifies")
	}
}

// TestFenceAbortsOpenTransaction: an instance that died in the middle of a transaction
// leaves it open; the next instance's Fence aborts it, so Load neither waits for it nor
// returns its checkpoint.
func TestFenceAbortsOpenTransaction(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old := e.writer("keycdc-k-acme", "acme")
	if err := old.Commit(ctx, data("a"), Position("p1")); err != nil {
		t.Fatal(err)
	}
	// Half a Commit: records and checkpoint produced, never committed.
	if err := old.cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	recs := append(data("open"), &kgo.Record{Topic: cpTopic, Key: []byte("acme"), Value: encode(Position("p2"))})
	if err := old.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	e.writer("keycdc-k-acme", "acme") // Fence
	if pos := e.load("acme"); string(pos) != "p1" {
		t.Errorf("Load = %q, want p1", pos)
	}
	if got := e.committed(dataTopic); !slices.Equal(got, []string{"a"}) {
		t.Errorf("data topic holds %v", got)
	}
}

// TestLoadWaitsForOpenTransactionsOfOtherRealms: the checkpoint topic is shared, and
// another realm's open transaction holds back the last stable offset. A checkpoint this
// realm committed after that transaction began lies behind it; Load must wait rather than
// return an older checkpoint.
func TestLoadWaitsForOpenTransactionsOfOtherRealms(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	acme := e.writer("keycdc-k-acme", "acme")
	if err := acme.Commit(ctx, nil, Position("p1")); err != nil {
		t.Fatal(err)
	}
	other := e.writer("keycdc-k-other", "other")
	if err := other.cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.cl.ProduceSync(ctx, &kgo.Record{Topic: cpTopic, Key: []byte("other"), Value: encode(Position("o1"))}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := acme.Commit(ctx, nil, Position("p2")); err != nil {
		t.Fatal(err)
	}

	// While the other realm's transaction is open, Load cannot know p2 is the latest and
	// must not answer p1. The deadline only bounds the wait; no answer is the right one.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	pos, err := NewStore(e.client(LoadOpts()...), cpTopic).Load(short, "acme")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load with another realm's transaction open = %q, %v; want it to wait", pos, err)
	}

	if err := other.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if pos := e.load("acme"); string(pos) != "p2" {
		t.Errorf("Load = %q, want p2", pos)
	}
}

func TestMisuse(t *testing.T) {
	e := newEnv(t)
	if _, err := NewWriter(e.client(), cpTopic, "acme"); err == nil || !strings.Contains(err.Error(), "TransactionalID") {
		t.Errorf("NewWriter without a transactional ID: err = %v", err)
	}
	if _, err := NewWriter(e.client(kgo.TransactionalID("x")), cpTopic, ""); err == nil {
		t.Error("NewWriter accepted an empty key")
	}
	_, err := NewStore(e.client(), cpTopic).Load(context.Background(), "acme")
	if err == nil || !strings.Contains(err.Error(), "ReadCommitted") || !strings.Contains(err.Error(), "KeepControlRecords") {
		t.Errorf("Load through a plain client: err = %v", err)
	}
	if _, err := NewStore(e.client(LoadOpts()...), "k.missing").Load(context.Background(), "acme"); err == nil ||
		!strings.Contains(err.Error(), "topic k.missing does not exist") {
		t.Errorf("Load from a missing topic: err = %v", err)
	}
	if _, err := decode([]byte{2, 'x'}); err == nil || !strings.Contains(err.Error(), "format 2") {
		t.Errorf("decode of format 2: err = %v", err)
	}
}

// TestRecordLayoutGolden pins the checkpoint record's key and value, as Commit writes them.
func TestRecordLayoutGolden(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w := e.writer("keycdc-k-acme", "acme")
	var b bytes.Buffer
	b.WriteString("# Checkpoint records as Writer.Commit writes them to the checkpoint topic, in hex.\n")
	b.WriteString("# Key: the writer's key (realm name). Value: format byte 01, then the Position.\n")
	b.WriteString("# Regenerate with: go test ./checkpoint -run Golden -update\n")
	for _, pos := range []Position{Position(`{"v":1,"watermark":1764000000000}`), {}} {
		if err := w.Commit(ctx, nil, pos); err != nil {
			t.Fatal(err)
		}
		r := lastRecord(t, e, cpTopic)
		fmt.Fprintf(&b, "key %x\nvalue %x\n", r.Key, r.Value)
		got, err := decode(r.Value)
		if err != nil || !bytes.Equal(got, pos) {
			t.Errorf("decode = %q, %v; want %q", got, err, pos)
		}
	}
	path := filepath.Join("testdata", "record.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("checkpoint records differ from %s (run with -update if intended):\n%s", path, b.String())
	}
}

// lastRecord returns the last committed record of topic, which has one partition.
func lastRecord(t *testing.T, e *env, topic string) *kgo.Record {
	t.Helper()
	recs := e.readCommitted(topic)
	if len(recs) == 0 {
		t.Fatalf("%s has no committed records", topic)
	}
	return recs[len(recs)-1]
}

// BenchmarkCommit measures Commit on kfake: transactions of 1,000 records of ~150 bytes
// over three partitions plus the checkpoint, reported as records/s.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	for name, parts := range map[string]int32{cpTopic: 1, dataTopic: 3} {
		if err := c.CreateTopic(name, parts, map[string]string{"cleanup.policy": "compact"}); err != nil {
			b.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	w, err := NewWriter(cl, cpTopic, "acme")
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Fence(ctx); err != nil {
		b.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 150)
	const perTxn = 1000
	n := 0
	for b.Loop() {
		recs := make([]*kgo.Record, perTxn)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: dataTopic, Key: fmt.Appendf(nil, "key-%08d", n+i), Value: value}
		}
		if err := w.Commit(ctx, recs, Position(fmt.Appendf(nil, "pos-%d", n))); err != nil {
			b.Fatal(err)
		}
		n += perTxn
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
