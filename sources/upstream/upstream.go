// Package upstream is what every source adapter shares: the HTTP client
// settings, the errors that tell the supervisor how to retry, and the
// monitor through which a source reports its state and liveness.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// RetryAfterError asks the supervisor to wait at least After before the
// next try; with Exact, to wait exactly After (an upstream that prescribes
// its own reconnection schedule).
type RetryAfterError struct {
	After time.Duration
	Err   error
	Exact bool
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After.Round(time.Second))
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err with a wait the upstream asked for.
func RetryAfter(err error, d time.Duration) error { return &RetryAfterError{After: d, Err: err} }

// RetryExactly asks the supervisor to wait exactly d before the next try.
func RetryExactly(err error, d time.Duration) error {
	return &RetryAfterError{After: d, Err: err, Exact: true}
}

// PermanentError stops a source: retrying cannot help (a revoked token, a
// missing scope). The operator must act; a config reload restarts it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error { return &PermanentError{Err: err} }

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// StatusError is an unexpected HTTP status from an upstream.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// CheckResponse turns a non-2xx response into an error the supervisor
// understands: 429 and 503 honour Retry-After; 401 and 403 are permanent.
// It reads a little of the body for the message and closes it.
func CheckResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	err := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(snippet))}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return Permanent(err)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return RetryAfter(err, d)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return RetryAfter(err, time.Minute)
		}
	}
	return err
}

// NewClient returns the HTTP client adapters use: bounded connect, TLS and
// header times, but no overall timeout, since streams stay open for hours
// (pollers pass a context deadline instead).
func NewClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t}
}

// MaxBody is the most an adapter reads of one upstream document.
const MaxBody = 16 << 20

// ErrTooLarge is returned by a LimitedBody read past MaxBody.
var ErrTooLarge = errors.New("upstream document larger than 16 MiB")

// ReadBody reads a whole response body, up to MaxBody.
func ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBody {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Monitor receives what a running source says about itself.
type Monitor struct {
	mu       sync.Mutex
	state    wall.State
	note     string
	armed    atomic.Int32 // requests and streams waiting for bytes
	lastByte atomic.Int64 // unix nanos
}

// NewMonitor returns a monitor in state "starting".
func NewMonitor() *Monitor {
	m := &Monitor{state: wall.StateStarting}
	m.lastByte.Store(time.Now().UnixNano())
	return m
}

// State returns the state the source last reported, and its note.
func (m *Monitor) State() (wall.State, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.note
}

// Stalled reports whether an armed stream has sent nothing for longer than d.
func (m *Monitor) Stalled(d time.Duration, now time.Time) bool {
	return m.armed.Load() > 0 && now.Sub(time.Unix(0, m.lastByte.Load())) > d
}

type monitorKey struct{}

// WithMonitor attaches a monitor to a source's context.
func WithMonitor(ctx context.Context, m *Monitor) context.Context {
	return context.WithValue(ctx, monitorKey{}, m)
}

func monitor(ctx context.Context) *Monitor {
	m, _ := ctx.Value(monitorKey{}).(*Monitor)
	return m
}

// SetState reports the source's state (connected: streaming; polling),
// with an optional note for the console ("live only: …").
func SetState(ctx context.Context, state wall.State, note ...string) {
	if m := monitor(ctx); m != nil {
		m.mu.Lock()
		m.state, m.note = state, strings.Join(note, "; ")
		m.mu.Unlock()
	}
}

// Arm starts stall detection for one request or stream: until the
// returned disarm is called, a source that receives no bytes for its stall
// timeout is cut and restarted. A poller arms each request, a stream its
// whole life; they nest.
func Arm(ctx context.Context) (disarm func()) {
	m := monitor(ctx)
	if m == nil {
		return func() {}
	}
	m.lastByte.Store(time.Now().UnixNano())
	m.armed.Add(1)
	var once sync.Once
	return func() { once.Do(func() { m.armed.Add(-1) }) }
}

// Alive records that bytes (data or a heartbeat) arrived.
func Alive(ctx context.Context) {
	if m := monitor(ctx); m != nil {
		m.lastByte.Store(time.Now().UnixNano())
	}
}

// AliveReader wraps a stream body so every read that returns bytes counts
// as a sign of life.
func AliveReader(ctx context.Context, r io.Reader) io.Reader {
	m := monitor(ctx)
	if m == nil {
		return r
	}
	return &aliveReader{r: r, m: m}
}

type aliveReader struct {
	r io.Reader
	m *Monitor
}

func (a *aliveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.m.lastByte.Store(time.Now().UnixNano())
	}
	return n, err
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Poll reports the state "polling" and calls fn every interval until ctx
// ends (nil) or fn fails (its error).
func Poll(ctx context.Context, every time.Duration, fn func() error) error {
	SetState(ctx, wall.StatePolling)
	for {
		if err := Sleep(ctx, every); err != nil {
			return nil
		}
		if err := fn(); err != nil {
			if ctx.Err() != nil {
				return nil // cut short by the end, not failed
			}
			return err
		}
	}
}

// NewerID compares the ids of networks that number posts with growing
// decimal strings (Mastodon, X): a is newer than b.
func NewerID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// Recent remembers the last ids a source emitted, so the gap fill after a
// reconnect does not emit again what the stream already gave (and the
// reverse). Storage would drop the repeat; this keeps it off the hot path.
// An id is added only once its emit succeeded: one refused by a busy
// ingest must be fetched again, not skipped.
type Recent struct {
	mu    sync.Mutex
	max   int
	order []string
	set   map[string]struct{}
}

// NewRecent remembers up to n ids.
func NewRecent(n int) *Recent { return &Recent{max: n, set: make(map[string]struct{}, n)} }

// Has reports whether id was emitted lately.
func (r *Recent) Has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

// Add records that id was emitted.
func (r *Recent) Add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[id]; ok {
		return
	}
	if len(r.order) >= r.max {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	r.order = append(r.order, id)
	r.set[id] = struct{}{}
}

// Ping calls ping every d until ctx ends; each answer is a sign of life,
// so a quiet stream (a WebSocket whose server sends only what matches)
// is not taken for a dead one.
func Ping(ctx context.Context, every time.Duration, ping func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if ping(pctx) == nil {
				Alive(ctx)
			}
			cancel()
		}
	}
}
