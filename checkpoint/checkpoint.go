package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keycdc/keycdc/internal/committed"
)

// Position is where a realm's poller stands. Its content belongs to the poller; this
// package stores and returns it byte for byte.
type Position []byte

// formatV1 is the first byte of every checkpoint record value, followed by the Position.
// It tells a Position apart from a tombstone even when the Position is empty, and lets a
// later format be recognised instead of misread.
const formatV1 byte = 1

// encode is the value of the checkpoint record for pos.
func encode(pos Position) []byte {
	v := make([]byte, 1+len(pos))
	v[0] = formatV1
	copy(v[1:], pos)
	return v
}

// decode is the Position in a checkpoint record value; nil value (a tombstone) is none.
func decode(v []byte) (Position, error) {
	switch {
	case v == nil:
		return nil, nil
	case len(v) == 0:
		return nil, errors.New("checkpoint record value is empty")
	case v[0] != formatV1:
		return nil, fmt.Errorf("checkpoint record has format %d, this keycdc reads format %d (was it written by a newer version?)", v[0], formatV1)
	}
	return Position(append([]byte{}, v[1:]...)), nil
}

// LoadOpts are the consumer options a client given to NewStore must have: read_committed
// isolation, so that only committed checkpoints are seen, and kept control records, so
// that Load sees the transaction markers that may end the topic. Build the client with
// them and no ConsumeTopics, ConsumePartitions, ConsumeRegex or ConsumerGroup. They are
// the same as topics.ReplayOpts, so one client can serve both.
func LoadOpts() []kgo.Opt { return committed.ClientOpts() }

// Store reads checkpoints from the compacted checkpoint topic.
type Store struct {
	cl    *kgo.Client
	topic string
	mu    sync.Mutex // one Load at a time: Load assigns itself the topic's partitions on cl
}

// NewStore returns a Store reading topic through cl, which must be configured with LoadOpts
// and not consume anything else (Load checks). Loads through one Store are serialised;
// do not share cl with other consumers.
func NewStore(cl *kgo.Client, topic string) *Store {
	return &Store{cl: cl, topic: topic}
}

