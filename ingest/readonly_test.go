//go:build cgo

package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// TestReadOnlyDiskPauses: SQLite's read-only error pauses ingest with
// that reason, and the first commit that succeeds resumes it.
func TestReadOnlyDiskPauses(t *testing.T) {
	db := testDB(t)
	store := &flakyStore{Store: db, failing: true, tried: make(chan struct{}, 1),
		err: fmt.Errorf("apply: %w", sqlite3.Error{Code: sqlite3.ErrReadonly})}
	p := New(store, publishFunc(func([]wall.Event) {}), NewRouter(testConfig(t, routingYAML)), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer p.Close()
	post := wall.Post{NativeID: "1", Text: "hi #devconf", Lang: "en", Author: wall.Author{Name: "A"}}
	acked := make(chan error, 1)
	if err := p.Emit(context.Background(), "masto", wall.Item{Kind: wall.ItemPost, Post: post, Ack: func(err error) { acked <- err }}); err != nil {
		t.Fatal(err)
	}
	<-store.tried
	// The pipeline records the failure just after the store refused.
	since, err := p.Failing()
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline); since, err = p.Failing() {
		time.Sleep(time.Millisecond)
	}
	if err == nil || since.IsZero() || storage.Problem(err) != "the database is read-only" {
		t.Fatalf("failing = %v, %v (%q)", since, err, storage.Problem(err))
	}
	store.mu.Lock()
	store.failing = false
	store.mu.Unlock()
	if err := <-acked; err != nil {
		t.Fatalf("ack after the disk came back: %v", err)
	}
	if _, err := p.Failing(); err != nil {
		t.Errorf("still failing after a commit: %v", err)
	}
}
