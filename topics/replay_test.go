package topics

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceTxn produces recs in one transaction of cl and commits or aborts it.
func produceTxn(t testing.TB, cl *kgo.Client, commit bool, recs ...*kgo.Record) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

func rec(topic string, partition int32, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}
}

// replayed returns "partition:value" of every record Replay passes, checking that offsets
// increase within each partition.
func replayed(t *testing.T, cl *kgo.Client, topics ...string) []string {
	t.Helper()
	var got []string
	last := map[string]int64{}
	// A deadline turns a hang (a partition never seen to end) into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Replay(ctx, cl, topics, func(r *kgo.Record) error {
		tp := fmt.Sprint(r.Topic, "/", r.Partition)
		if prev, ok := last[tp]; ok && r.Offset <= prev {
			t.Errorf("%s: offset %d after %d", tp, r.Offset, prev)
		}
		last[tp] = r.Offset
		got = append(got, fmt.Sprintf("%s/%d:%s", r.Topic, r.Partition, r.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got) // partitions interleave; within one, order was checked above
	return got
}

func TestReplayReadsCommittedRecordsToTheLSO(t *testing.T) {
	c, addrs := newCluster(t)
	for _, topic := range []string{"t", "empty"} {
		if err := c.CreateTopic(topic, 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
			t.Fatal(err)
		}
	}
	plain := newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("replay-test"))
	if err := plain.ProduceSync(context.Background(), rec("t", 0, "a0"), rec("t", 0, "a1"), rec("t", 0, "a2")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produceTxn(t, txn, true, rec("t", 1, "b0"), rec("t", 1, "b1")) // partition 1 ends in a commit marker
	produceTxn(t, txn, false, rec("t", 2, "c0"))                   // partition 2: only an aborted record and its marker
	produceTxn(t, txn, false, rec("t", 0, "a3"))                   // partition 0 ends in an abort marker

	want := []string{"t/0:a0", "t/0:a1", "t/0:a2", "t/1:b0", "t/1:b1"}
	cl := newClient(t, addrs, ReplayOpts()...)
	if got := replayed(t, cl, "t", "empty"); !slices.Equal(got, want) {
		t.Errorf("Replay = %v, want %v", got, want)
	}

	// An open transaction: its records lie beyond the LSO and are not read.
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(context.Background(), rec("t", 1, "open"), rec("t", 0, "open")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := replayed(t, cl, "t"); !slices.Equal(got, want) {
		t.Errorf("Replay with an open transaction = %v, want %v", got, want)
	}
	if err := txn.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The same client again, now that the transaction is committed.
	want = append(want, "t/0:open", "t/1:open")
	slices.Sort(want)
	if got := replayed(t, cl, "t"); !slices.Equal(got, want) {
		t.Errorf("Replay after the commit = %v, want %v", got, want)
	}
	if got := replayed(t, cl, "empty"); len(got) != 0 {
		t.Errorf("Replay of an empty topic = %v", got)
	}
}

func TestReplayErrors(t *testing.T) {
	ctx := context.Background()
	c, addrs := newCluster(t)
	if err := c.CreateTopic("t", 1, nil); err != nil {
		t.Fatal(err)
	}
	plain := newClient(t, addrs)
	if err := plain.ProduceSync(ctx, rec("t", 0, "x"), rec("t", 0, "y")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	noop := func(*kgo.Record) error { return nil }

	for _, c := range []struct {
		name string
		opts []kgo.Opt
		want []string
	}{
		{"plain client", nil, []string{"ReadCommitted", "KeepControlRecords"}},
		{"consuming topics", append(ReplayOpts(), kgo.ConsumeTopics("t")), []string{"ConsumeTopics"}},
		{"in a group", append(ReplayOpts(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t")), []string{`consumer group (it is in "g")`}},
	} {
		err := Replay(ctx, newClient(t, addrs, c.opts...), []string{"t"}, noop)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to mention %s", c.name, err, w)
			}
		}
	}

	cl := newClient(t, addrs, ReplayOpts()...)
	if err := Replay(ctx, cl, []string{"t", "missing"}, noop); err == nil || !strings.Contains(err.Error(), "topic missing does not exist") {
		t.Errorf("missing topic: err = %v", err)
	}
	stop := errors.New("stop")
	n := 0
	err := Replay(ctx, cl, []string{"t"}, func(*kgo.Record) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn error: err = %v after %d calls, want stop after 1", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Replay(cctx, cl, []string{"t"}, noop); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v", err)
	}
	if err := Replay(ctx, cl, nil, noop); err != nil {
		t.Errorf("no topics: %v", err)
	}
}

var replayRecords = flag.Int("replay.records", 200_000, "records BenchmarkReplay reads (in transactions of 1000 over 3 partitions)")

// BenchmarkReplay measures Replay's throughput on kfake: it reads records written the way
// the poller writes them (values of ~120 bytes in transactions of 1,000), one full replay
// per iteration, and reports records/s.
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	c, addrs := newCluster(b)
	if err := c.CreateTopic("t", 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
		b.Fatal(err)
	}
	txn := newClient(b, addrs, kgo.TransactionalID("bench"), kgo.ProducerBatchMaxBytes(1<<20))
	value := []byte(strings.Repeat("v", 120))
	batch := make([]*kgo.Record, 0, 1000)
	for i := 0; i < *replayRecords; i++ {
		batch = append(batch, &kgo.Record{Topic: "t", Key: fmt.Appendf(nil, "key-%08d", i), Value: value})
		if len(batch) == cap(batch) || i == *replayRecords-1 {
			produceTxn(b, txn, true, batch...)
			batch = batch[:0]
		}
	}
	cl := newClient(b, addrs, ReplayOpts()...)
	total := 0
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := Replay(ctx, cl, []string{"t"}, func(*kgo.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != *replayRecords {
			b.Fatalf("replayed %d records, want %d", n, *replayRecords)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}