// Load returns the last committed checkpoint for key, or nil and no error if there is none
// (no record, or a tombstone). It reads the whole topic to its high watermark as of the
// call. Records of transactions open at that moment are decided before Load returns: it
// waits for them to end, because the checkpoint topic is shared by every realm, and
// another realm's open transaction holds back the last stable offset, behind which this
// realm's latest committed checkpoint may lie. The wait is bounded by the transaction
// timeout of the other producers. Call Writer.Fence first, so that this realm's own
// abandoned transaction is aborted rather than waited for.
func (s *Store) Load(ctx context.Context, key string) (Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last []byte
	found := false
	err := committed.Read(ctx, s.cl, []string{s.topic}, committed.HighWatermark, func(r *kgo.Record) error {
		if string(r.Key) == key {
			last, found = r.Value, true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %q from %s: %w", key, s.topic, err)
	}
	if !found {
		return nil, nil
	}
	pos, err := decode(last)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %q from %s: %w", key, s.topic, err)
	}
	return pos, nil
}

// Entry is a key's last committed checkpoint and when it was written.
type Entry struct {
	Position Position
	Time     time.Time
}

// All returns the last committed checkpoint of every key in the topic, for status
// reports. It reads like Load.
func (s *Store) All(ctx context.Context) (map[string]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := map[string]*kgo.Record{}
	err := committed.Read(ctx, s.cl, []string{s.topic}, committed.HighWatermark, func(r *kgo.Record) error {
		if r.Value == nil {
			delete(raw, string(r.Key))
		} else {
			raw[string(r.Key)] = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints from %s: %w", s.topic, err)
	}
	out := make(map[string]Entry, len(raw))
	for k, r := range raw {
		pos, err := decode(r.Value)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %q in %s: %w", k, s.topic, err)
		}
		out[k] = Entry{Position: pos, Time: r.Timestamp}
	}
	return out, nil
}

// Writer commits records together with a checkpoint in one Kafka transaction, so that a
// checkpoint is visible exactly when the records it covers are.
//
// Commit is not safe for concurrent use: one Writer per transactional ID, used by one
// goroutine.
type Writer struct {
	cl         *kgo.Client
	topic, key string
	broken     error // set when an abort failed: the client's transaction state is unknown
}

// NewWriter returns a Writer producing through cl, which must be configured with
// kgo.TransactionalID, and writing checkpoints to topic under key (the realm's name).
// The Writer does not own cl; close it after the last Commit.
func NewWriter(cl *kgo.Client, topic, key string) (*Writer, error) {
	vs := cl.OptValues(kgo.TransactionalID)
	if len(vs) < 2 || vs[1] != true {
		return nil, errors.New("checkpoint writer: the client must be configured with kgo.TransactionalID")
	}
	if topic == "" || key == "" {
		return nil, fmt.Errorf("checkpoint writer: topic (%q) and key (%q) must not be empty", topic, key)
	}
	return &Writer{cl: cl, topic: topic, key: key}, nil
}

// Fence initialises the producer ID of the Writer's transactional ID. The broker then
// fences every older producer with the same transactional ID (their next transactional
// request fails and IsFenced reports it) and aborts its open transaction. Run it before
// Store.Load and before reading the topics the Writer produces to, so that what they
// return can no longer change under this Writer.
func (w *Writer) Fence(ctx context.Context) error {
	if _, _, err := w.cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("fence older producers of checkpoint %q: %w", w.key, err)
	}
	return nil
}

// Commit writes recs and the checkpoint pos in one transaction: begin, produce recs,
// produce the checkpoint record, flush, commit. On any error it aborts the transaction,
// so that neither the records nor the checkpoint become visible to read_committed
// readers, and returns the error. If the abort fails too, both errors are returned
// (errors.Join) and every later Commit fails with them: the transaction's state is then
// unknown, and only a new client (and Writer) can go on. pos must not be nil; recs may be
// empty. If IsFenced(err), another instance has taken over the transactional ID: stop, do
// not retry. After any other error the caller should drop its in-memory state, close the
// client, and restart from what Kafka holds with a new client and Writer: a failed
// transaction can leave the client's producer id unusable for good.
//
// Cancelling ctx aborts the transaction; the abort itself runs without ctx's
// cancellation, bounded by the client's own request timeouts.
func (w *Writer) Commit(ctx context.Context, recs []*kgo.Record, pos Position) error {
	if pos == nil {
		return fmt.Errorf("commit checkpoint %q: position is nil", w.key)
	}
	if w.broken != nil {
		return fmt.Errorf("commit checkpoint %q: the writer is unusable since an abort failed: %w", w.key, w.broken)
	}
	if err := w.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("commit checkpoint %q: begin transaction: %w", w.key, err)
	}
	if err := w.produce(ctx, recs, pos); err != nil {
		return w.abort(ctx, err)
	}
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return w.abort(ctx, fmt.Errorf("commit checkpoint %q: commit transaction: %w", w.key, err))
	}
	return nil
}

func (w *Writer) produce(ctx context.Context, recs []*kgo.Record, pos Position) error {
	var (
		mu       sync.Mutex
		firstErr error
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("produce to %s: %w", r.Topic, err)
			}
			mu.Unlock()
		}
	}
	for _, r := range recs {
		w.cl.Produce(ctx, r, promise)
	}
	w.cl.Produce(ctx, &kgo.Record{Topic: w.topic, Key: []byte(w.key), Value: encode(pos)}, promise)
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("commit checkpoint %q: flush: %w", w.key, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("commit checkpoint %q: %w", w.key, firstErr)
	}
	return nil
}

// abort fails what is still buffered and aborts the transaction, returning cause.
func (w *Writer) abort(ctx context.Context, cause error) error {
	actx := context.WithoutCancel(ctx)
	err := w.cl.AbortBufferedRecords(actx)
	if err == nil {
		err = w.cl.EndTransaction(actx, kgo.TryAbort)
	}
	if err != nil {
		w.broken = errors.Join(cause, fmt.Errorf("abort transaction of checkpoint %q: %w", w.key, err))
		return w.broken
	}
	return cause
}

// IsFenced reports whether err means that another producer with the same transactional
// ID has taken over (it called Fence): this instance must stop, not retry.
//
// INVALID_PRODUCER_EPOCH counts as fencing although a coordinator that aborted a
// timed-out transaction can answer it too: brokers answer it to a fenced producer's
// produce requests, and restarting instead would let two instances take the realm from
// each other in turn, forever. keycdc's transactions last seconds against a timeout of a
// minute, so the other case means something is already badly wrong; stopping is safe.
func IsFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}
