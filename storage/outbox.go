package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// Outbox returns the display events of every wall after the event id
// after, in commit order, as a replay sends them: it reads up to limit
// events and says the last id it read (events left out, a post no longer
// on its wall, are passed over) and whether there may be more.
func (db *DB) Outbox(ctx context.Context, after int64, limit int) (out []wall.Outgoing, through int64, more bool, err error) {
	q := `SELECT e.id, e.wall, e.type, e.data, p.data, COALESCE(p.deleted, 1), COALESCE(wp.status, ''), COALESCE(wp.pinned, 0),
			COALESCE((SELECT MAX(b.id) FROM wall_events b WHERE b.wall = e.wall AND b.id < e.id AND b.type NOT IN (` + placeholders(len(wall.QueueOnly)) + `)), 0)
		FROM wall_events e
		LEFT JOIN posts p ON p.id = e.post_id
		LEFT JOIN wall_posts wp ON wp.wall = e.wall AND wp.post_id = e.post_id
		WHERE e.id > ? AND e.type NOT IN (` + placeholders(len(wall.QueueOnly)) + `)
		ORDER BY e.id LIMIT ?`
	var args []any
	for _, t := range wall.QueueOnly {
		args = append(args, t)
	}
	args = append(args, after)
	for _, t := range wall.QueueOnly {
		args = append(args, t)
	}
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, after, false, fmt.Errorf("storage outbox: %w", err)
	}
	defer rows.Close()
	through = after
	read := 0
	for rows.Next() {
		read++
		var (
			o               wall.Outgoing
			data, post      sql.NullString
			deleted, pinned bool
			status          string
		)
		if err := rows.Scan(&o.Seq, &o.Wall, &o.Type, &data, &post, &deleted, &status, &pinned, &o.Prev); err != nil {
			return nil, after, false, fmt.Errorf("storage outbox: %w", err)
		}
		through = o.Seq
		ok, err := displayData(&o.Event, data, post, deleted, status, pinned)
		if err != nil {
			return nil, after, false, fmt.Errorf("storage outbox %s: %w", o.Wall, err)
		}
		if ok {
			out = append(out, o)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, after, false, fmt.Errorf("storage outbox: %w", err)
	}
	return out, through, read == limit, nil
}

// Published is how far a stream has acknowledged the outbox (an event id).
func (db *DB) Published(ctx context.Context, stream string) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT published FROM outbox WHERE stream = ?`, stream).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("storage outbox %s: %w", stream, err)
	}
	return n, nil
}

// SetPublished records that a stream acknowledged the outbox through id.
func (db *DB) SetPublished(ctx context.Context, stream string, id int64) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO outbox (stream, published) VALUES (?, ?)
		ON CONFLICT (stream) DO UPDATE SET published = MAX(published, excluded.published)`, stream, id)
	if err != nil {
		return fmt.Errorf("storage outbox %s: %w", stream, err)
	}
	return nil
}

// Head is the newest event id of all walls (0: none).
func (db *DB) Head(ctx context.Context) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM wall_events`).Scan(&n)
	return n, err
}
