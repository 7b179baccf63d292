package events

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// Kind selects user events or admin events.
type Kind int

const (
	// User is the realm's user events (logins, registrations, ...): the event table.
	User Kind = iota
	// Admin is the realm's admin events (changes made through the Admin API): admin_event.
	Admin
)

func (k Kind) String() string {
	if k == Admin {
		return "admin events"
	}
	return "events"
}

// Table returns the table k's events are written to.
func (k Kind) Table() *schemas.Table {
	if k == Admin {
		return schemas.AdminEvent
	}
	return schemas.Event
}

// Position is how far a stream has come. Every event with time before Watermark-overlap
// has been written; Seen holds the ids of written events at or after that point, so that
// re-reading the overlap window writes nothing twice. The zero Position starts at the
// stream's start time.
type Position struct {
	Watermark int64 `json:"watermark,omitempty"` // epoch milliseconds
	Seen      Seen  `json:"seen,omitempty"`
}

// Seen is a set of event ids kept as 64-bit FNV-1a hashes: 8 bytes an id whatever its
// length, so that the checkpoint stays small when many events fall in the overlap window.
// In JSON it is one base64 string of the sorted hashes (big-endian). A JSON array of id
// strings is read too.
type Seen []uint64

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Has reports whether the set holds id.
func (s Seen) Has(id string) bool {
	h := idHash(id)
	_, ok := slices.BinarySearch(s, h)
	return ok
}

func (s Seen) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(s))
	for i, h := range s {
		binary.BigEndian.PutUint64(b[8*i:], h)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

func (s *Seen) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil || len(b)%8 != 0 {
			return fmt.Errorf("events position: seen is not a list of 64-bit hashes")
		}
		out := make(Seen, len(b)/8)
		for i := range out {
			out[i] = binary.BigEndian.Uint64(b[8*i:])
		}
		*s = out
		return nil
	}
	var ids []string
	if err := json.Unmarshal(data, &ids); err != nil {
		return fmt.Errorf("events position: seen: %w", err)
	}
	out := make(Seen, 0, len(ids))
	for _, id := range ids {
		out = append(out, idHash(id))
	}
	slices.Sort(out)
	*s = out
	return nil
}

// Batch is a bounded chunk of new events in time order, with the position that covers
// them. Exactly one of Users and Admins is filled, for change hints.
type Batch struct {
	Changes  []schemas.Change
	Position Position
	Users    []keycloak.Event
	Admins   []keycloak.AdminEvent
}

// source is what a Stream reads of Keycloak.
type source interface {
	Events(ctx context.Context, realm string, q keycloak.EventsQuery) ([]keycloak.Event, error)
	AdminEvents(ctx context.Context, realm string, q keycloak.EventsQuery) ([]keycloak.AdminEvent, error)
}

// Option configures a Stream.
type Option func(*Stream)

// Overlap is how far behind the watermark each poll starts reading again. Default 30s.
func Overlap(d time.Duration) Option { return func(s *Stream) { s.overlap = d } }

// PageSize is the number of events asked for per request. Default 500.
func PageSize(n int) Option { return func(s *Stream) { s.pageSize = n } }

// MaxBatch bounds the events in one Batch. Default 5000.
func MaxBatch(n int) Option { return func(s *Stream) { s.maxBatch = n } }

// OwnClient names keycdc's own OAuth clientId; its CLIENT_LOGIN events (one per token
// grant) are dropped unless keep is true, so that a quiet realm stays quiet.
func OwnClient(clientID string, keep bool) Option {
	return func(s *Stream) { s.ownClient, s.keepOwn = clientID, keep }
}

// Representations keeps admin events' representation (with secret-bearing fields
// redacted). Default off: representations can hold personal data and configuration.
func Representations(on bool) Option { return func(s *Stream) { s.representations = on } }

// Clock replaces time.Now (tests).
func Clock(now func() time.Time) Option { return func(s *Stream) { s.now = now } }

// Stream reads one kind of event of one realm. It is not safe for concurrent use.
type Stream struct {
	kc              source
	realm           string
	kind            Kind
	overlap         time.Duration
	pageSize        int
	maxBatch        int
	ownClient       string
	keepOwn         bool
	representations bool
	now             func() time.Time

	// epoch is nil until the server's generation is known.
	epoch *bool
	// dropped counts ids left out of positions because the overlap window held more
	// events than a checkpoint can (see maxSeen); oversized counts representations left
	// out for their size (see maxRepresentation).
	dropped, oversized int
}

