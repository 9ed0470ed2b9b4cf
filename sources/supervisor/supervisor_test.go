package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/mastodon"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// fakeSource runs a script: run n calls step(n).
type fakeSource struct {
	runs atomic.Int32
	step func(ctx context.Context, n int, emit wall.Emit) error
}

func (f *fakeSource) Run(ctx context.Context, _ wall.Subscription, emit wall.Emit) error {
	return f.step(ctx, int(f.runs.Add(1)), emit)
}

func newSup() *Supervisor {
	s := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.BaseDelay, s.MaxDelay = time.Millisecond, 5*time.Millisecond
	return s
}

func waitHealth(t *testing.T, s *Supervisor, ok func(wall.SourceHealth) bool) wall.SourceHealth {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h := s.Health(); len(h) == 1 && ok(h[0]) {
			return h[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("health never reached the expected state: %+v", s.Health())
	return wall.SourceHealth{}
}

func nopEmit(context.Context, wall.Item) error { return nil }

func TestRestartsWithBackoffAndRecordsHealth(t *testing.T) {
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		if n <= 2 {
			return errors.New("connection reset")
		}
		upstream.SetState(ctx, "connected")
		emit(ctx, wall.Item{Kind: wall.ItemPost, Post: wall.Post{NativeID: "1"}})
		<-ctx.Done()
		return nil
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit})
	h := waitHealth(t, s, func(h wall.SourceHealth) bool { return h.State == "connected" && !h.LastPost.IsZero() })
	if h.Errors != 2 || !strings.Contains(h.LastError, "connection reset") {
		t.Errorf("health = %+v", h)
	}
	cancel()
	s.Wait()
	if h := s.Health(); h[0].State != "stopped" {
		t.Errorf("after cancel state = %q", h[0].State)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		return upstream.RetryAfter(errors.New("HTTP 429"), time.Hour)
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit})
	h := waitHealth(t, s, func(h wall.SourceHealth) bool { return h.State == "backoff" })
	if wait := time.Until(h.NextRetry); wait < 59*time.Minute {
		t.Errorf("next retry in %v, want about an hour", wait)
	}
	if n := src.runs.Load(); n != 1 {
		t.Errorf("runs = %d, want 1", n)
	}
}

func TestDetectsStall(t *testing.T) {
	restarted := make(chan struct{})
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		if n == 2 {
			close(restarted)
		}
		upstream.Arm(ctx) // a stream that then goes silent
		<-ctx.Done()
		return ctx.Err()
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit, Stall: 30 * time.Millisecond})
	select {
	case <-restarted:
	case <-time.After(5 * time.Second):
		t.Fatal("a silent stream was not restarted")
	}
	if h := s.Health()[0]; !strings.Contains(h.LastError, "stalled") {
		t.Errorf("last error = %q", h.LastError)
	}
}

func TestHeartbeatsKeepStreamAlive(t *testing.T) {
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		upstream.Arm(ctx)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for i := 0; i < 40; i++ { // 200 ms of heartbeats, far past the stall timeout
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				upstream.Alive(ctx)
			}
		}
		return errors.New("done")
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit, Stall: 50 * time.Millisecond})
	h := waitHealth(t, s, func(h wall.SourceHealth) bool { return h.Errors > 0 })
	if h.LastError != "done" {
		t.Errorf("a stream with heartbeats was cut: %q", h.LastError)
	}
}

func TestPermanentErrorStops(t *testing.T) {
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		return upstream.Permanent(errors.New("401: token lacks read:statuses"))
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit})
	h := waitHealth(t, s, func(h wall.SourceHealth) bool { return h.State == "error" })
	if !strings.Contains(h.LastError, "read:statuses") {
		t.Errorf("health = %+v", h)
	}
	cancel()
	s.Wait()
	if n := src.runs.Load(); n != 1 {
		t.Errorf("runs = %d: a permanent error was retried", n)
	}
}

func TestBackoffBounds(t *testing.T) {
	s := newSup()
	s.BaseDelay, s.MaxDelay = time.Second, time.Minute
	for attempt, ceil := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		var sum time.Duration
		for i := 0; i < 200; i++ {
			d := s.backoff(attempt)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", attempt, d, ceil)
			}
			sum += d
		}
		// Full jitter: the mean sits near the middle, not at the ceiling.
		if mean := sum / 200; mean < ceil/4 || mean > 3*ceil/4 {
			t.Errorf("backoff(%d) mean = %v for ceiling %v", attempt, mean, ceil)
		}
	}
	if d := s.backoff(40); d > time.Minute {
		t.Errorf("backoff(40) = %v, above the cap", d)
	}
}

// TestMastodonStallReconnects: a Mastodon stream that goes silent (no
// ":thump") is cut by the supervisor and reconnected.
func TestMastodonStallReconnects(t *testing.T) {
	var streams atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/streaming/") {
			streams.Add(1)
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ":)\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // then silence
			return
		}
		io.WriteString(w, "[]")
	}))
	defer srv.Close()
	set := &mastodon.Settings{Instance: srv.URL, Mode: "stream", PollInterval: config.Duration(time.Second)}
	set.Defaults()
	c := config.Source{Name: "m", Type: "mastodon", Settings: set}
	src, err := mastodon.Open(c, upstream.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, Spec{Name: "m", Type: "mastodon", Source: src, Emit: nopEmit, Stall: 50 * time.Millisecond,
		Sub: wall.Subscription{Hashtags: []string{"devconf"}}})
	deadline := time.Now().Add(5 * time.Second)
	for streams.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := streams.Load(); n < 2 {
		t.Fatalf("stream connections = %d: the stalled stream was not reconnected", n)
	}
	cancel()
	s.Wait()
}

// TestHealthErrorsCarryNoSecrets: what health records of an error has no
// query string or credential; its public form also has no upstream body.
func TestHealthErrorsCarryNoSecrets(t *testing.T) {
	src := &fakeSource{step: func(ctx context.Context, n int, emit wall.Emit) error {
		if n == 1 {
			return fmt.Errorf("rss blog: fetch https://feeds.example/rss?api_key=SECRETKEY: %w", &upstream.StatusError{Code: 500, Body: "stack trace with SECRETBODY"})
		}
		<-ctx.Done()
		return nil
	}}
	s := newSup()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Start(ctx, Spec{Name: "f", Type: "fake", Source: src, Emit: nopEmit})
	h := waitHealth(t, s, func(h wall.SourceHealth) bool { return h.Errors == 1 })
	if strings.Contains(h.LastError, "SECRETKEY") || !strings.Contains(h.LastError, "HTTP 500") {
		t.Errorf("last error = %q", h.LastError)
	}
	if strings.Contains(h.PublicError, "SECRETKEY") || strings.Contains(h.PublicError, "SECRETBODY") || !strings.Contains(h.PublicError, "https://feeds.example/rss?…") {
		t.Errorf("public error = %q", h.PublicError)
	}
}
