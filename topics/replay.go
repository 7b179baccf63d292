package topics

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keycdc/keycdc/internal/committed"
)

// ReplayOpts are the consumer options a client given to Replay must have: read_committed
// isolation, so that records of aborted or open transactions are never seen, and kept
// control records, so that Replay sees the transaction markers that may end a partition.
// Build the client with them (and no ConsumeTopics, ConsumePartitions, ConsumeRegex or
// ConsumerGroup): kgo.NewClient(append(connOpts, topics.ReplayOpts()...)...).
func ReplayOpts() []kgo.Opt { return committed.ClientOpts() }

// Replay reads every partition of topics from its start up to its last stable offset (LSO)
// as of the call, calling fn for each data record in offset order per partition
// (partitions interleave), then returns. Only committed records reach fn: records of
// aborted transactions are skipped, and the LSO stops before any transaction still open.
// Control records (transaction markers) are not passed to fn. An error from fn stops
// Replay and is returned as is.
//
// Empty topics (start = LSO) return at once, and a partition that ends in transaction
// markers does not hang. Records of a transaction open at the call are not read and not
// waited for, with one exception: if compaction removed the committed records just below
// the LSO, Replay waits for that transaction to end.
//
// cl must be a dedicated reading client, configured with ReplayOpts and not consuming
// anything else; Replay checks, since a misconfigured client would give a silently wrong
// answer or hang. Replay assigns itself the partitions and purges them from consuming
// before it returns, so the client can serve later Replays (one at a time, never
// concurrently) and checkpoint.Store, and may also produce. A missing topic is an error.
func Replay(ctx context.Context, cl *kgo.Client, topics []string, fn func(*kgo.Record) error) error {
	var fnErr error
	err := committed.Read(ctx, cl, topics, committed.StableOffset, func(r *kgo.Record) error {
		fnErr = fn(r)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	}
	return fmt.Errorf("replay %v: %w", topics, err)
}
