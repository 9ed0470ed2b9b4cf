package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

func TestAnnouncements(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	ev, err := db.Announce(ctx, "w", wall.Announcement{Text: "Doors open"}, "ana")
	if err != nil || len(ev) != 1 || ev[0].Type != wall.EventAnnounce {
		t.Fatalf("announce: %+v %v", ev, err)
	}
	db.Announce(ctx, "w", wall.Announcement{Text: "Lunch", ExpiresAt: now.Add(time.Minute)}, "ana")
	db.Announce(ctx, "other", wall.Announcement{Text: "Elsewhere"}, "ana")
	list, _ := db.Announcements(ctx, "w")
	if len(list) != 2 || list[0].Text != "Doors open" || list[0].ID == "" {
		t.Fatalf("announcements = %+v", list)
	}
	now = now.Add(2 * time.Minute) // Lunch has expired
	if list, _ = db.Announcements(ctx, "w"); len(list) != 1 {
		t.Errorf("after expiry: %+v", list)
	}
	ev, err = db.EndAnnouncement(ctx, "w", list[0].ID, "ana")
	if err != nil || len(ev) != 1 {
		t.Fatalf("end: %+v %v", ev, err)
	}
	if list, _ = db.Announcements(ctx, "w"); len(list) != 0 {
		t.Errorf("after end: %+v", list)
	}
	if _, err := db.EndAnnouncement(ctx, "w", "a999", "ana"); !errors.Is(err, wall.ErrNotFound) {
		t.Errorf("end of an unknown announcement: %v", err)
	}
}

// TestScheduledAnnouncement: an announcement that starts later reaches no
// screen before its start (no event, not in the snapshot), and gets its
// event once StartAnnouncements runs after the start; the console lists it.
func TestScheduledAnnouncement(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	ev, err := db.Announce(ctx, "w", wall.Announcement{Text: "Party in 30 days", StartsAt: now.Add(30 * 24 * time.Hour)}, "ana")
	if err != nil || len(ev) != 0 {
		t.Fatalf("a scheduled announcement made events: %+v %v", ev, err)
	}
	if snap, _ := db.Snapshot(ctx, "w", 10); len(snap.Announcements) != 0 {
		t.Errorf("the snapshot carries an announcement that has not started: %+v", snap.Announcements)
	}
	if list, _ := db.Announcements(ctx, "w"); len(list) != 1 {
		t.Errorf("the console does not list the scheduled one: %+v", list)
	}
	if ev, _ := db.StartAnnouncements(ctx); len(ev) != 0 {
		t.Errorf("started before its time: %+v", ev)
	}
	now = now.Add(30*24*time.Hour + time.Second)
	ev, err = db.StartAnnouncements(ctx)
	if err != nil || len(ev) != 1 || ev[0].Type != wall.EventAnnounce || ev[0].Wall != "w" {
		t.Fatalf("at its start: %+v %v", ev, err)
	}
	if ev, _ := db.StartAnnouncements(ctx); len(ev) != 0 {
		t.Errorf("started twice: %+v", ev)
	}
	if snap, _ := db.Snapshot(ctx, "w", 10); len(snap.Announcements) != 1 {
		t.Errorf("the snapshot after the start: %+v", snap.Announcements)
	}
}
