package topics

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReplayOpts are the consumer options a client given to Replay must have: read_committed
// isolation, so that records of aborted or open transactions are never seen, and kept
// control records, so that Replay sees the transaction markers that may end a partition.
// Build the client with them (and no ConsumeTopics, ConsumePartitions, ConsumeRegex or
// ConsumerGroup): kgo.NewClient(append(connOpts, topics.ReplayOpts()...)...).
func ReplayOpts() []kgo.Opt {
	return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}
}

// Replay reads every partition of topics from its start up to its last stable offset (LSO)
// as of the call, calling fn for each data record in offset order per partition
// (partitions interleave), then returns. Only committed records reach fn: records of
// aborted transactions are skipped, and the LSO stops before any transaction still open.
// Control records (transaction markers) are not passed to fn. An error from fn stops
// Replay and is returned as is.
//
// Empty topics (start = LSO) return at once. A partition is done once a record (data or
// marker) at or beyond LSO-1 has been read, so a partition that ends in markers does not
// hang. If a transaction was open at the call, its records past the LSO are not read; if
// in addition the last committed records before the LSO were removed by compaction, Replay
// waits for that transaction to end (the marker then ends the partition).
//
// cl must be a client configured with ReplayOpts and not consuming anything else: Replay
// assigns itself the partitions with AddConsumePartitions and purges them from consuming before
// returning, so the client can be reused for later, not concurrent, Replays (and may also
// be used for producing). A misconfigured client is an error, not a silent wrong answer.
// A missing topic is an error.
func Replay(ctx context.Context, cl *kgo.Client, topics []string, fn func(*kgo.Record) error) error {
	if err := checkReplayClient(cl); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	adm := kadm.NewClient(cl) // a view of cl; closing it would close cl, so it is not closed
	starts, err := listed(adm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return fmt.Errorf("replay: list start offsets: %w", err)
	}
	ends, err := listed(adm.ListCommittedOffsets(ctx, topics...))
	if err != nil {
		return fmt.Errorf("replay: list last stable offsets: %w", err)
	}

	// end[t][p] is the LSO of each partition that has records to read.
	end := map[string]map[int32]int64{}
	assign := map[string]map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset <= start.Offset {
			return
		}
		if end[o.Topic] == nil {
			end[o.Topic] = map[int32]int64{}
			assign[o.Topic] = map[int32]kgo.Offset{}
		}
		end[o.Topic][o.Partition] = o.Offset
		assign[o.Topic][o.Partition] = kgo.NewOffset().At(start.Offset)
		remaining++
	})
	if remaining == 0 {
		return nil
	}
	cl.AddConsumePartitions(assign)
	// Removing the partitions drops whatever the client still buffers for them; purging
	// then stops metadata updates for topics only Replay consumed.
	defer cl.PurgeTopicsFromConsuming(topics...)

	for remaining > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("replay %v: %w", topics, err)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if fetchErr == nil {
				fetchErr = fmt.Errorf("replay: fetch topic %s partition %d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		var fnErr error
		done := map[string][]int32{}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			last, ok := end[fp.Topic][fp.Partition]
			if !ok || fnErr != nil {
				return // finished earlier, or fn failed
			}
			for _, r := range fp.Records {
				if r.Offset >= last {
					break
				}
				if !r.Attrs.IsControl() {
					if fnErr = fn(r); fnErr != nil {
						return
					}
				}
				if r.Offset == last-1 {
					break
				}
			}
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset >= last-1 {
				delete(end[fp.Topic], fp.Partition)
				done[fp.Topic] = append(done[fp.Topic], fp.Partition)
				remaining--
			}
		})
		if fnErr != nil {
			return fnErr
		}
		cl.RemoveConsumePartitions(done) // stop fetching what is finished
	}
	return nil
}

// listed turns the per-partition errors of a kadm offset listing into one error, naming a
// missing topic as such.
func listed(offsets kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err != nil {
		return nil, err
	}
	var errs []error
	offsets.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("topic %s does not exist", o.Topic))
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("topic %s partition %d: %w", o.Topic, o.Partition, o.Err))
		}
	})
	return offsets, errors.Join(errs...)
}

// checkReplayClient refuses a client that would make Replay wrong (read_uncommitted would
// pass aborted records) or hang (without control records a partition ending in markers
// never looks finished), or whose own consuming would interfere.
func checkReplayClient(cl *kgo.Client) error {
	var problems []error
	// OptValue gives the isolation level's wire value: 1 is read_committed.
	if level, _ := cl.OptValue(kgo.FetchIsolationLevel).(int8); level != 1 {
		problems = append(problems, errors.New("the client must use kgo.FetchIsolationLevel(kgo.ReadCommitted())"))
	}
	if keep, _ := cl.OptValue(kgo.KeepControlRecords).(bool); !keep {
		problems = append(problems, errors.New("the client must use kgo.KeepControlRecords()"))
	}
	if g, _ := cl.OptValue(kgo.ConsumerGroup).(string); g != "" {
		problems = append(problems, fmt.Errorf("the client must not be in a consumer group (it is in %q)", g))
	}
	ts, _ := cl.OptValue(kgo.ConsumeTopics).(map[string]*regexp.Regexp)
	ps, _ := cl.OptValue(kgo.ConsumePartitions).(map[string]map[int32]kgo.Offset)
	if len(ts) > 0 || len(ps) > 0 {
		problems = append(problems, errors.New("the client must not be configured with ConsumeTopics or ConsumePartitions"))
	}
	if regex, _ := cl.OptValue(kgo.ConsumeRegex).(bool); regex {
		problems = append(problems, errors.New("the client must not use kgo.ConsumeRegex"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("replay: client not usable (build it with topics.ReplayOpts()): %w", errors.Join(problems...))
	}
	return nil
}
