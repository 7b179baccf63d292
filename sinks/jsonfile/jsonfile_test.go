package jsonfile

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/sinktest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// The store passes the sink conformance suite; each sink is opened from the file, as a
// restarted process would, so what the suite checks is what survives a restart.
func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store {
		path := filepath.Join(t.TempDir(), "sink.json")
		open := func(t *testing.T) *Store {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return sinktest.Store{
			Open: func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink {
				return open(t).Sink(beforeCommit)
			},
			Rows:        func(t *testing.T) sinktest.Rows { return sinktest.Rows(open(t).All()) },
			DeadLetters: func(t *testing.T, group string) []sinks.DeadLetter { return open(t).DeadLetterList(group) },
		}
	})
}