// New returns a Stream of kind events in realm.
func New(kc source, realm string, kind Kind, opts ...Option) (*Stream, error) {
	s := &Stream{kc: kc, realm: realm, kind: kind, overlap: 30 * time.Second, pageSize: 500, maxBatch: 5000, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	var errs []error
	if kc == nil || realm == "" {
		errs = append(errs, errors.New("events: a Keycloak client and a realm are required"))
	}
	if s.overlap < 0 {
		errs = append(errs, fmt.Errorf("events: Overlap must not be negative, got %v", s.overlap))
	}
	if s.pageSize < 2 {
		errs = append(errs, fmt.Errorf("events: PageSize must be at least 2, got %d", s.pageSize))
	}
	if s.maxBatch < 1 {
		errs = append(errs, fmt.Errorf("events: MaxBatch must be at least 1, got %d", s.maxBatch))
	}
	return s, errors.Join(errs...)
}

// Dropped returns how many event ids were left out of positions because a burst put more
// events in the overlap window than a checkpoint can hold; such events could be written
// again if they were read again within the window. The poller logs it when it grows.
func (s *Stream) Dropped() int { return s.dropped }

// Oversized returns how many admin-event representations were left out for being larger
// than 1 MiB.
func (s *Stream) Oversized() int { return s.oversized }

// Kind returns the kind of events s reads.
func (s *Stream) Kind() Kind { return s.kind }

// EpochFilters reports whether the server takes epoch-millisecond filters and ascending
// order (Keycloak 26.2+); ok is false before the first Poll has found out.
func (s *Stream) EpochFilters() (epoch, ok bool) {
	if s.epoch == nil {
		return false, false
	}
	return *s.epoch, true
}

// record is one event read from Keycloak, with its id resolved.
type record struct {
	id    string
	time  int64
	user  *keycloak.Event
	admin *keycloak.AdminEvent
}

// Poll writes every event from pos up to now through emit, in batches of at most MaxBatch
// events, and returns the final position. start bounds a fresh stream (zero pos). emit
// must make each batch durable before returning; if it fails, Poll stops and returns the
// error, and the caller resumes later from the last position emit accepted.
func (s *Stream) Poll(ctx context.Context, pos Position, start time.Time, emit func(context.Context, Batch) error) (Position, error) {
	if s.epoch == nil {
		epoch, err := s.detect(ctx)
		if err != nil {
			return pos, err
		}
		s.epoch = &epoch
	}
	w := &writer{s: s, pos: pos, emit: emit}
	w.seen = make(map[uint64]int64, len(pos.Seen))
	for _, h := range pos.Seen {
		w.seen[h] = pos.Watermark
	}
	lo := start.UnixMilli()
	if pos.Watermark != 0 {
		lo = pos.Watermark - s.overlap.Milliseconds()
	}
	var err error
	if *s.epoch {
		err = s.pollAscending(ctx, w, lo)
	} else {
		err = s.pollByDay(ctx, w, lo)
	}
	if err != nil {
		return w.pos, err
	}
	if err := w.flush(ctx); err != nil {
		return w.pos, err
	}
	return w.pos, nil
}

// detect finds out whether the server takes epoch-millisecond filters: Keycloak before
// 26.2 answers 400 to them.
func (s *Stream) detect(ctx context.Context) (bool, error) {
	q := keycloak.EventsQuery{DateFrom: strconv.FormatInt(s.now().UnixMilli(), 10), Max: 1, Direction: "asc"}
	var err error
	if s.kind == Admin {
		_, err = s.kc.AdminEvents(ctx, s.realm, q)
	} else {
		_, err = s.kc.Events(ctx, s.realm, q)
	}
	var se *keycloak.StatusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s of realm %q: %w", s.kind, s.realm, err)
	}
	return true, nil
}

func (s *Stream) fetch(ctx context.Context, q keycloak.EventsQuery) ([]record, error) {
	var out []record
	if s.kind == Admin {
		evs, err := s.kc.AdminEvents(ctx, s.realm, q)
		if err != nil {
			return nil, fmt.Errorf("%s of realm %q: %w", s.kind, s.realm, err)
		}
		out = make([]record, len(evs))
		for i := range evs {
			out[i] = record{time: evs[i].Time, admin: &evs[i]}
			if evs[i].ID != nil {
				out[i].id = *evs[i].ID
			}
		}
		return out, nil
	}
	evs, err := s.kc.Events(ctx, s.realm, q)
	if err != nil {
		return nil, fmt.Errorf("%s of realm %q: %w", s.kind, s.realm, err)
	}
	out = make([]record, len(evs))
	for i := range evs {
		out[i] = record{time: evs[i].Time, user: &evs[i]}
		if evs[i].ID != nil {
			out[i].id = *evs[i].ID
		}
	}
	return out, nil
}

// pollAscending pages forward in time from lo (Keycloak 26.2+). A reader goroutine fetches
// and decodes the pages up to about one batch ahead of the writer, so that reading the next
// pages overlaps encoding and committing the current ones (and hides the server's latency);
// pollAscending waits for the reader before it returns.
func (s *Stream) pollAscending(ctx context.Context, w *writer, lo int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []record, max(1, s.maxBatch/s.pageSize))
	errc := make(chan error, 1)
	go func() {
		defer close(pages)
		errc <- s.readAscending(ctx, lo, pages)
	}()
	for page := range pages {
		if err := w.add(ctx, page); err != nil {
			cancel()
			for range pages {
			}
			<-errc
			return err
		}
	}
	return <-errc
}

