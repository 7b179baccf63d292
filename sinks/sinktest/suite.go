package sinktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
)

// Store is a sink implementation under test together with the store it writes to.
type Store struct {
	// Open returns a new sink writing to the store, as a freshly started process would
	// build it; all sinks Open returns for one Store share the store. When beforeCommit
	// is not nil, the sink calls it in every Apply after writing the whole batch and
	// before making it durable, and an error from it makes Apply fail, return an error
	// wrapping it, and leave the store as it was.
	Open func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink
	// Rows returns the rows the store holds. Required.
	Rows func(t *testing.T) Rows
	// DeadLetters returns the dead letters the store holds for group, in any order; nil
	// if the sink keeps none.
	DeadLetters func(t *testing.T, group string) []sinks.DeadLetter
	// Tables are the tables the sink loads; nil means every table of the catalogue.
	Tables []*schemas.Table
}

// Run runs the conformance suite. newStore is called once per subtest and must return an
// empty store of its own. Subtests run one after the other; the sinks must clean up
// through t.Cleanup.
//
// The suite checks, through Apply and through a Runner reading a kfake cluster with an
// srfake registry: rows equal what the changes leave behind; the last change of a row
// in a batch wins; tombstones delete; replays and re-deliveries are idempotent; rows,
// positions and dead letters commit together or not at all; a batch whose positions do
// not follow the stored ones is refused (sinks.OffsetStore only); new columns of a newer
// writer and missing ones of an older writer are accepted; and a crash or a hard stop in
// the middle of a batch loses and doubles nothing.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Upserts", testUpserts},
		{"LastChangeWins", testLastChangeWins},
		{"Tombstones", testTombstones},
		{"ReplayIdempotent", testReplay},
		{"RowsAndOffsetsCommitTogether", testAtomic},
		{"PositionMoved", testPositionMoved},
		{"DeadLetters", testDeadLetters},
		{"SchemaEvolution", testEvolution},
		{"Runner", testRunner},
		{"CrashMidBatch", testCrash},
		{"HardStopMidBatch", testHardStop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s.Open == nil || s.Rows == nil {
				t.Fatal("sinktest: Store.Open and Store.Rows are required")
			}
			if s.Tables == nil {
				s.Tables = schemas.Tables()
			}
			tc.fn(t, s)
		})
	}
}

var realms = []string{"acme", "Ünïcode realm/1"}

const group = "sinktest"

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustApply applies b and records it in f.
func mustApply(t *testing.T, s sinks.Sink, f *feed, b sinks.Batch) {
	t.Helper()
	if err := s.Apply(ctxFor(t), b); err != nil {
		t.Fatalf("apply batch of %d changes: %v", len(b.Changes), err)
	}
	f.committed(b)
}

// checkRows compares what the store holds with want.
func checkRows(t *testing.T, s Store, want Rows) {
	t.Helper()
	if d := diff(want, s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("rows differ from what the changes leave behind:\n%s", d)
	}
}

// checkOffsets compares what an OffsetStore holds for f's group with what f expects.
func checkOffsets(t *testing.T, sink sinks.Sink, f *feed) {
	t.Helper()
	st, ok := sink.(sinks.OffsetStore)
	if !ok {
		return
	}
	topicSet := map[string]bool{}
	for tp := range f.next {
		topicSet[tp.Topic] = true
	}
	got, err := st.Offsets(ctxFor(t), f.group, slices.Sorted(maps.Keys(topicSet)))
	if err != nil {
		t.Fatalf("offsets: %v", err)
	}
	if !maps.Equal(got, f.stored) {
		t.Fatalf("stored offsets of group %q:\n got  %v\n want %v", f.group, got, f.stored)
	}
}

// inBatches applies changes in batches of n.
func inBatches(t *testing.T, s sinks.Sink, f *feed, changes []sinks.Change, n int) {
	t.Helper()
	for i := 0; i < len(changes); i += n {
		mustApply(t, s, f, f.batch(changes[i:min(i+n, len(changes))]))
	}
}

func clone(changes []sinks.Change) []sinks.Change { return append([]sinks.Change(nil), changes...) }

