package jsonfile

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/schemas"
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
			Rows: func(t *testing.T) sinktest.Rows {
				out := sinktest.Rows{}
				for realm, ts := range open(t).All() {
					out[realm] = map[string]map[string]schemas.Row{}
					for name, rows := range ts {
						tb, _ := schemas.Lookup(name)
						m := map[string]schemas.Row{}
						for _, r := range rows {
							m[sinktest.Key(tb, r)] = r
						}
						out[realm][name] = m
					}
				}
				return out
			},
			DeadLetters: func(t *testing.T, group string) []sinks.DeadLetter { return open(t).DeadLetterList(group) },
		}
	})
}

// Keys whose values contain what a naive separator would be stay apart.
func TestRowKeysAreUnambiguous(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "sink.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := sinks.Source{Realm: "acme", Table: schemas.UserAttribute}
	row := func(k, v string) schemas.Row {
		return schemas.Row{"user_id": "u1", "attribute_key": k, "attribute_value": v}
	}
	a, b := row("dept\x1fx", "y"), row("dept", "x\x1fy")
	tp := sinks.TopicPartition{Topic: "keycloak.acme.user_attribute"}
	batch := sinks.Batch{Group: "g", Changes: []sinks.Change{
		{Source: src, Key: a, Value: a, TopicPartition: tp, Offset: 0},
		{Source: src, Key: b, Value: b, TopicPartition: tp, Offset: 1},
	}, Positions: []sinks.Position{{TopicPartition: tp, Prev: -1, Next: 2}}}
	if err := s.Sink(nil).Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Rows("acme", "user_attribute")); got != 2 {
		t.Fatalf("store holds %d rows, want 2", got)
	}
}
