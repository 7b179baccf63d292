package snapshot

import (
	"context"
	"fmt"
	"sync"

	"github.com/keycdc/keycdc/poller/keycloak"
)

// Keycloak pages by offset, so a listing read while the realm changes can skip an item (an
// earlier one was deleted) or repeat one (an earlier one was created). A repeat is
// harmless; a skip would lose a row that no admin event points to. keycdc therefore reads
// every page after the first with one extra item in front — the item that ended the page
// before — and checks that it is there. Pages anchored end to end cover the listing's whole
// range, each at the moment it was read: nothing present throughout can be skipped. A
// broken anchor means the list shifted between two reads; the listing is read again, and
// if it keeps shifting it is reported as uncertain, which makes the poller run the next
// full scan without waiting for its interval.

// maxAttempts bounds how often a shifting listing is read again.
const maxAttempts = 3

// pageRange returns the query for the page that starts at first: from the item before it,
// one item longer, except for the first page.
func (s *Scanner) pageRange(first int) (qFirst, qMax int) {
	if first == 0 {
		return 0, s.pageSize
	}
	return first - 1, s.pageSize + 1
}

// anchor splits an anchored page into its anchor (the first item's id, "" for an empty
// answer) and its own items.
func anchor[T any](items []T, first int, id func(T) string) (string, []T) {
	if first == 0 {
		return "", items
	}
	if len(items) == 0 {
		return "", nil
	}
	return id(items[0]), items[1:]
}

// fits reports whether a page whose anchor is a follows a page that ended with last and
// held prevFull (= whether it was a full page).
func fits(a, last string, prevFull bool, ownLen int) bool {
	if prevFull {
		return a == last
	}
	return a == "" && ownLen == 0
}

// listing is a paged Admin API listing read page after page.
type listing[T any] struct {
	what  string // for messages, e.g. "members of group 42"
	fetch func(ctx context.Context, first, max int) ([]T, error)
	id    func(T) string
	// emit hands a page's own items to the diff loop.
	emit func(ctx context.Context, w *worker, items []T) error
}

// read fetches the page that starts at first, anchored, hands its own items to the diff
// loop, and returns its anchor and own items.
func (l *listing[T]) read(ctx context.Context, s *Scanner, w *worker, first int) (string, []T, error) {
	qf, qm := s.pageRange(first)
	items, err := l.fetch(ctx, qf, qm)
	if err != nil {
		return "", nil, fmt.Errorf("%s, page %d: %w", l.what, first/s.pageSize, err)
	}
	a, own := anchor(items, first, l.id)
	return a, own, l.emit(ctx, w, own)
}

// seqTask reads l from first on, page after page, checking every page's anchor. An answer
// 404 (the listed entity went away meanwhile) ends the listing quietly: reconciliation
// decides about its rows.
func seqTask[T any](s *Scanner, l *listing[T], first int, last string, attempt int) task {
	return seqTaskMisses(s, l, first, last, attempt, 0)
}

// maxMisses bounds the pages in a row whose anchors fail once a listing reads on regardless:
// real churn cannot break that many boundaries in a row, a server that ignores first does.
const maxMisses = 50

func seqTaskMisses[T any](s *Scanner, l *listing[T], first int, last string, attempt, misses int) task {
	return func(ctx context.Context, w *worker) error {
		a, own, err := l.read(ctx, s, w, first)
		if keycloak.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if first > 0 && !fits(a, last, true, len(own)) {
			if misses++; misses > maxMisses {
				return fmt.Errorf("%s: %d pages in a row do not follow each other; the server seems to ignore the first parameter", l.what, misses)
			}
			switch {
			case attempt+1 < maxAttempts:
				w.push(seqTask(s, l, 0, "", attempt+1)) // read it all again
				return w.emit(ctx, frag{fact: func(s *Scanner) { s.rereads++ }})
			case attempt+1 == maxAttempts:
				// It keeps moving: read on to the end anyway, and say so (once).
				if err := w.emit(ctx, frag{fact: func(s *Scanner) { s.uncertain = append(s.uncertain, l.what) }}); err != nil {
					return err
				}
				attempt = maxAttempts
			}
		} else {
			misses = 0
		}
		if len(own) == s.pageSize {
			w.push(seqTaskMisses(s, l, first+s.pageSize, l.id(own[len(own)-1]), attempt, misses))
		}
		return nil
	}
}

