package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// committer makes a chunk of changes durable (one Kafka transaction, in keycdc). The
// scanner calls it with at most MaxBatch changes at a time, in the order they must apply.
type committer interface {
	Commit(ctx context.Context, changes []schemas.Change) error
}

// Tables returns the entity tables that a Scanner writes, in the order of the ADR.
func Tables() []*schemas.Table {
	return []*schemas.Table{
		schemas.User, schemas.UserAttribute, schemas.UserRealmRole, schemas.UserClientRole,
		schemas.UserRequiredAction, schemas.Group, schemas.GroupMember, schemas.Role,
		schemas.RoleComposite, schemas.Client,
	}
}

// Option configures a Scanner.
type Option func(*Scanner)

// PageSize is the number of entities asked for per page. Default 500.
func PageSize(n int) Option { return func(s *Scanner) { s.pageSize = n } }

// Concurrency is the number of fetching goroutines (the Keycloak client bounds requests in
// flight separately). Default 8.
func Concurrency(n int) Option { return func(s *Scanner) { s.workers = n } }

// MaxBatch bounds the number of changes handed to the committer at once. Default 5000.
func MaxBatch(n int) Option { return func(s *Scanner) { s.maxBatch = n } }

// MaxBatchAge bounds how long changes wait in the buffer before being committed. Default 2s.
func MaxBatchAge(d time.Duration) Option { return func(s *Scanner) { s.maxAge = d } }

// Logger receives progress lines during long scans. Default: discard.
func Logger(l *slog.Logger) Option { return func(s *Scanner) { s.log = l } }

// OnProgress is called from the diff loop whenever a fetched fragment has been applied, so
// that a caller can tell a long scan that advances from one that is stuck. It must be
// cheap. Default: none.
func OnProgress(f func()) Option { return func(s *Scanner) { s.onProgress = f } }

// Only restricts the scanner to the named tables (sync.tables). Default: all.
func Only(tables ...*schemas.Table) Option {
	return func(s *Scanner) {
		s.only = map[string]bool{}
		for _, t := range tables {
			s.only[t.Name()] = true
		}
	}
}

// Scanner turns full scans and targeted refreshes of one realm into change data: it keeps
// an image of what the realm's topics hold and emits only differences, with tombstones for
// rows whose disappearance a point lookup confirmed.
//
// A Scanner is not safe for concurrent use. After any error from Scan or Refresh its image
// may be ahead of what was committed: discard it and build a new one with Restore.
type Scanner struct {
	// kc is the Admin API client itself rather than an interface: the scanner uses most of
	// its calls, and tests run it against the twin over HTTP, so a seam would buy nothing.
	kc       *keycloak.Client
	realm    string
	pageSize int
	workers  int
	maxBatch int
	maxAge   time.Duration
	log      *slog.Logger
	only     map[string]bool
	// onProgress, when set, is called after every applied fragment.
	onProgress func()

	img *image
	// defs is what the last definitions pass learnt (clients, roles, service accounts).
	defs *definitions
	// groupParent maps every known group to its parent ("" for top level), to find the
	// descendants of a deleted group, which Keycloak deletes without events of their own.
	groupParent map[string]string
	broken      error
	// uncertain names listings that kept shifting while read during the running pass;
	// rereads counts the listings (or parts) read again because they shifted.
	uncertain []string
	rereads   int
}

// New returns a Scanner of realm with an empty image.
func New(kc *keycloak.Client, realm string, opts ...Option) (*Scanner, error) {
	s := &Scanner{
		kc: kc, realm: realm, pageSize: 500, workers: 8, maxBatch: 5000, maxAge: 2 * time.Second,
		log: slog.New(slog.DiscardHandler), img: newImage(), groupParent: map[string]string{},
	}
	for _, o := range opts {
		o(s)
	}
	var errs []error
	if kc == nil {
		errs = append(errs, errors.New("snapshot: nil Keycloak client"))
	}
	if realm == "" {
		errs = append(errs, errors.New("snapshot: empty realm"))
	}
	if s.pageSize < 1 {
		errs = append(errs, fmt.Errorf("snapshot: PageSize must be at least 1, got %d", s.pageSize))
	}
	if s.workers < 1 {
		errs = append(errs, fmt.Errorf("snapshot: Concurrency must be at least 1, got %d", s.workers))
	}
	if s.maxBatch < 1 {
		errs = append(errs, fmt.Errorf("snapshot: MaxBatch must be at least 1, got %d", s.maxBatch))
	}
	if s.maxAge <= 0 {
		errs = append(errs, fmt.Errorf("snapshot: MaxBatchAge must be positive, got %v", s.maxAge))
	}
	return s, errors.Join(errs...)
}

