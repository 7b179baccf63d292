package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keycdc/keycdc/checkpoint"
	"github.com/keycdc/keycdc/poller"
	"github.com/keycdc/keycdc/topics"
)

func cmdStatus(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("status", e)
	c, err := commandConfig(fs, e, args, needKafka)
	if err != nil {
		return err
	}
	if len(c.Keycloak.Realms) == 0 {
		return fmt.Errorf("keycloak.realms: list the realms to report on")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return printStatus(ctx, c, e.stdout, time.Now())
}

// printStatus reports, per realm, the checkpoint (event watermarks, last full scan, last
// commit) and, per table, the topic's offsets: what Kafka holds, read from Kafka alone.
func printStatus(ctx context.Context, c *config, w io.Writer, now time.Time) error {
	tables, err := tablesOf(c.Sync.Tables)
	if err != nil {
		return err
	}
	base, err := kafkaOpts(c)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(base, checkpoint.LoadOpts()...)...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cpTopic := topics.CheckpointTopic(c.Kafka.TopicPrefix)
	existing, err := adm.ListTopics(ctx, cpTopic)
	if err != nil {
		return fmt.Errorf("kafka: cannot reach brokers %v: %w; check kafka.brokers, kafka.tls and kafka.sasl", c.Kafka.Brokers, err)
	}
	entries := map[string]checkpoint.Entry{}
	if existing.Has(cpTopic) && existing[cpTopic].Err == nil {
		if entries, err = checkpoint.NewStore(cl, cpTopic).All(ctx); err != nil {
			return err
		}
	}
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second))
	}
	ms := func(v int64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	realms := append([]string(nil), c.Keycloak.Realms...)
	sort.Strings(realms)
	for _, realm := range realms {
		fmt.Fprintf(w, "realm %s\n", realm)
		entry, ok := entries[realm]
		if !ok {
			fmt.Fprintf(w, "  no checkpoint in %s: keycdc has not committed anything for this realm yet\n", cpTopic)
		} else {
			pos, err := poller.ParsePosition(entry.Position)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "  last commit           %s\n", ago(entry.Time))
			fmt.Fprintf(w, "  last full scan start  %s\n", ago(ms(pos.LastFullScan)))
			fmt.Fprintf(w, "  user events up to     %s\n", ago(ms(pos.Events.Watermark)))
			fmt.Fprintf(w, "  admin events up to    %s\n", ago(ms(pos.AdminEvents.Watermark)))
			if pos.Instance != "" {
				fmt.Fprintf(w, "  written by instance   %s\n", pos.Instance)
			}
		}
		names := make([]string, 0, len(tables))
		for _, t := range tables {
			names = append(names, topics.Name(c.Kafka.TopicPrefix, realm, t))
		}
		starts, err := adm.ListStartOffsets(ctx, names...)
		if err != nil {
			return fmt.Errorf("list offsets: %w", err)
		}
		ends, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return fmt.Errorf("list offsets: %w", err)
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  table\ttopic\toffsets (records and markers, before compaction)")
		for i, t := range tables {
			var n int64
			missing := false
			ends.Each(func(o kadm.ListedOffset) {
				if o.Topic != names[i] {
					return
				}
				if o.Err != nil {
					missing = true
					return
				}
				if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
					n += o.Offset - s.Offset
				}
			})
			if _, ok := ends[names[i]]; !ok || missing {
				fmt.Fprintf(tw, "  %s\t%s\t(topic missing)\n", t.Name(), names[i])
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", t.Name(), names[i], n)
		}
		tw.Flush()
	}
	return nil
}