func testUpserts(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	g := newGenerator(1, realms, s.Tables, 1000) // a large key pool: nearly all inserts
	f := newFeed(group)
	changes := g.changes(400)
	inBatches(t, sink, f, changes, 100)
	checkRows(t, s, fold(changes))
	checkOffsets(t, sink, f)
	// A sink opened later reads the same store.
	checkOffsets(t, s.Open(t, nil), f)
}

func testLastChangeWins(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	g := newGenerator(2, realms, s.Tables, 3) // three keys per table: each changes many times
	f := newFeed(group)
	changes := g.changes(300)
	mustApply(t, sink, f, f.batch(clone(changes)))
	checkRows(t, s, fold(changes))
	more := g.changes(300)
	inBatches(t, sink, f, clone(more), 37)
	checkRows(t, s, fold(append(changes, more...)))
	checkOffsets(t, sink, f)
}

func testTombstones(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	g := newGenerator(3, realms, s.Tables, 100)
	f := newFeed(group)
	tab := s.Tables[0]
	src := sinks.Source{Realm: realms[0], Table: tab}
	up := func(i int) sinks.Change {
		k := g.keyRow(tab, i)
		return sinks.Change{Source: src, Key: k, Value: g.upsert(tab, k)}
	}
	del := func(i int) sinks.Change { return sinks.Change{Source: src, Key: g.keyRow(tab, i)} }
	other := sinks.Change{Source: sinks.Source{Realm: realms[1], Table: tab}, Key: g.keyRow(tab, 0)}
	other.Value = g.upsert(tab, other.Key) // same key in another realm: must survive the deletes

	var history []sinks.Change
	step := func(cs ...sinks.Change) {
		t.Helper()
		history = append(history, cs...)
		mustApply(t, sink, f, f.batch(clone(cs)))
		checkRows(t, s, fold(history))
	}
	var first []sinks.Change
	for i := range 10 {
		first = append(first, up(i))
	}
	step(append(first, other)...)
	step(del(0), del(1), del(2), del(3), del(4), del(99)) // 99 never existed
	if n := len(s.Rows(t)[realms[0]][tab.Name()]); n != 5 {
		t.Fatalf("after deleting 5 of 10 rows, %d remain", n)
	}
	step(up(0), del(0), del(5), up(5), up(6), up(6), del(7), del(7), up(1), del(1), up(1))
	step(del(5), del(6), del(8), del(9), del(1), del(2))
	checkOffsets(t, sink, f)
}

func testReplay(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	g := newGenerator(4, realms, s.Tables, 20)
	f := newFeed(group)
	history := g.changes(400)
	inBatches(t, sink, f, clone(history), 25)
	want := fold(history)
	checkRows(t, s, want)

	// The same changes delivered again, as the poller may write them after a restart.
	inBatches(t, sink, f, clone(history), 40)
	checkRows(t, s, want)
	checkOffsets(t, sink, f)

	// Another group loading the same store from the start.
	f2 := newFeed(group + "-2")
	inBatches(t, s.Open(t, nil), f2, clone(history), 70)
	checkRows(t, s, want)
	checkOffsets(t, sink, f2)
	checkOffsets(t, sink, f)

	// Without stored positions, the very same batch may come twice.
	if _, ok := sink.(sinks.OffsetStore); !ok {
		b := newFeed(group + "-3").batch(clone(history[:50]))
		for range 2 {
			if err := sink.Apply(ctxFor(t), b); err != nil {
				t.Fatal(err)
			}
		}
		checkRows(t, s, want)
	}
}

var errInjected = errors.New("sinktest: injected failure before commit")