// plannedListing reads the pages of a listing whose size is known (from a count) in
// parallel, then checks the anchors of neighbouring pages once all are in and reads again,
// in order, the pairs of pages whose boundary moved.
type plannedListing[T any] struct {
	l     *listing[T]
	pages int

	mu      sync.Mutex
	anchors []string
	lasts   []string
	full    []bool
	lens    []int
	left    int
	ok      []bool // ok[b]: the boundary between pages b-1 and b was sound; set once all are in
}

func plannedTasks[T any](s *Scanner, l *listing[T], pages int) []task {
	p := &plannedListing[T]{l: l, pages: pages, anchors: make([]string, pages), lasts: make([]string, pages),
		full: make([]bool, pages), lens: make([]int, pages), left: pages}
	out := make([]task, pages)
	for k := 0; k < pages; k++ {
		out[k] = p.pageTask(s, k)
	}
	return out
}

func (p *plannedListing[T]) pageTask(s *Scanner, k int) task {
	return func(ctx context.Context, w *worker) error {
		a, own, err := p.l.read(ctx, s, w, k*s.pageSize)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.anchors[k], p.lens[k], p.full[k] = a, len(own), len(own) == s.pageSize
		if len(own) > 0 {
			p.lasts[k] = p.l.id(own[len(own)-1])
		}
		p.left--
		done := p.left == 0
		p.mu.Unlock()
		if !done {
			return nil
		}
		// Every planned page is in: check the boundaries, repair those that moved, and go on
		// past the planned end if the last page was full (the count was low).
		p.ok = make([]bool, p.pages)
		for b := 1; b < p.pages; b++ {
			p.ok[b] = fits(p.anchors[b], p.lasts[b-1], p.full[b-1], p.lens[b])
		}
		for b := 1; b < p.pages; b++ {
			if !p.ok[b] {
				w.push(p.repairTask(s, b, 0))
				if err := w.emit(ctx, frag{fact: func(s *Scanner) { s.rereads++ }}); err != nil {
					return err
				}
			}
		}
		if p.full[p.pages-1] {
			// Past the planned end a shift cannot be repaired by reading again from page 0
			// cheaply; it is reported instead.
			w.push(seqTask(s, p.l, p.pages*s.pageSize, p.lasts[p.pages-1], maxAttempts-1))
		}
		return nil
	}
}

// repairTask reads the listing again, in order, from page b-1 (anchored to what is known
// before it) until its new pages meet the old ones again: a new page ending with the same
// item as the old page of that number, whose next boundary was sound. The old pages from
// there on then continue the new ones without a gap. A chain that breaks is read again,
// up to maxAttempts times; then the listing is reported uncertain.
func (p *plannedListing[T]) repairTask(s *Scanner, b, attempt int) task {
	return func(ctx context.Context, w *worker) error {
		last, prevFull := "", true
		if b >= 2 {
			last, prevFull = p.lasts[b-2], p.full[b-2]
		}
		misses := 0
		for k := b - 1; ; k++ {
			a, own, err := p.l.read(ctx, s, w, k*s.pageSize)
			if err != nil {
				return err
			}
			if k > 0 && !fits(a, last, prevFull, len(own)) {
				if misses++; misses > maxMisses {
					return fmt.Errorf("%s: %d pages in a row do not follow each other; the server seems to ignore the first parameter", p.l.what, misses)
				}
				switch {
				case attempt+1 < maxAttempts:
					w.push(p.repairTask(s, b, attempt+1))
					return w.emit(ctx, frag{fact: func(s *Scanner) { s.rereads++ }})
				case attempt+1 == maxAttempts:
					// It keeps moving: read on to the end anyway, and say so (once).
					what := fmt.Sprintf("%s (it kept moving near page %d)", p.l.what, k)
					if err := w.emit(ctx, frag{fact: func(s *Scanner) { s.uncertain = append(s.uncertain, what) }}); err != nil {
						return err
					}
					attempt = maxAttempts
				}
			}
			last, prevFull = "", len(own) == s.pageSize
			if len(own) > 0 {
				last = p.l.id(own[len(own)-1])
			}
			switch {
			case !prevFull:
				return nil // the end of the listing
			case k >= b && k < p.pages-1 && last == p.lasts[k] && p.ok[k+1]:
				return nil // met the old chain, which is sound from here
			case k == p.pages-1 && last == p.lasts[k]:
				return nil // met the old end, from which the continuation reads on
			}
		}
	}
}
