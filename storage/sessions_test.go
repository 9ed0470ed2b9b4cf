package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

func TestSessions(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	s := wall.Session{User: "ana", Role: "admin", CSRF: "c", Credential: "fp", Expires: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, "h1", s); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.Session(ctx, "h1")
	if err != nil || !ok || got.User != "ana" || got.Role != "admin" || got.CSRF != "c" || got.Credential != "fp" || !got.Expires.Equal(s.Expires) {
		t.Fatalf("session = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := db.Session(ctx, "unknown"); ok {
		t.Error("an unknown token found a session")
	}
	now = now.Add(2 * time.Hour)
	if _, ok, _ := db.Session(ctx, "h1"); ok {
		t.Error("an expired session is still live")
	}
	db.CreateSession(ctx, "h2", wall.Session{User: "mo", Expires: now.Add(time.Hour)})
	if err := db.DeleteSession(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Session(ctx, "h2"); ok {
		t.Error("a deleted session is still live")
	}
}
