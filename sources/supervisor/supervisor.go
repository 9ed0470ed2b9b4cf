// Package supervisor keeps source adapters running: it restarts each one
// with backoff and jitter, honours Retry-After, stops one whose error no
// retry can fix, and restarts a stream that stalls.
package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// ErrStalled is the cause given to a stream that sent nothing for too long.
var ErrStalled = errors.New("stream stalled: no bytes within the stall timeout")

// Spec is one source to run.
type Spec struct {
	Name   string
	Type   string
	Source wall.Source
	Sub    wall.Subscription
	Emit   wall.Emit
	// Stall restarts an armed stream that sent no bytes for this long.
	Stall time.Duration
}

// Supervisor keeps sources running until they are stopped.
type Supervisor struct {
	// Cursor loads a source's saved cursor before each (re)start.
	Cursor func(ctx context.Context, source string) (string, error)
	// BaseDelay and MaxDelay bound the exponential backoff.
	BaseDelay, MaxDelay time.Duration
	Log                 *slog.Logger

	mu   sync.Mutex
	runs map[string]*run
	wg   sync.WaitGroup
}

type run struct {
	spec    Spec
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	health  wall.SourceHealth
	monitor *upstream.Monitor
}

// New returns a supervisor with production backoff (1 s to 5 min).
func New(cursor func(context.Context, string) (string, error), log *slog.Logger) *Supervisor {
	return &Supervisor{Cursor: cursor, BaseDelay: time.Second, MaxDelay: 5 * time.Minute, Log: log, runs: map[string]*run{}}
}

// Start runs a source until ctx ends or Stop is called.
func (s *Supervisor) Start(ctx context.Context, spec Spec) {
	ctx, cancel := context.WithCancel(ctx)
	r := &run{spec: spec, cancel: cancel, done: make(chan struct{}), monitor: upstream.NewMonitor()}
	r.health = wall.SourceHealth{Name: spec.Name, Type: spec.Type, State: wall.StateStarting}
	s.mu.Lock()
	if old := s.runs[spec.Name]; old != nil {
		old.cancel()
	}
	s.runs[spec.Name] = r
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		s.loop(ctx, r)
	}()
}

// Stop stops one source and waits for it to return.
func (s *Supervisor) Stop(name string) {
	s.mu.Lock()
	r := s.runs[name]
	delete(s.runs, name)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// Wait waits for every source to return (after their context ended).
func (s *Supervisor) Wait() { s.wg.Wait() }

// Health returns every source's health, sorted by name.
func (s *Supervisor) Health() []wall.SourceHealth {
	s.mu.Lock()
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	out := make([]wall.SourceHealth, 0, len(runs))
	for _, r := range runs {
		r.mu.Lock()
		h, mon := r.health, r.monitor
		r.mu.Unlock()
		if h.State == wall.StateRunning {
			h.State, h.Note = mon.State()
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *run) set(f func(h *wall.SourceHealth)) {
	r.mu.Lock()
	f(&r.health)
	r.mu.Unlock()
}

// backoff is exponential with full jitter: a random wait in [0, base*2^n],
// capped, so a fleet of restarting sources does not hit an upstream at once.
func (s *Supervisor) backoff(attempt int) time.Duration {
	return upstream.Backoff(s.BaseDelay, s.MaxDelay, attempt)
}

func (s *Supervisor) loop(ctx context.Context, r *run) {
	log := s.Log.With("source", r.spec.Name, "type", r.spec.Type)
	attempt := 0
	for ctx.Err() == nil {
		sub := r.spec.Sub
		if s.Cursor != nil {
			c, err := s.Cursor(ctx, r.spec.Name)
			if err != nil {
				log.Error("source: cannot load cursor", "err", err)
			}
			sub.Cursor = c
		}
		started := time.Now()
		progressed, err := s.once(ctx, r, sub)
		if ctx.Err() != nil {
			break
		}
		if progressed || time.Since(started) > time.Minute {
			attempt = 0
		}
		var perm *upstream.PermanentError
		if errors.As(err, &perm) {
			log.Error("source: stopped until the config is fixed", "err", upstream.Redact(err.Error()))
			r.set(func(h *wall.SourceHealth) {
				h.State, h.ErrorAt = wall.StateError, time.Now()
				h.LastError, h.PublicError = upstream.Redact(err.Error()), upstream.Public(err.Error())
				h.Errors++
			})
			<-ctx.Done()
			break
		}
		delay := s.backoff(attempt)
		var ra *upstream.RetryAfterError
		if errors.As(err, &ra) && (ra.Exact || ra.After > delay) {
			delay = ra.After
		}
		attempt++
		if err == nil {
			err = errors.New("source ended")
		}
		log.Warn("source: restarting", "err", upstream.Redact(err.Error()), "in", delay.Round(time.Millisecond))
		r.set(func(h *wall.SourceHealth) {
			h.State, h.ErrorAt, h.NextRetry = wall.StateBackoff, time.Now(), time.Now().Add(delay)
			h.LastError, h.PublicError = upstream.Redact(err.Error()), upstream.Public(err.Error())
			h.Errors++
		})
		if upstream.Sleep(ctx, delay) != nil {
			break
		}
	}
	r.set(func(h *wall.SourceHealth) { h.State, h.NextRetry = wall.StateStopped, time.Time{} })
}

// once runs the source one time, with a watchdog for stalls. progressed
// reports whether it emitted anything.
func (s *Supervisor) once(ctx context.Context, r *run, sub wall.Subscription) (progressed bool, err error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	mon := upstream.NewMonitor()
	r.mu.Lock()
	r.monitor = mon
	r.mu.Unlock()
	runCtx = upstream.WithMonitor(runCtx, mon)
	r.set(func(h *wall.SourceHealth) { h.State, h.NextRetry = wall.StateRunning, time.Time{} })

	if r.spec.Stall > 0 {
		go func() {
			t := time.NewTicker(max(r.spec.Stall/4, 5*time.Millisecond))
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case now := <-t.C:
					if mon.Stalled(r.spec.Stall, now) {
						cancel(ErrStalled)
						return
					}
				}
			}
		}()
	}
	var emitted bool
	var emitMu sync.Mutex
	emit := func(ectx context.Context, it wall.Item) error {
		if it.Kind != wall.ItemCursor {
			now := time.Now()
			emitMu.Lock()
			emitted = true
			emitMu.Unlock()
			if it.Kind == wall.ItemPost {
				r.set(func(h *wall.SourceHealth) { h.LastPost = now })
			}
		}
		return r.spec.Emit(ectx, it)
	}
	err = r.spec.Source.Run(runCtx, sub, emit)
	if cause := context.Cause(runCtx); errors.Is(cause, ErrStalled) && ctx.Err() == nil {
		err = ErrStalled
	}
	emitMu.Lock()
	defer emitMu.Unlock()
	return emitted, err
}
