package sinktest

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
)

// Memory is a store that keeps rows, positions and dead letters in memory. Its sinks
// implement sinks.OffsetStore and sinks.DeadLetterCounter and pass the suite: Memory is the
// reference for what the suite expects of a sink, and a sink for tests of the code around
// sinks. It is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	rows    Rows
	offsets map[string]map[sinks.TopicPartition]int64    // group → partition → next offset
	dead    map[string]map[deadLetterID]sinks.DeadLetter // group → ...
}

type deadLetterID struct {
	sinks.TopicPartition
	Offset int64
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{rows: Rows{}, offsets: map[string]map[sinks.TopicPartition]int64{},
		dead: map[string]map[deadLetterID]sinks.DeadLetter{}}
}

// Sink returns a sink writing to m. If beforeCommit is not nil, every Apply calls it after
// preparing the new state and before installing it, and fails without changing anything
// if it returns an error.
func (m *Memory) Sink(beforeCommit func(context.Context) error) *MemorySink {
	return &MemorySink{m: m, beforeCommit: beforeCommit}
}

// MemorySink is a sink of a Memory store.
type MemorySink struct {
	m            *Memory
	beforeCommit func(context.Context) error
}

// Apply applies b atomically: positions are checked first (sinks.ErrPositionMoved), then
// the new rows, positions and dead letters are installed together.
func (s *MemorySink) Apply(ctx context.Context, b sinks.Batch) error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	offsets := maps.Clone(m.offsets[b.Group])
	if offsets == nil {
		offsets = map[sinks.TopicPartition]int64{}
	}
	applied := len(b.Positions) > 0
	for _, p := range b.Positions {
		if n, ok := offsets[p.TopicPartition]; !ok || n != p.Next {
			applied = false
		}
	}
	if applied {
		return nil // an earlier attempt committed it
	}
	for _, p := range b.Positions {
		stored, ok := offsets[p.TopicPartition]
		if !ok {
			stored = -1
		}
		if stored != p.Prev {
			return fmt.Errorf("%s: stored %d, batch read from %d: %w", p.TopicPartition, stored, p.Prev, sinks.ErrPositionMoved)
		}
		offsets[p.TopicPartition] = p.Next
	}
	rows := m.rows.clone()
	for _, i := range b.Latest() {
		rows.apply(b.Changes[i])
	}
	dead := maps.Clone(m.dead[b.Group])
	if dead == nil {
		dead = map[deadLetterID]sinks.DeadLetter{}
	}
	for _, d := range b.DeadLetters {
		id := deadLetterID{d.TopicPartition, d.Offset}
		if _, ok := dead[id]; !ok {
			dead[id] = d
		}
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.rows, m.offsets[b.Group], m.dead[b.Group] = rows, offsets, dead
	return nil
}

// Offsets returns the stored next offsets of group for the partitions of topics.
func (s *MemorySink) Offsets(_ context.Context, group string, topics []string) (map[sinks.TopicPartition]int64, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	out := map[sinks.TopicPartition]int64{}
	for tp, n := range s.m.offsets[group] {
		if want[tp.Topic] {
			out[tp] = n
		}
	}
	return out, nil
}

// DeadLetters counts the dead letters of group.
func (s *MemorySink) DeadLetters(_ context.Context, group string) (int64, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return int64(len(s.m.dead[group])), nil
}

// Rows returns a copy of the rows m holds.
func (m *Memory) Rows() Rows {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows.clone()
}

// DeadLetters returns the dead letters of group, ordered by topic, partition and offset.
func (m *Memory) DeadLetters(group string) []sinks.DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sinks.DeadLetter, 0, len(m.dead[group]))
	for _, d := range m.dead[group] {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return out
}

func (r Rows) clone() Rows {
	out := make(Rows, len(r))
	for realm, ts := range r {
		o := make(map[string]map[string]schemas.Row, len(ts))
		for t, rows := range ts {
			o[t] = maps.Clone(rows)
		}
		out[realm] = o
	}
	return out
}