func testAtomic(t *testing.T, s Store) {
	fail := false
	calls := 0
	sink := s.Open(t, func(context.Context) error {
		calls++
		if fail {
			return errInjected
		}
		return nil
	})
	g := newGenerator(5, realms, s.Tables, 30)
	f := newFeed(group)
	h1 := g.changes(200)
	mustApply(t, sink, f, f.batch(clone(h1), deadLetter(s.Tables[0], "first")))
	if calls == 0 {
		t.Fatal("the sink did not call beforeCommit")
	}
	before := s.Rows(t)
	var deadBefore []sinks.DeadLetter
	if s.DeadLetters != nil {
		deadBefore = s.DeadLetters(t, group)
	}

	fail = true
	h2 := g.changes(200)
	stored := maps.Clone(f.stored)
	b2 := f.batch(clone(h2), deadLetter(s.Tables[0], "second"))
	saved := &feed{group: group, next: f.next, stored: stored}
	err := sink.Apply(ctxFor(t), b2)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Apply with a failure before commit returned %v, want an error wrapping %v", err, errInjected)
	}
	if d := diff(before, s.Rows(t), s.Tables, nil); d != "" {
		t.Fatalf("a failed Apply left rows behind:\n%s", d)
	}
	checkOffsets(t, sink, saved)
	checkOffsets(t, s.Open(t, nil), saved)
	if s.DeadLetters != nil {
		if got := s.DeadLetters(t, group); len(got) != len(deadBefore) {
			t.Fatalf("a failed Apply left dead letters behind: %d before, %d after", len(deadBefore), len(got))
		}
	}

	fail = false
	mustApply(t, sink, f, b2)
	checkRows(t, s, fold(append(h1, h2...)))
	checkOffsets(t, sink, f)
	if s.DeadLetters != nil {
		if got := s.DeadLetters(t, group); len(got) != len(deadBefore)+1 {
			t.Fatalf("after the retried Apply: %d dead letters, want %d", len(got), len(deadBefore)+1)
		}
	}
}

func deadLetter(t *schemas.Table, reason string) sinks.DeadLetter {
	return sinks.DeadLetter{Source: sinks.Source{Realm: realms[0], Table: t}, Key: []byte{0, 0, 0, 0, 9, 1, 2},
		Value: []byte("not avro \x00\xff"), Reason: reason}
}

func testPositionMoved(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	if _, ok := sink.(sinks.OffsetStore); !ok {
		t.Skip("the sink does not store positions")
	}
	g := newGenerator(6, realms, s.Tables, 30)
	f := newFeed(group)
	h := g.changes(100)
	mustApply(t, sink, f, f.batch(clone(h)))
	want := fold(h)

	// The last batch again, as after a commit whose outcome was lost: nothing to do.
	last := f.batch(clone(g.changes(10)))
	mustApply(t, sink, f, last)
	want = fold(append(h, last.Changes...))
	if err := sink.Apply(ctxFor(t), last); err != nil {
		t.Fatalf("applying a batch whose positions are all stored again: %v, want nil", err)
	}
	checkRows(t, s, want)
	checkOffsets(t, sink, f)

	refused := func(b sinks.Batch, what string) {
		t.Helper()
		err := sink.Apply(ctxFor(t), b)
		if !errors.Is(err, sinks.ErrPositionMoved) {
			t.Fatalf("%s: Apply returned %v, want an error wrapping sinks.ErrPositionMoved", what, err)
		}
		checkRows(t, s, want)
	}
	for _, tc := range []struct {
		what string
		prev func(stored int64, ok bool) int64
	}{
		{"prev behind the stored offset", func(n int64, ok bool) int64 { return n - 1 }},
		{"prev ahead of the stored offset", func(n int64, ok bool) int64 { return n + 1 }},
		{"prev -1 though an offset is stored", func(n int64, ok bool) int64 { return -1 }},
	} {
		next := maps.Clone(f.next)
		b := f.batch(clone(g.changes(20)))
		f.next = next // the refused batch's offsets are not used up
		moved := false
		for i, p := range b.Positions {
			if n, ok := f.stored[p.TopicPartition]; ok && !moved {
				b.Positions[i].Prev = tc.prev(n, ok)
				moved = true
			}
		}
		if !moved {
			t.Fatal("sinktest: no stored partition in the batch")
		}
		refused(b, tc.what)
	}
	// A partition the sink holds nothing for must be read from the start.
	b := f.batch(clone(g.changes(5)))
	b.Positions = append(b.Positions, sinks.Position{TopicPartition: sinks.TopicPartition{Topic: "sinktest.never", Partition: 0}, Prev: 7, Next: 9})
	refused(b, "prev 7 on a partition without a stored offset")
	checkOffsets(t, sink, &feed{group: group, next: f.next, stored: f.stored})
}

