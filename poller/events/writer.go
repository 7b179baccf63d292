package events

import (
	"context"
	"slices"
)

// maxSeen bounds the ids a position holds: 500,000 hashes are 4 MB (5.3 MB in base64),
// within the checkpoint topic's 8 MiB records.
const maxSeen = 500_000

// writer deduplicates records, groups them into batches and tracks the position.
type writer struct {
	s       *Stream
	pos     Position // the position of the last batch emitted (or the starting one)
	emit    func(context.Context, Batch) error
	seen    map[uint64]int64 // id hash → event time (the watermark, for ids loaded from pos)
	pending []record
	wm      int64 // watermark after pending
}

func (w *writer) watermark() int64 { return max(w.wm, w.pos.Watermark) }

// add takes records in time order.
func (w *writer) add(ctx context.Context, recs []record) error {
	for _, r := range recs {
		h := idHash(r.id)
		if _, dup := w.seen[h]; dup {
			continue
		}
		if w.s.isOwnLogin(r) {
			// Left out, but read: the watermark passes it, or every poll of a quiet realm
			// would read again all of keycdc's own logins since the last other event. Only
			// up to the overlap window before now, though: an own login is no sign that
			// the events of that window are all stored, and a crash test of 25.0 (identical
			// events split across pages of a shifting listing) lost one when it went further.
			w.wm = max(w.wm, min(r.time, w.s.now().UnixMilli()-w.s.overlap.Milliseconds()))
			continue
		}
		w.seen[h] = r.time
		w.wm = max(w.wm, r.time)
		w.pending = append(w.pending, r)
		if len(w.pending) >= w.s.maxBatch {
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// advance moves the watermark to t: every event before t has been read.
func (w *writer) advance(t int64) { w.wm = max(w.wm, t) }

// flush emits pending records with the position after them. Nothing is emitted when there
// is nothing new, so a quiet poll commits nothing.
func (w *writer) flush(ctx context.Context) error {
	wm := w.watermark()
	if len(w.pending) == 0 && wm == w.pos.Watermark {
		return nil
	}
	floor := wm - w.s.overlap.Milliseconds()
	for h, t := range w.seen {
		if t < floor {
			delete(w.seen, h)
		}
	}
	if len(w.seen) > maxSeen {
		// More events in the overlap window than a checkpoint can hold: keep the newest, so
		// the window shrinks for this burst instead of the checkpoint outgrowing Kafka.
		times := make([]int64, 0, len(w.seen))
		for _, t := range w.seen {
			times = append(times, t)
		}
		slices.Sort(times)
		cut := times[len(times)-maxSeen]
		for h, t := range w.seen {
			if t < cut && len(w.seen) > maxSeen {
				delete(w.seen, h)
				w.s.dropped++
			}
		}
	}
	next := Position{Watermark: wm, Seen: make(Seen, 0, len(w.seen))}
	for h := range w.seen {
		next.Seen = append(next.Seen, h)
	}
	slices.Sort(next.Seen)
	b := Batch{Position: next}
	for _, r := range w.pending {
		c, err := w.s.change(r)
		if err != nil {
			return err
		}
		b.Changes = append(b.Changes, c)
		if r.user != nil {
			b.Users = append(b.Users, *r.user)
		} else {
			b.Admins = append(b.Admins, *r.admin)
		}
	}
	if err := w.emit(ctx, b); err != nil {
		return err
	}
	w.pos = next
	w.pending = w.pending[:0]
	return nil
}
