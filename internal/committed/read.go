package committed

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// End is where Read stops in each partition, fixed when it starts.
type End int

const (
	// StableOffset is the last stable offset (LSO): records of transactions still open
	// are not read, and Read never waits for them.
	StableOffset End = iota
	// HighWatermark is the high watermark: every transaction open when Read starts is
	// waited for, so that committed records behind another producer's open transaction
	// are read too.
	HighWatermark
)

// ClientOpts are the options a client given to Read must have: read_committed isolation
// and kept control records (see the package doc).
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}
}

// Read reads every partition of topics from its start to end as of the call, calling fn
// for each committed data record in offset order per partition (partitions interleave),
// and returns once every partition is finished. Control records are not passed to fn. An
// error from fn stops Read and is returned unwrapped. A missing topic is an error.
//
// cl must have ClientOpts and no consuming of its own (no group, ConsumeTopics,
// ConsumePartitions or ConsumeRegex); Read checks. It assigns itself the partitions and
// purges them from consuming before it returns, so cl can serve later Reads, one at a
// time, and may also produce.
//
// A partition is finished when a record at or past end-1 is read. If the committed records
// just below an LSO were removed by compaction, that happens only when the transaction
// holding the LSO ends; Read waits for it.
func Read(ctx context.Context, cl *kgo.Client, topics []string, end End, fn func(*kgo.Record) error) error {
	if err := checkClient(cl); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	adm := kadm.NewClient(cl) // a view of cl; closing it would close cl, so it is not closed
	starts, err := listed(adm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	list, what := adm.ListCommittedOffsets, "last stable offsets"
	if end == HighWatermark {
		list, what = adm.ListEndOffsets, "high watermarks"
	}
	ends, err := listed(list(ctx, topics...))
	if err != nil {
		return fmt.Errorf("list %s: %w", what, err)
	}

	stop := map[string]map[int32]int64{} // the end offset of each partition still to read
	assign := map[string]map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset <= start.Offset {
			return // nothing to read
		}
		if stop[o.Topic] == nil {
			stop[o.Topic] = map[int32]int64{}
			assign[o.Topic] = map[int32]kgo.Offset{}
		}
		stop[o.Topic][o.Partition] = o.Offset
		assign[o.Topic][o.Partition] = kgo.NewOffset().At(start.Offset)
		remaining++
	})
	if remaining == 0 {
		return nil
	}
	cl.AddConsumePartitions(assign)
	defer cl.PurgeTopicsFromConsuming(topics...)

	for remaining > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch topic %s partition %d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		var fnErr error
		finished := map[string][]int32{}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			last, ok := stop[fp.Topic][fp.Partition]
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
			}
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset >= last-1 {
				delete(stop[fp.Topic], fp.Partition)
				finished[fp.Topic] = append(finished[fp.Topic], fp.Partition)
				remaining--
			}
		})
		if fnErr != nil {
			return fnErr
		}
		cl.RemoveConsumePartitions(finished) // stop fetching them
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

// checkClient refuses a client that would make Read wrong (read_uncommitted passes aborted
// records), hang (without control records a partition ending in markers never looks
// finished), or interfere (its own consuming).
func checkClient(cl *kgo.Client) error {
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
	regex, _ := cl.OptValue(kgo.ConsumeRegex).(bool)
	if len(ts) > 0 || len(ps) > 0 || regex {
		problems = append(problems, errors.New("the client must not be configured with ConsumeTopics, ConsumePartitions or ConsumeRegex"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("client not usable for reading committed records: %w", errors.Join(problems...))
	}
	return nil
}
