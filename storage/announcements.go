package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wallcast/wallcast/wall"
)

// Announce stores an announcement and appends its event; a scheduled one
// gets its event when it starts (StartAnnouncements), so no screen
// receives it before.
func (db *DB) Announce(ctx context.Context, slug string, a wall.Announcement, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(ap *applier) error {
		var expires, starts int64
		if !a.ExpiresAt.IsZero() {
			expires = a.ExpiresAt.UnixMilli()
		}
		if !a.StartsAt.IsZero() && a.StartsAt.UnixMilli() > ap.now {
			starts = a.StartsAt.UnixMilli()
		}
		res, err := ap.exec(`INSERT INTO announcements (wall, data, expires, starts, announced) VALUES (?, '{}', ?, ?, ?)`, slug, expires, starts, starts == 0)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		a.ID = fmt.Sprintf("a%d", id)
		data, _ := json.Marshal(a)
		if _, err := ap.exec(`UPDATE announcements SET data = ? WHERE id = ?`, string(data), id); err != nil {
			return err
		}
		if starts == 0 {
			if _, err := ap.appendEvent(slug, wall.EventAnnounce, "", data, true); err != nil {
				return err
			}
		}
		return ap.audit(user, slug, "announce", a.ID, a.Text)
	})
}

// EndAnnouncement takes an announcement off the screens.
func (db *DB) EndAnnouncement(ctx context.Context, slug, id, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		n := strings.TrimPrefix(id, "a")
		res, err := a.exec(`UPDATE announcements SET ended = 1 WHERE wall = ? AND id = ? AND ended = 0`, slug, n)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return wall.ErrNotFound
		}
		data, _ := json.Marshal(wall.Announcement{ID: id, Ended: true})
		if _, err := a.appendEvent(slug, wall.EventAnnounce, "", data, true); err != nil {
			return err
		}
		return a.audit(user, slug, "end-announcement", id, "")
	})
}

// StartAnnouncements appends the event of every scheduled announcement
// whose start has come: from then on screens show it.
func (db *DB) StartAnnouncements(ctx context.Context) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		type due struct {
			id         int64
			wall, data string
		}
		var list []due
		err := a.each(`SELECT id, wall, data FROM announcements WHERE announced = 0 AND starts <= ? AND ended = 0 ORDER BY id`, []any{a.now}, func(rows *sql.Rows) error {
			var d due
			if err := rows.Scan(&d.id, &d.wall, &d.data); err != nil {
				return err
			}
			list = append(list, d)
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range list {
			if _, err := a.exec(`UPDATE announcements SET announced = 1 WHERE id = ?`, d.id); err != nil {
				return err
			}
			if _, err := a.appendEvent(d.wall, wall.EventAnnounce, "", []byte(d.data), true); err != nil {
				return err
			}
		}
		return nil
	})
}

// Announcements returns a wall's announcements that have not ended, the
// scheduled ones included (the console's list).
func (db *DB) Announcements(ctx context.Context, slug string) ([]wall.Announcement, error) {
	return read(ctx, db, "announcements", slug, func(a *applier, slug string) ([]wall.Announcement, error) { return a.announcements(slug, true) })
}

// announcements lists a wall's announcements that have not ended; those
// that have not started only with scheduled (screens never get them).
func (a *applier) announcements(slug string, scheduled bool) ([]wall.Announcement, error) {
	var out []wall.Announcement
	err := a.each(`SELECT data FROM announcements WHERE wall = ? AND ended = 0 AND (expires = 0 OR expires > ?) AND (? OR starts <= ?) ORDER BY id`, []any{slug, a.now, scheduled, a.now}, func(rows *sql.Rows) error {
		var data string
		if err := rows.Scan(&data); err != nil {
			return err
		}
		var an wall.Announcement
		if json.Unmarshal([]byte(data), &an) == nil {
			out = append(out, an)
		}
		return nil
	})
	return out, err
}
