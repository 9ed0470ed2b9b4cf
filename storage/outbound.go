package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// OutboundCursor is how far an outbound endpoint got in the walls' log.
// An endpoint seen for the first time starts at the log's head: it is
// told of what happens from now on, not of the past.
func (db *DB) OutboundCursor(ctx context.Context, name string) (int64, error) {
	var cursor int64
	_, err := db.tx(ctx, func(a *applier) error {
		err := a.queryRow(`SELECT cursor FROM outbound WHERE name = ?`, name).Scan(&cursor)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := a.queryRow(`SELECT COALESCE(MAX(id), 0) FROM wall_events`).Scan(&cursor); err != nil {
			return err
		}
		_, err = a.exec(`INSERT INTO outbound (name, cursor) VALUES (?, ?)`, name, cursor)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage outbound %s: %w", name, err)
	}
	return cursor, nil
}

// SetOutboundCursor records that an endpoint is done with every event up
// to id; failed, when not empty, is why it gave up on event id.
func (db *DB) SetOutboundCursor(ctx context.Context, name string, id int64, failed string) error {
	_, err := db.tx(ctx, func(a *applier) error {
		if failed != "" {
			if _, err := a.exec(`INSERT OR REPLACE INTO outbound_failed (name, event, at, error) VALUES (?, ?, ?, ?)`, name, id, a.now, failed); err != nil {
				return err
			}
		}
		_, err := a.exec(`UPDATE outbound SET cursor = MAX(cursor, ?) WHERE name = ?`, id, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("storage outbound %s: %w", name, err)
	}
	return nil
}

// OutboundFailed counts the events an endpoint gave up on.
func (db *DB) OutboundFailed(ctx context.Context, name string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbound_failed WHERE name = ?`, name).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage outbound %s: %w", name, err)
	}
	return n, nil
}

// Log returns up to limit events of every wall after id, in commit order,
// the moderation queue's too, with the posts as they are now (a post no
// longer on its wall is left out of its post, update and pin events);
// through is the last id read, more whether limit rows were read.
func (db *DB) Log(ctx context.Context, after int64, limit int) (events []wall.Event, through int64, more bool, err error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.wall, e.type, e.data, p.data, COALESCE(p.deleted, 1), COALESCE(wp.status, ''), COALESCE(wp.pinned, 0)
		FROM wall_events e
		LEFT JOIN posts p ON p.id = e.post_id
		LEFT JOIN wall_posts wp ON wp.wall = e.wall AND wp.post_id = e.post_id
		WHERE e.id > ? ORDER BY e.id LIMIT ?`, after, limit)
	if err != nil {
		return nil, after, false, fmt.Errorf("storage log: %w", err)
	}
	defer rows.Close()
	through = after
	read := 0
	for rows.Next() {
		read++
		var (
			e               wall.Event
			data, post      sql.NullString
			deleted, pinned bool
			status          string
		)
		if err := rows.Scan(&e.Seq, &e.Wall, &e.Type, &data, &post, &deleted, &status, &pinned); err != nil {
			return nil, after, false, fmt.Errorf("storage log: %w", err)
		}
		through = e.Seq
		if !data.Valid {
			data.String = "{}"
		}
		ok, err := displayData(&e, data, post, deleted, status, pinned)
		if err != nil {
			return nil, after, false, fmt.Errorf("storage log: %w", err)
		}
		if ok {
			events = append(events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, after, false, fmt.Errorf("storage log: %w", err)
	}
	return events, through, read == limit, nil
}
