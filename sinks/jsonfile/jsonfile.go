// Package jsonfile is a sink that keeps every table's current rows in one JSON file: the
// store keycdc dev loads when no PostgreSQL is given, small enough to read with jq and
// served over HTTP by keycdc dev. It passes the sink conformance suite; it is meant for
// demos and small realms (each batch rewrites the whole file), not for production, where
// the PostgreSQL sink is the reference.
//
// Data flow: Apply checks the batch's positions against the stored ones, applies the last
// change of every row to a copy of the state, and replaces the file with the new state
// (write to a temporary file, fsync, rename, fsync the directory), so rows, offsets and
// dead letters change together or not at all.
package jsonfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
)

const formatVersion = 1

// Store is one JSON file. It is safe for concurrent use, also by several processes: every
// operation takes an exclusive lock on path+".lock" and reads the file again if another
// Store changed it.
type Store struct {
	path string

	mu    sync.Mutex
	state state
	seen  fileID // the version of the file state was read from
}

// fileID tells whether the file changed since it was read.
type fileID struct {
	size  int64
	mtime time.Time
}

// state is the file's content. Rows are keyed realm → table → sinks.RowKey.
type state struct {
	Version     int                                          `json:"version"`
	Offsets     map[string]map[string]int64                  `json:"offsets"` // group → "topic\u001fpartition" → next
	Rows        map[string]map[string]map[string]schemas.Row `json:"rows"`
	DeadLetters map[string][]sinks.DeadLetter                `json:"dead_letters,omitempty"` // group → …
}

// Open loads the store at path, or starts an empty one if the file does not exist.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// lock takes the store's exclusive lock (within the process, then across processes).
func (s *Store) lock() (func(), error) {
	s.mu.Lock()
	f, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		s.mu.Unlock()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		s.mu.Unlock()
	}, nil
}

// reload reads the file again if it changed since it was last read. The caller holds the lock.
func (s *Store) reload() error {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		if s.state.Version == 0 {
			s.state = state{Version: formatVersion, Offsets: map[string]map[string]int64{},
				Rows: map[string]map[string]map[string]schemas.Row{}, DeadLetters: map[string][]sinks.DeadLetter{}}
		}
		return nil
	}
	if err != nil {
		return err
	}
	id := fileID{fi.Size(), fi.ModTime()}
	if s.state.Version != 0 && id == s.seen {
		return nil
	}
	st, err := readFile(s.path)
	if err != nil {
		return err
	}
	s.state, s.seen = st, id
	return nil
}

func readFile(path string) (state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return state{}, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: not a keycdc sink file: %w (delete it to load the topics again)", path, err)
	}
	if st.Version != formatVersion {
		return st, fmt.Errorf("%s: format %d, this keycdc reads %d (delete it to load the topics again)", path, st.Version, formatVersion)
	}
	for _, ts := range st.Rows {
		for name, rows := range ts {
			t, ok := schemas.Lookup(name)
			if !ok {
				return st, fmt.Errorf("%s: unknown table %q", path, name)
			}
			for k, r := range rows {
				rows[k] = typed(t, r)
			}
		}
	}
	if st.Offsets == nil {
		st.Offsets = map[string]map[string]int64{}
	}
	if st.Rows == nil {
		st.Rows = map[string]map[string]map[string]schemas.Row{}
	}
	if st.DeadLetters == nil {
		st.DeadLetters = map[string][]sinks.DeadLetter{}
	}
	return st, nil
}

// typed restores the Go types of a row read back from JSON (numbers, times, maps).
func typed(t *schemas.Table, r schemas.Row) schemas.Row {
	for _, c := range t.Columns() {
		v, ok := r[c.Name]
		if !ok || v == nil {
			continue
		}
		switch c.Type {
		case schemas.TypeLong:
			if f, ok := v.(float64); ok {
				r[c.Name] = int64(f)
			}
		case schemas.TypeTimestamp:
			if s, ok := v.(string); ok {
				if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
					r[c.Name] = tm.UTC()
				}
			}
		case schemas.TypeStringMap:
			if m, ok := v.(map[string]any); ok {
				out := make(map[string]string, len(m))
				for k, x := range m {
					out[k], _ = x.(string)
				}
				r[c.Name] = out
			}
		}
	}
	return r
}

// Sink returns a sink writing to s. When beforeCommit is not nil, every Apply calls it
// after preparing the new state and before writing it, and fails if it returns an error.
func (s *Store) Sink(beforeCommit func(context.Context) error) *Sink {
	return &Sink{s: s, beforeCommit: beforeCommit}
}

// Sink applies batches to a Store. It implements sinks.OffsetStore and
// sinks.DeadLetterCounter.
type Sink struct {
	s            *Store
	beforeCommit func(context.Context) error
}

func partKey(tp sinks.TopicPartition) string {
	return tp.Topic + "\x1f" + strconv.Itoa(int(tp.Partition))
}

