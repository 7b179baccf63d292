package committed

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The reading itself is tested through its users too: topics (aborted records, markers,
// open transactions, misuse) and checkpoint (the checkpoint topic). This test pins what
// tells the two ends apart.
func TestEnds(t *testing.T) {
	ctx := context.Background()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // registered first, so it runs after the clients close
	if err := c.CreateTopic("t", 1, nil); err != nil {
		t.Fatal(err)
	}
	client := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	a, b := client(kgo.TransactionalID("a")), client(kgo.TransactionalID("b"))
	// a opens a transaction, then b commits one after it: b's record lies behind the LSO.
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := a.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("a")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := b.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	reader := client(ClientOpts()...)
	read := func(ctx context.Context, end End) ([]string, error) {
		var got []string
		err := Read(ctx, reader, []string{"t"}, end, func(r *kgo.Record) error {
			got = append(got, string(r.Value))
			return nil
		})
		return got, err
	}
	if got, err := read(ctx, StableOffset); err != nil || len(got) != 0 {
		t.Errorf("StableOffset: %v, %v; want nothing, at once", got, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if got, err := read(short, HighWatermark); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("HighWatermark with a transaction open: %v, %v; want it to wait", got, err)
	}
	if err := a.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	for _, end := range []End{StableOffset, HighWatermark} {
		if got, err := read(ctx, end); err != nil || !slices.Equal(got, []string{"b"}) {
			t.Errorf("end %d after the abort: %v, %v; want [b]", end, got, err)
		}
	}
}