func (s *Scanner) wants(t *schemas.Table) bool { return s.only == nil || s.only[t.Name()] }

// Restore feeds the image one record read back from a table topic: key and value are Avro
// bodies without the wire header, value nil for a tombstone. Records must come in topic
// order per key.
func (s *Scanner) Restore(t *schemas.Table, key, value []byte) error {
	if value == nil {
		_, err := s.img.del(t.Name(), key)
		if t == schemas.Group {
			if owner, _, err := splitKey(key); err == nil {
				delete(s.groupParent, string(owner))
			}
		}
		return err
	}
	if _, err := s.img.put(t.Name(), key, value); err != nil {
		return err
	}
	if t == schemas.Group {
		id, parent, err := groupParent(value)
		if err != nil {
			return fmt.Errorf("restore group: %w", err)
		}
		s.groupParent[id] = parent
	}
	return nil
}

// groupParent reads a group record's id and parent_id without the schema it was written
// with: they are its first and fourth fields (after name and path), and schemas only ever
// grow by fields added at the end, so every version begins the same way.
func groupParent(value []byte) (id, parent string, err error) {
	str := func() (string, error) {
		n, w := binary.Varint(value)
		if w <= 0 || n < 0 || int64(len(value)-w) < n {
			return "", errors.New("malformed group record")
		}
		v := string(value[w : w+int(n)])
		value = value[w+int(n):]
		return v, nil
	}
	if id, err = str(); err != nil {
		return "", "", err
	}
	for i := 0; i < 2; i++ { // name, path
		if _, err = str(); err != nil {
			return "", "", err
		}
	}
	branch, w := binary.Varint(value) // parent_id: ["null", "string"]
	if w <= 0 || (branch != 0 && branch != 1) {
		return "", "", errors.New("malformed group record")
	}
	value = value[w:]
	if branch == 1 {
		if parent, err = str(); err != nil {
			return "", "", err
		}
	}
	return id, parent, nil
}

// Rows returns the number of rows the image holds for t.
func (s *Scanner) Rows(t *schemas.Table) int { return s.img.rows(t.Name()) }

// Stats counts what a scan or refresh wrote.
type Stats struct {
	Upserts    map[string]int // by table
	Tombstones map[string]int
	Lookups    int // point lookups made to confirm or refresh owners
	Duration   time.Duration
	// Uncertain names listings that kept shifting while they were read (the realm changed
	// fast): rows they hid may be missing until the next full scan, which the caller should
	// therefore run soon.
	Uncertain []string
	// Rereads counts listings, or runs of pages, read again because they shifted.
	Rereads int
}

func (st *Stats) total() (n int) {
	for _, v := range st.Upserts {
		n += v
	}
	for _, v := range st.Tombstones {
		n += v
	}
	return n
}

// part is the new state of some rows of one table.
type part struct {
	table *schemas.Table
	// changes are upserts (Value != nil) or tombstones (Value == nil).
	changes []schemas.Change
	// owner, when set, says changes are every row owner has in table: rows of owner the
	// image holds and changes lack are gone.
	owner   string
	replace bool
	// deleteOwner drops every row of owner in table.
	deleteOwner bool
	// seen marks rows (keys) as seen without changing them.
	seen [][]byte
}

// frag is what a fetching task sends to the diff loop: parts of rows, and facts learnt on
// the way, applied in the diff loop's goroutine so that no state needs a lock.
type frag struct {
	parts []part
	fact  func(*Scanner)
	// late builds more parts from the scanner's state, in the diff loop.
	late func(*Scanner) []part
}

// differ applies fragments to the image and buffers the resulting changes for the committer.
type differ struct {
	s       *Scanner
	c       committer
	buf     []schemas.Change
	started time.Time // when the oldest buffered change arrived
	stats   Stats
	// changed collects the ids of roles and clients whose row changed (a definitions
	// refresh follows renames with them). Other tables are not tracked: a snapshot changes
	// every row of them.
	changed map[string]map[string]bool
}

