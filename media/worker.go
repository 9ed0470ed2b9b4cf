package media

import (
	"context"
	"runtime"
)

// Worker processes photos one at a time on a goroutine of its own, which
// keeps its OS thread; on Linux that thread runs at the lowest priority
// (nice 19) with a Go P of its own, so a burst of uploads takes the CPU
// the screens leave and does not delay them. Elsewhere it is an ordinary
// goroutine.
type Worker struct {
	jobs chan job
}

type job struct {
	data    []byte
	maxSide int
	done    chan result
}

type result struct {
	img Image
	err error
}

// NewWorker starts a worker; it ends with ctx.
func NewWorker(ctx context.Context) *Worker {
	w := &Worker{jobs: make(chan job)}
	go func() {
		// The thread stays locked: when the goroutine ends, it ends with
		// it, and no other goroutine ever runs at its priority.
		runtime.LockOSThread()
		defer lowerPriority()()
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-w.jobs:
				img, err := Process(j.data, j.maxSide)
				j.done <- result{img, err}
			}
		}
	}()
	return w
}

// Process processes a photo on the worker, waiting for its turn; a
// context that ends first gives ctx's error.
func (w *Worker) Process(ctx context.Context, data []byte, maxSide int) (Image, error) {
	j := job{data: data, maxSide: maxSide, done: make(chan result, 1)}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return Image{}, ctx.Err()
	}
	r := <-j.done
	return r.img, r.err
}
