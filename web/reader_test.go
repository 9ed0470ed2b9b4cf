package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/web"
)

// sharedReader hands out one snapshot to every screen, as an edge does.
type sharedReader struct{ snap wall.Snapshot }

func (r *sharedReader) Snapshot(context.Context, string, int) (wall.Snapshot, error) {
	return r.snap, nil
}
func (r *sharedReader) Replay(context.Context, string, int64, int) ([]wall.Event, bool, error) {
	return nil, false, nil
}
func (r *sharedReader) Posts(context.Context, string, int64, int) ([]wall.Post, int64, error) {
	return nil, 0, nil
}
func (r *sharedReader) Display(context.Context, string) (string, error) { return "", nil }

// TestBackfillLeavesTheReadersSnapshotAlone: a featured post whose time is
// over is left out of a screen's backfill without changing the snapshot
// the reader holds (an edge shares it between screens).
func TestBackfillLeavesTheReadersSnapshotAlone(t *testing.T) {
	cfg, err := sources.Parse("t.yaml", []byte(testYAML), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := &sharedReader{snap: wall.Snapshot{Head: 7, Show: &wall.Show{Feature: &wall.Post{ID: "s:1"}, Until: time.Now().Add(-time.Minute)}}}
	hub := fanout.NewHub(16, 0)
	srv := web.NewServer(web.Options{Config: cfg, Store: r, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hub.Close(); srv.Close(); ts.Close() })
	e := &env{t: t, url: ts.URL}
	s := e.open("/walls/devconf/events")
	for {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == string(wall.EventShow) && ev.Data != `{}` {
			t.Errorf("show in the backfill: %s, want the feature left out", ev.Data)
		}
		if ev.Type == string(wall.EventReady) {
			break
		}
	}
	if r.snap.Show.Feature == nil {
		t.Error("the backfill changed the reader's snapshot")
	}
}
