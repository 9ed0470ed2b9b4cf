package sourcetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// Recorder is an Emit that keeps what a source emitted, one line per item
// as line writes it, and the last cursor.
type Recorder struct {
	line   func(wall.Item) string
	mu     sync.Mutex
	lines  []string
	cursor string
}

// NewRecorder records items as line writes them ("" leaves one out).
func NewRecorder(line func(wall.Item) string) *Recorder { return &Recorder{line: line} }

// Emit records an item.
func (r *Recorder) Emit(_ context.Context, it wall.Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.line(it); l != "" {
		r.lines = append(r.lines, l)
	}
	if it.Cursor != "" {
		r.cursor = it.Cursor
	}
	return nil
}

// Lines are the items recorded so far.
func (r *Recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// Cursor is the last cursor emitted.
func (r *Recorder) Cursor() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursor
}

// Has is, for Until, whether a recorded line contains s.
func (r *Recorder) Has(s string) func() bool {
	return func() bool { return strings.Contains(strings.Join(r.Lines(), "\n"), s) }
}

// AtLeast is, for Until, whether n items were recorded.
func (r *Recorder) AtLeast(n int) func() bool {
	return func() bool { return len(r.Lines()) >= n }
}

// Start runs a source in the background; stop ends it and fails the test
// if it ended with an error.
func Start(t testing.TB, src wall.Source, sub wall.Subscription, emit wall.Emit) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sub, emit) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}