func testDeadLetters(t *testing.T, s Store) {
	if s.DeadLetters == nil {
		t.Skip("the sink keeps no dead letters")
	}
	sink := s.Open(t, nil)
	g := newGenerator(7, realms, s.Tables, 30)
	f := newFeed(group)
	d1 := deadLetter(s.Tables[0], "malformed record: magic byte is 0x7b")
	d2 := sinks.DeadLetter{Source: sinks.Source{Realm: realms[1], Table: s.Tables[len(s.Tables)-1]}, Key: []byte{},
		Reason: "tombstone with an empty key"}
	h := g.changes(50)
	b := f.batch(clone(h), d1, d2)
	mustApply(t, sink, f, b)
	checkRows(t, s, fold(h))
	got := s.DeadLetters(t, group)
	if len(got) != 2 {
		t.Fatalf("%d dead letters stored, want 2: %+v", len(got), got)
	}
	for _, want := range b.DeadLetters {
		found := false
		for _, d := range got {
			if d.TopicPartition == want.TopicPartition && d.Offset == want.Offset {
				found = true
				if !bytes.Equal(d.Key, want.Key) || !bytes.Equal(d.Value, want.Value) || d.Reason != want.Reason ||
					(d.Value == nil) != (want.Value == nil) {
					t.Errorf("dead letter %s@%d stored as %+v, want %+v", want.TopicPartition, want.Offset, d, want)
				}
			}
		}
		if !found {
			t.Errorf("dead letter %s@%d not stored", want.TopicPartition, want.Offset)
		}
	}
	if c, ok := sink.(sinks.DeadLetterCounter); ok {
		n, err := c.DeadLetters(ctxFor(t), group)
		if err != nil || n != 2 {
			t.Fatalf("DeadLetters count = %d, %v; want 2", n, err)
		}
		if n, err := c.DeadLetters(ctxFor(t), "another group"); err != nil || n != 0 {
			t.Fatalf("dead letters of another group = %d, %v; want 0", n, err)
		}
	}
	checkOffsets(t, sink, f)
}

func testEvolution(t *testing.T, s Store) {
	sink := s.Open(t, nil)
	g := newGenerator(8, realms, s.Tables, 30)
	f := newFeed(group)
	tab := s.Tables[0]
	var optional string
	for _, c := range tab.Columns() {
		if c.Optional {
			optional = c.Name
		}
	}
	mk := func(i int, extra schemas.Row, drop string) sinks.Change {
		k := g.keyRow(tab, i)
		v := g.upsert(tab, k)
		maps.Copy(v, extra)
		delete(v, drop)
		return sinks.Change{Source: sinks.Source{Realm: realms[0], Table: tab}, Key: k, Value: v}
	}
	when := time.Date(2031, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
	h := []sinks.Change{
		mk(1, schemas.Row{"sinktest_added_text": "new", "sinktest_added_number": int64(42)}, ""),
		mk(2, schemas.Row{"sinktest_added_text": nil, "sinktest_added_when": when}, ""), // a newer writer's null
		mk(3, nil, optional), // an older writer without an optional column
	}
	mustApply(t, sink, f, f.batch(clone(h)))
	more := []sinks.Change{mk(1, nil, ""), mk(4, schemas.Row{"sinktest_added_text": "again", "sinktest_added_flag": true}, "")}
	mustApply(t, sink, f, f.batch(clone(more)))
	if d := diff(fold(append(h, more...)), s.Rows(t), s.Tables, catalogueColumns); d != "" {
		t.Fatalf("rows differ on the catalogue's columns:\n%s", d)
	}
	checkOffsets(t, sink, f)
}

// fmtPositions is for failure messages.
func fmtPositions(m map[sinks.TopicPartition]int64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b sinks.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	var buf bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s=%d ", k, m[k])
	}
	return buf.String()
}