// Apply applies b atomically (see the package doc).
func (k *Sink) Apply(ctx context.Context, b sinks.Batch) error {
	s := k.s
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.reload(); err != nil {
		return err
	}
	offsets := maps.Clone(s.state.Offsets[b.Group])
	if offsets == nil {
		offsets = map[string]int64{}
	}
	done := len(b.Positions) > 0
	for _, p := range b.Positions {
		if n, ok := offsets[partKey(p.TopicPartition)]; !ok || n != p.Next {
			done = false
		}
	}
	if done {
		return nil // an earlier attempt wrote it
	}
	for _, p := range b.Positions {
		stored, ok := offsets[partKey(p.TopicPartition)]
		if !ok {
			stored = -1
		}
		if stored != p.Prev {
			return fmt.Errorf("%s: stored %d, batch read from %d: %w", p.TopicPartition, stored, p.Prev, sinks.ErrPositionMoved)
		}
		offsets[partKey(p.TopicPartition)] = p.Next
	}
	// Copy only the tables the batch touches.
	rows := maps.Clone(s.state.Rows)
	copied := map[[2]string]bool{}
	for _, i := range b.Latest() {
		c := b.Changes[i]
		name := c.Table.Name()
		if rows[c.Realm] == nil {
			rows[c.Realm] = map[string]map[string]schemas.Row{}
		} else if !copied[[2]string{c.Realm, ""}] {
			rows[c.Realm] = maps.Clone(rows[c.Realm])
		}
		copied[[2]string{c.Realm, ""}] = true
		if !copied[[2]string{c.Realm, name}] {
			rows[c.Realm][name] = maps.Clone(rows[c.Realm][name])
			if rows[c.Realm][name] == nil {
				rows[c.Realm][name] = map[string]schemas.Row{}
			}
			copied[[2]string{c.Realm, name}] = true
		}
		key := sinks.RowKey(c.Realm, c.Table, c.Key)
		if c.Value == nil {
			delete(rows[c.Realm][name], key)
		} else {
			rows[c.Realm][name][key] = c.Value
		}
	}
	dead := append([]sinks.DeadLetter(nil), s.state.DeadLetters[b.Group]...)
	have := map[string]bool{}
	for _, d := range dead {
		have[partKey(d.TopicPartition)+"\x1f"+strconv.FormatInt(d.Offset, 10)] = true
	}
	for _, d := range b.DeadLetters {
		id := partKey(d.TopicPartition) + "\x1f" + strconv.FormatInt(d.Offset, 10)
		if !have[id] {
			have[id] = true
			dead = append(dead, d)
		}
	}
	next := state{Version: formatVersion, Offsets: maps.Clone(s.state.Offsets), Rows: rows,
		DeadLetters: maps.Clone(s.state.DeadLetters)}
	next.Offsets[b.Group] = offsets
	next.DeadLetters[b.Group] = dead
	if k.beforeCommit != nil {
		if err := k.beforeCommit(ctx); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := writeFile(s.path, next)
	if err != nil {
		return err
	}
	s.state, s.seen = next, id
	return nil
}

// writeFile replaces path with st atomically and returns the new file's identity.
func writeFile(path string, st state) (fileID, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return fileID{}, fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fileID{}, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fileID{}, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fileID{}, err
	}
	if err := tmp.Close(); err != nil {
		return fileID{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fileID{}, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return fileID{fi.Size(), fi.ModTime()}, nil
}

// Offsets returns the stored next offsets of group for the partitions of topics.
func (k *Sink) Offsets(_ context.Context, group string, topics []string) (map[sinks.TopicPartition]int64, error) {
	unlock, err := k.s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := k.s.reload(); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	out := map[sinks.TopicPartition]int64{}
	for pk, n := range k.s.state.Offsets[group] {
		topic, part, _ := strings.Cut(pk, "\x1f")
		p, _ := strconv.Atoi(part)
		if want[topic] {
			out[sinks.TopicPartition{Topic: topic, Partition: int32(p)}] = n
		}
	}
	return out, nil
}

// DeadLetters counts the dead letters of group.
func (k *Sink) DeadLetters(_ context.Context, group string) (int64, error) {
	unlock, err := k.s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	if err := k.s.reload(); err != nil {
		return 0, err
	}
	return int64(len(k.s.state.DeadLetters[group])), nil
}

// Rows returns the rows of one table of one realm, ordered by key.
func (s *Store) Rows(realm, table string) []schemas.Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state.Rows[realm][table]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]schemas.Row, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// Count returns the number of rows held, across realms and tables.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ts := range s.state.Rows {
		for _, rows := range ts {
			n += len(rows)
		}
	}
	return n
}

// All returns every row the store holds: realm → table → sinks.RowKey → row.
func (s *Store) All() map[string]map[string]map[string]schemas.Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]map[string]schemas.Row, len(s.state.Rows))
	for realm, ts := range s.state.Rows {
		o := make(map[string]map[string]schemas.Row, len(ts))
		for t, rows := range ts {
			o[t] = maps.Clone(rows)
		}
		out[realm] = o
	}
	return out
}

// DeadLetterList returns the dead letters of group.
func (s *Store) DeadLetterList(group string) []sinks.DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinks.DeadLetter(nil), s.state.DeadLetters[group]...)
}