func newDiffer(s *Scanner, c committer) *differ {
	s.uncertain, s.rereads = nil, 0
	return &differ{s: s, c: c, stats: Stats{Upserts: map[string]int{}, Tombstones: map[string]int{}},
		changed: map[string]map[string]bool{}}
}

func (d *differ) markChanged(t *schemas.Table, key []byte) {
	if t != schemas.Role && t != schemas.Client {
		return
	}
	owner, _, err := splitKey(key)
	if err != nil {
		return
	}
	m := d.changed[t.Name()]
	if m == nil {
		m = map[string]bool{}
		d.changed[t.Name()] = m
	}
	m[string(owner)] = true
}

func (d *differ) apply(ctx context.Context, f frag) error {
	if d.s.onProgress != nil {
		d.s.onProgress()
	}
	if f.fact != nil {
		f.fact(d.s)
	}
	if f.late != nil {
		f.parts = append(f.parts, f.late(d.s)...)
	}
	for _, p := range f.parts {
		if !d.s.wants(p.table) {
			continue
		}
		if err := d.applyPart(ctx, p); err != nil {
			return err
		}
	}
	return d.maybeFlush(ctx)
}

func (d *differ) applyPart(ctx context.Context, p part) error {
	name := p.table.Name()
	img := d.s.img
	for _, k := range p.seen {
		img.markSeen(name, k)
	}
	if p.deleteOwner {
		for _, k := range img.keysOf(name, p.owner) {
			if err := d.tombstone(p.table, k); err != nil {
				return err
			}
		}
	}
	var keep map[string]bool
	if p.replace {
		keep = make(map[string]bool, len(p.changes))
	}
	for _, c := range p.changes {
		if c.Value == nil {
			if err := d.tombstone(p.table, c.Key); err != nil {
				return err
			}
			continue
		}
		if keep != nil {
			keep[string(c.Key)] = true
		}
		out, err := img.put(name, c.Key, c.Value)
		if err != nil {
			return err
		}
		if out != unchanged {
			d.emit(c)
			d.stats.Upserts[name]++
			d.markChanged(p.table, c.Key)
		}
	}
	if p.replace {
		for _, k := range img.keysOf(name, p.owner) {
			if !keep[string(k)] {
				if err := d.tombstone(p.table, k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (d *differ) tombstone(t *schemas.Table, key []byte) error {
	held, err := d.s.img.del(t.Name(), key)
	if err != nil || !held {
		return err
	}
	if t == schemas.Group {
		if owner, _, err := splitKey(key); err == nil {
			delete(d.s.groupParent, string(owner))
		}
	}
	d.emit(schemas.Change{Table: t, Key: key})
	d.stats.Tombstones[t.Name()]++
	d.markChanged(t, key)
	return nil
}

func (d *differ) emit(c schemas.Change) {
	if len(d.buf) == 0 {
		d.started = time.Now()
	}
	d.buf = append(d.buf, c)
}

func (d *differ) maybeFlush(ctx context.Context) error {
	if len(d.buf) >= d.s.maxBatch || (len(d.buf) > 0 && time.Since(d.started) >= d.s.maxAge) {
		return d.flush(ctx)
	}
	return nil
}

func (d *differ) flush(ctx context.Context) error {
	for len(d.buf) > 0 {
		n := min(len(d.buf), d.s.maxBatch)
		if err := d.c.Commit(ctx, d.buf[:n]); err != nil {
			d.s.broken = err
			return err
		}
		d.buf = d.buf[n:]
	}
	d.buf = nil
	return nil
}

// stage runs tasks on the worker pool and applies what they send, in this goroutine.
func (s *Scanner) stage(ctx context.Context, d *differ, progress func(), seed ...task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan frag, 4*s.workers)
	errc := make(chan error, 1)
	go func() {
		errc <- runPool(ctx, s.workers, out, seed)
		close(out)
	}()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var derr error
	for {
		select {
		case f, ok := <-out:
			if !ok {
				perr := <-errc
				if derr != nil {
					return derr
				}
				return perr
			}
			if derr != nil {
				continue // draining after a failure
			}
			if derr = d.apply(ctx, f); derr != nil {
				cancel()
			}
		case <-tick.C:
			if derr == nil {
				if derr = d.maybeFlush(ctx); derr != nil {
					cancel()
				}
			}
			if progress != nil {
				progress()
			}
		}
	}
}
