package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wallcast/wallcast/wall"
)

// SetDisplay stores a wall's display override (JSON) and appends the
// config event that moves its screens, with the audit entry.
func (db *DB) SetDisplay(ctx context.Context, slug string, override, event []byte, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		if _, err := a.exec(`INSERT INTO display_overrides (wall, data) VALUES (?, ?)
			ON CONFLICT (wall) DO UPDATE SET data = excluded.data`, slug, string(override)); err != nil {
			return err
		}
		if _, err := a.appendEvent(slug, wall.EventConfig, "", event, true); err != nil {
			return err
		}
		return a.audit(user, slug, "display", "", string(override))
	})
}

// Display returns a wall's display override ("" if none).
func (db *DB) Display(ctx context.Context, slug string) (string, error) {
	return read(ctx, db, "display", slug, (*applier).display)
}

func (a *applier) display(slug string) (string, error) {
	var data string
	err := a.queryRow(`SELECT data FROM display_overrides WHERE wall = ?`, slug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return data, err
}