// readAscending sends the pages of an ascending listing from lo, in order. After each full
// page it continues from the page's last millisecond, from the start of that millisecond,
// because events within one millisecond have no defined order across requests; a
// millisecond that fills a whole page is read in one request of its own.
func (s *Stream) readAscending(ctx context.Context, lo int64, out chan<- []record) error {
	send := func(page []record) error {
		if err := s.requireIDs(page); err != nil {
			return err
		}
		select {
		case out <- page:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		page, err := s.fetch(ctx, keycloak.EventsQuery{DateFrom: strconv.FormatInt(lo, 10), Direction: "asc", Max: s.pageSize})
		if err != nil {
			return err
		}
		for i := 1; i < len(page); i++ {
			if page[i].time < page[i-1].time {
				return fmt.Errorf("%s of realm %q: the server ignored direction=asc (got newest first); "+
					"it does not behave like Keycloak 26.2+ although it accepts epoch-millisecond filters", s.kind, s.realm)
			}
		}
		if len(page) > 0 && page[0].time < lo {
			// Without this check a server that ignores dateFrom would be read forever.
			return fmt.Errorf("%s of realm %q: the server ignored dateFrom (asked from %d, got an event at %d)",
				s.kind, s.realm, lo, page[0].time)
		}
		if err := send(page); err != nil {
			return err
		}
		if len(page) < s.pageSize {
			return nil
		}
		last := page[len(page)-1].time
		if page[0].time == last {
			ms := strconv.FormatInt(last, 10)
			all, err := s.fetch(ctx, keycloak.EventsQuery{DateFrom: ms, DateTo: ms, Direction: "asc", Max: 1 << 30})
			if err != nil {
				return err
			}
			if err := send(all); err != nil {
				return err
			}
			lo = last + 1
			continue
		}
		lo = last
	}
}

const day = 24 * time.Hour

// pollByDay reads servers before 26.2, which filter by date only (in the server's time zone,
// with dateTo excluding its day before 26.0) and list newest first. Each request covers a
// window of dates wide enough for any time zone; the events inside [lo, hi) are kept,
// sorted, and written; windows end at UTC midnights until the last one, which reaches now.
func (s *Stream) pollByDay(ctx context.Context, w *writer, lo int64) error {
	window := time.UnixMilli(lo).UTC().Truncate(day) // the UTC day this window ends with
	for {
		now := s.now()
		q := keycloak.EventsQuery{DateFrom: time.UnixMilli(lo).UTC().Truncate(day).Add(-day).Format(time.DateOnly)}
		hi := int64(1<<63 - 1)
		last := now.Sub(window) <= 2*day
		if !last {
			hi = window.Add(day).UnixMilli()
			q.DateTo = window.Add(2 * day).Format(time.DateOnly)
		}
		recs, err := s.readNewestFirst(ctx, q, lo, hi)
		if err != nil {
			return err
		}
		if err := w.add(ctx, recs); err != nil {
			return err
		}
		if last {
			return nil
		}
		// The window is done: move the watermark to its end even if it held no events.
		w.advance(hi)
		window = window.Add(day)
		lo = hi - s.overlap.Milliseconds()
	}
}

// pageOverlap re-reads a few events at each page boundary (at most half a page) so that identical events in one
// millisecond that straddle a boundary are still counted in one answer.
const pageOverlap = 8

// readNewestFirst pages a newest-first listing down to lo and returns the events in
// [lo, hi) in time order, with ids.
func (s *Stream) readNewestFirst(ctx context.Context, q keycloak.EventsQuery, lo, hi int64) ([]record, error) {
	type key struct {
		time int64
		fp   string
	}
	count := map[key]int{}
	proto := map[key]record{}
	for first := 0; ; {
		q.First, q.Max = first, s.pageSize
		page, err := s.fetch(ctx, q)
		if err != nil {
			return nil, err
		}
		inPage := map[key]int{}
		below := false
		for _, r := range page {
			if r.time < lo {
				below = true
				continue
			}
			if r.time >= hi {
				continue
			}
			k := key{r.time, s.fingerprint(r)}
			inPage[k]++
			if _, ok := proto[k]; !ok {
				proto[k] = r
			}
		}
		for k, n := range inPage {
			count[k] = max(count[k], n)
		}
		if len(page) < s.pageSize || below {
			break
		}
		step := s.pageSize - min(pageOverlap, s.pageSize/2)
		if first/step > 1<<20 {
			return nil, fmt.Errorf("%s of realm %q: more than a million pages in one day window: the server seems to ignore first",
				s.kind, s.realm)
		}
		first += step
	}
	out := make([]record, 0, len(count))
	for k, n := range count {
		for i := 0; i < n; i++ {
			r := proto[k]
			if r.id == "" {
				r.id = syntheticID(s.kind, k.fp, i)
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].time != out[j].time {
			return out[i].time < out[j].time
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// requireIDs checks that every event of an ascending (26.2+) listing carries Keycloak's
// id: deduplication there relies on it.
func (s *Stream) requireIDs(recs []record) error {
	for i := range recs {
		if recs[i].id == "" {
			return fmt.Errorf("%s of realm %q: an event at %d has no id although the server takes 26.2+ filters",
				s.kind, s.realm, recs[i].time)
		}
	}
	return nil
}
