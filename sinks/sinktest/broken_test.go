package sinktest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/sinks"
)

// broken are sinks with one defect each, and the subtest of the suite that must catch it.
var broken = map[string]struct {
	catches string
	wrap    func(m *Memory, s *MemorySink) sinks.Sink
}{
	"no-deletes": {"Tombstones", func(m *Memory, s *MemorySink) sinks.Sink {
		return applyFunc(s, func(ctx context.Context, b sinks.Batch) error {
			var keep []sinks.Change
			for _, c := range b.Changes {
				if c.Value != nil {
					keep = append(keep, c)
				}
			}
			b.Changes = keep
			return s.Apply(ctx, b)
		})
	}},
	"first-change-wins": {"LastChangeWins", func(m *Memory, s *MemorySink) sinks.Sink {
		return applyFunc(s, func(ctx context.Context, b sinks.Batch) error {
			rev := make([]sinks.Change, len(b.Changes))
			for i, c := range b.Changes {
				rev[len(rev)-1-i] = c
			}
			b.Changes = rev
			return s.Apply(ctx, b)
		})
	}},
	"offsets-without-rows": {"RowsAndOffsetsCommitTogether", func(m *Memory, s *MemorySink) sinks.Sink {
		return applyFunc(s, func(ctx context.Context, b sinks.Batch) error {
			err := s.Apply(ctx, b)
			if err != nil { // store the positions anyway
				_ = m.Sink(nil).Apply(ctx, sinks.Batch{Group: b.Group, Positions: b.Positions})
			}
			return err
		})
	}},
	"ignores-prev": {"PositionMoved", func(m *Memory, s *MemorySink) sinks.Sink {
		return applyFunc(s, func(ctx context.Context, b sinks.Batch) error {
			stored, _ := s.Offsets(ctx, b.Group, topicsOf(b))
			for i, p := range b.Positions {
				if n, ok := stored[p.TopicPartition]; ok {
					b.Positions[i].Prev = n
				} else {
					b.Positions[i].Prev = -1
				}
			}
			return s.Apply(ctx, b)
		})
	}},
	"drops-dead-letters": {"DeadLetters", func(m *Memory, s *MemorySink) sinks.Sink {
		return applyFunc(s, func(ctx context.Context, b sinks.Batch) error {
			b.DeadLetters = nil
			return s.Apply(ctx, b)
		})
	}},
	"loses-a-batch-after-a-crash": {"CrashMidBatch", func(m *Memory, s *MemorySink) sinks.Sink {
		return &lossy{MemorySink: s, m: m}
	}},
}

// applyFunc is a sink of the Memory store whose Apply is fn.
type applyFuncSink struct {
	*MemorySink
	fn func(context.Context, sinks.Batch) error
}

func (a applyFuncSink) Apply(ctx context.Context, b sinks.Batch) error { return a.fn(ctx, b) }

func applyFunc(s *MemorySink, fn func(context.Context, sinks.Batch) error) sinks.Sink {
	return applyFuncSink{s, fn}
}

// lossy stores the positions of a batch whose Apply failed, but only when a Runner
// applies it after a restart: the rows of that batch are lost.
type lossy struct {
	*MemorySink
	m *Memory
}

func (l *lossy) Apply(ctx context.Context, b sinks.Batch) error {
	err := l.MemorySink.Apply(ctx, b)
	if err != nil && len(b.Changes) > 0 && b.Changes[0].Offset > 0 {
		_ = l.m.Sink(nil).Apply(ctx, sinks.Batch{Group: b.Group, Positions: b.Positions})
	}
	return err
}

func topicsOf(b sinks.Batch) []string {
	var out []string
	for _, p := range b.Positions {
		out = append(out, p.Topic)
	}
	return out
}

// TestBrokenSinks checks that the suite fails each broken sink in the subtest meant to
// catch its defect, by running the suite on it in a child process.
func TestBrokenSinks(t *testing.T) {
	if name := os.Getenv("SINKTEST_BROKEN"); name != "" {
		b := broken[name]
		Run(t, func(t *testing.T) Store {
			m := NewMemory()
			return Store{
				Open: func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink {
					return b.wrap(m, m.Sink(beforeCommit))
				},
				Rows:        func(*testing.T) Rows { return m.Rows() },
				DeadLetters: func(_ *testing.T, group string) []sinks.DeadLetter { return m.DeadLetters(group) },
			}
		})
		return
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenSinks$/^"+b.catches+"$", "-test.v")
			cmd.Env = append(os.Environ(), "SINKTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a sink with the defect %q:\n%s", name, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenSinks/"+b.catches+" ") {
				t.Fatalf("the suite did not fail %q in %s:\n%s", name, b.catches, out)
			}
		})
	}
}
