package events

import (
	"context"
	"slices"
)

// writer deduplicates records, groups them into batches and tracks the position.
type writer struct {
	s       *Stream
	pos     Position // the position of the last batch emitted (or the starting one)
	emit    func(context.Context, Batch) error
	seen    map[string]int64 // id → event time (the watermark, for ids loaded from pos)
	pending []record
	wm      int64 // watermark after pending
}

func (w *writer) watermark() int64 { return max(w.wm, w.pos.Watermark) }

// add takes records in time order.
func (w *writer) add(ctx context.Context, recs []record) error {
	for _, r := range recs {
		if _, dup := w.seen[r.id]; dup {
			continue
		}
		if w.s.isOwnLogin(r) {
			continue
		}
		w.seen[r.id] = r.time
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
func (w *writer) advance(ctx context.Context, t int64) error {
	w.wm = max(w.wm, t)
	return nil
}

// flush emits pending records with the position after them. Nothing is emitted when there
// is nothing new, so a quiet poll commits nothing.
func (w *writer) flush(ctx context.Context) error {
	wm := w.watermark()
	if len(w.pending) == 0 && wm == w.pos.Watermark {
		return nil
	}
	floor := wm - w.s.overlap.Milliseconds()
	next := Position{Watermark: wm}
	for id, t := range w.seen {
		if t >= floor {
			next.Seen = append(next.Seen, id)
		} else {
			delete(w.seen, id)
		}
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
