package sinktest

import (
	"context"
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/sinks"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestMemory runs the suite on the reference store, which checks the suite itself.
func TestMemory(t *testing.T) {
	Run(t, func(t *testing.T) Store {
		m := NewMemory()
		return Store{
			Open: func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink {
				return m.Sink(beforeCommit)
			},
			Rows:        func(*testing.T) Rows { return m.Rows() },
			DeadLetters: func(_ *testing.T, group string) []sinks.DeadLetter { return m.DeadLetters(group) },
		}
	})
}
