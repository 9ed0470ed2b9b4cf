package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wallcast/wallcast/wall"
)

// Announce stores an announcement and appends its event. data is the
// announcement's JSON without its id, which is added here.
func (db *DB) Announce(ctx context.Context, slug string, a wall.Announcement, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(ap *applier) error {
		var expires int64
		if !a.ExpiresAt.IsZero() {
			expires = a.ExpiresAt.UnixMilli()
		}
		res, err := ap.exec(`INSERT INTO announcements (wall, data, expires) VALUES (?, '{}', ?)`, slug, expires)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		a.ID = fmt.Sprintf("a%d", id)
		data, _ := json.Marshal(a)
		if _, err := ap.exec(`UPDATE announcements SET data = ? WHERE id = ?`, string(data), id); err != nil {
			return err
		}
		if _, err := ap.appendEvent(slug, wall.EventAnnounce, "", data, true); err != nil {
			return err
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

// Announcements returns a wall's announcements that are on screen now.
func (db *DB) Announcements(ctx context.Context, slug string) ([]wall.Announcement, error) {
	return read(ctx, db, "announcements", slug, (*applier).announcements)
}

func (a *applier) announcements(slug string) ([]wall.Announcement, error) {
	var out []wall.Announcement
	err := a.each(`SELECT data FROM announcements WHERE wall = ? AND ended = 0 AND (expires = 0 OR expires > ?) ORDER BY id`, []any{slug, a.now}, func(rows *sql.Rows) error {
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
