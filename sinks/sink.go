package sinks

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/keycdc/keycdc/schemas"
)

// Sink loads batches of changes into a warehouse or another system.
//
// Apply must be atomic: when it returns nil, every change, dead letter and (for an
// OffsetStore) every position of the batch is durable; when it returns an error, none of
// them is, as if the batch had never been applied. A batch may be applied again after a
// failure, and the same changes may arrive again in a later batch (the poller may write a
// row twice), so applying must be idempotent. The Runner calls Apply from one goroutine,
// one batch at a time, and never reuses a Batch after the call.
type Sink interface {
	Apply(ctx context.Context, b Batch) error
}

// OffsetStore is implemented by sinks that store their position together with their data:
// Apply writes each Position's Next in the same transaction as the rows, after checking
// that the stored offset is Prev (ErrPositionMoved otherwise). A batch whose every
// partition already stands at its Next was applied before, by an attempt whose outcome
// was lost (the connection broke during the commit, say): Apply returns nil for it and
// changes nothing. The Runner then
// seeks to these offsets whenever it is assigned partitions, instead of to the offsets
// committed to Kafka, which it writes only for monitoring. This is what makes a sink
// exactly once.
//
// Offsets returns, for the consumer group, the stored next offset of every partition of the
// given topics it has one for. It may be called concurrently with Apply (for partitions
// that are not in the batch being applied).
type OffsetStore interface {
	Offsets(ctx context.Context, group string, topics []string) (map[TopicPartition]int64, error)
}

// DeadLetterCounter is implemented by sinks that keep dead letters. The Runner counts
// from the number stored when it starts, so that its limit holds across restarts: a sink
// that stopped at the limit stops again until an operator deals with the dead letters.
type DeadLetterCounter interface {
	DeadLetters(ctx context.Context, group string) (int64, error)
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

// Source is what one topic carries: one table of one realm. A realm cannot be recovered
// from a topic name (topics.Name replaces some characters), so the Runner is told the
// source of every topic it reads.
type Source struct {
	Realm string
	Table *schemas.Table
}

// Change is one decoded record: the row of Table in Realm with the given key, or its
// deletion. Key and Value hold the columns the record was written with (see schemas.Row):
// a newer writer may add columns, an older one may lack some.
type Change struct {
	Source
	Key   schemas.Row
	Value schemas.Row // nil: the row was deleted (the record is a tombstone)
	TopicPartition
	Offset int64
}

// Delete reports whether the change deletes its row.
func (c Change) Delete() bool { return c.Value == nil }

// DeadLetter is a record that can never be decoded or applied, kept with the reason so an
// operator can look at it. Source is the topic's realm and table.
type DeadLetter struct {
	Source
	TopicPartition
	Offset     int64
	Key, Value []byte // the record as read from Kafka
	Reason     string
}

// Position is how far a batch moves one partition.
type Position struct {
	TopicPartition
	// Prev is the offset the sink held for the partition when the batch was read: the Next
	// of the previous batch, or what was loaded when the partition was assigned; -1 if
	// there was none. An OffsetStore must refuse the batch with ErrPositionMoved when its
	// stored offset is not Prev: another consumer has written the partition since.
	Prev int64
	// Next is the offset of the first record after the batch.
	Next int64
}

// Batch is what Apply receives: the changes read from some partitions, in offset order
// within each partition, the records that go to the dead-letter store instead, and the
// position of each partition the batch covers. Several changes may concern one row; the
// last one wins (see Latest). Group is the consumer group, under which positions and dead
// letters are stored.
type Batch struct {
	Group       string
	Changes     []Change
	DeadLetters []DeadLetter
	Positions   []Position // sorted by topic, then partition
}

// Latest returns the indexes in Changes of the last change of every row of the batch,
// in the order of the rows' first changes, so that a sink applying them in one statement
// never touches a row twice. Rows are the same when realm, table and every key column
// are equal.
func (b Batch) Latest() []int {
	index := make(map[string]int, len(b.Changes))
	out := make([]int, 0, len(b.Changes))
	keys := map[*schemas.Table][]string{}
	var key []byte
	for i, c := range b.Changes {
		kc, ok := keys[c.Table]
		if !ok {
			kc = c.Table.KeyColumns()
			keys[c.Table] = kc
		}
		key = rowKey(key[:0], c.Realm, c.Table.Name(), kc, c.Key)
		if j, ok := index[string(key)]; ok {
			out[j] = i
			continue
		}
		index[string(key)] = len(out)
		out = append(out, i)
	}
	return out
}

// RowKey returns the canonical, unambiguous identity of a row of t in realm (see rowKey),
// for sinks that keep rows in a map.
func RowKey(realm string, t *schemas.Table, key schemas.Row) string {
	return string(rowKey(nil, realm, t.Name(), t.KeyColumns(), key))
}

// rowKey appends a canonical, unambiguous form of a row's identity (realm, table and its
// key columns in key order) to b: each part is length-prefixed, so no value can be
// mistaken for a separator.
func rowKey(b []byte, realm, table string, keyColumns []string, key schemas.Row) []byte {
	part := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	part(realm)
	part(table)
	for _, c := range keyColumns {
		switch v := key[c].(type) {
		case string:
			part(v)
		default:
			part(fmt.Sprintf("%T:%v", v, v))
		}
	}
	return b
}

// ErrPositionMoved is returned, wrapped, by an OffsetStore's Apply when a partition's
// stored offset is not the batch's Prev: another consumer of the group wrote the
// partition after this one last read it (this one was, for example, dropped from the group
// for being too slow). Nothing of the batch was applied. The Runner stops on it.
var ErrPositionMoved = errors.New("the stored offset moved: another consumer of the group has written this partition")

// RejectError is returned by Apply when some changes can never be applied (a value the
// warehouse cannot store, a column whose type conflicts with the stored one ...). Apply
// wrote nothing; the Runner moves the rejected changes to the batch's dead letters, with
// the reasons given, and applies the batch again. Other errors mean the whole batch failed
// and may be retried as it is.
type RejectError struct {
	Rejects []Reject
}

// Reject is one rejected change: its index in Batch.Changes and why.
type Reject struct {
	Index  int
	Reason string
}

func (e *RejectError) Error() string {
	switch len(e.Rejects) {
	case 0:
		return "no change rejected"
	case 1:
		return "1 change rejected: " + e.Rejects[0].Reason
	}
	return fmt.Sprintf("%d changes rejected, the first: %s", len(e.Rejects), e.Rejects[0].Reason)
}
