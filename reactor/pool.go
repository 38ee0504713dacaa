package reactor

import "sync"

// Pool runs blocking work off the loops with per-key ordering (key = conn ID):
// tasks with the same key run one at a time in submission order; different
// keys run in parallel on up to `workers` goroutines.
//
// Pool uses nothing of the reactor (no loop, no Conn; the key is a plain
// uint64) and schedules the service's blocking work, not the loop's, so it
// belongs in a package of its own beside reactor (e.g. workpool), which
// service would import without needing the loops. It stays here for now
// only because the move touches every caller and mention (service's
// server, the package docs of reactor and service, the README, its tests in
// engine_test.go) while those files are being reshaped by other changes;
// moving it later is mechanical, since no reactor code calls it.
type Pool struct {
	mu         sync.Mutex
	cond       sync.Cond
	keys       map[uint64]*keyQueue // keys with queued or running tasks
	ready      []*keyQueue          // keys with a runnable task, FIFO
	pending    int                  // tasks submitted and not yet started
	maxPending int
	closed     bool
	wg         sync.WaitGroup
}

// keyQueue holds one key's tasks. While a task of the key runs, the key is
// not in the ready list, which is what serialises a key.
type keyQueue struct {
	key   uint64
	tasks []func()
}

// NewPool starts a pool with workers goroutines (at least 1) that accepts up to
// maxPending waiting tasks (at least 1).
func NewPool(workers, maxPending int) *Pool {
	if workers < 1 {
		workers = 1
	}
	if maxPending < 1 {
		maxPending = 1
	}
	p := &Pool{keys: make(map[uint64]*keyQueue), maxPending: maxPending}
	p.cond.L = &p.mu
	p.wg.Add(workers)
	for range workers {
		go p.worker()
	}
	return p
}

// Submit queues task under key. It never blocks: it returns ErrPoolFull when
// maxPending tasks are already waiting and ErrClosed after Close.
func (p *Pool) Submit(key uint64, task func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.pending >= p.maxPending {
		return ErrPoolFull
	}
	p.pending++
	q := p.keys[key]
	if q == nil {
		q = &keyQueue{key: key}
		p.keys[key] = q
		p.ready = append(p.ready, q)
		p.cond.Signal()
	}
	q.tasks = append(q.tasks, task)
	return nil
}

// Close stops accepting tasks and waits for every queued task to finish.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Pool) worker() {
	defer p.wg.Done()
	p.mu.Lock()
	for {
		for len(p.ready) == 0 {
			if p.closed && p.pending == 0 {
				p.mu.Unlock()
				return
			}
			p.cond.Wait()
		}
		q := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		task := q.tasks[0]
		q.tasks[0] = nil
		q.tasks = q.tasks[1:]
		p.pending--
		p.mu.Unlock()

		task()

		p.mu.Lock()
		if len(q.tasks) > 0 {
			// Back of the line: other keys get a turn between this key's tasks.
			p.ready = append(p.ready, q)
			p.cond.Signal()
		} else {
			delete(p.keys, q.key)
		}
		if p.closed && p.pending == 0 {
			p.cond.Broadcast()
		}
	}
}
