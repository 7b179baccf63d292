package snapshot

import (
	"context"
	"sync"
)

// task is one unit of fetching work. It sends what it read to out and may queue more work
// (the next page, a sub-group's children) with push.
type task func(ctx context.Context, w *worker) error

// worker is what a task sees of the pool.
type worker struct {
	p *pool
}

// emit hands a fragment to the diff loop, waiting while it is busy.
func (w *worker) emit(ctx context.Context, f frag) error {
	select {
	case w.p.out <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// push queues another task.
func (w *worker) push(t task) { w.p.push(t) }

// pool runs tasks on a fixed number of goroutines. Tasks may queue more tasks; the pool
// ends when the queue is empty and no task runs, or at the first error. Its goroutines are
// owned by run, which returns only after all of them have stopped.
type pool struct {
	out chan<- frag

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []task
	running int
	err     error
}

func (p *pool) push(t task) {
	p.mu.Lock()
	p.queue = append(p.queue, t)
	p.mu.Unlock()
	p.cond.Signal()
}

// next blocks until a task is available (ok) or the pool is finished (!ok).
func (p *pool) next() (task, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && p.running > 0 && p.err == nil {
		p.cond.Wait()
	}
	if p.err != nil || len(p.queue) == 0 {
		return nil, false
	}
	t := p.queue[len(p.queue)-1] // depth first: finish pages of one listing before the next
	p.queue[len(p.queue)-1] = nil
	p.queue = p.queue[:len(p.queue)-1]
	p.running++
	return t, true
}

func (p *pool) done(err error) {
	p.mu.Lock()
	p.running--
	if err != nil && p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// runPool runs the seed tasks and everything they queue with n workers.
func runPool(ctx context.Context, n int, out chan<- frag, seed []task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &pool{out: out, queue: append([]task(nil), seed...)}
	p.cond = sync.NewCond(&p.mu)
	// Wake waiting workers when ctx ends so that they notice.
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		if p.err == nil {
			p.err = ctx.Err()
		}
		p.mu.Unlock()
		p.cond.Broadcast()
	})
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{p: p}
			for {
				t, ok := p.next()
				if !ok {
					return
				}
				err := t(ctx, w)
				p.done(err) // record the cause before cancelling the others
				if err != nil {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
