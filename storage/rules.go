package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// AddRule stores a rule and applies it to the posts on the walls it
// covers: a ban or a blocked word removes those it catches that are
// visible or pending; a trusted author's pending posts are approved.
// catches decides for one post.
func (db *DB) AddRule(ctx context.Context, r wall.Rule, user string, catches func(wall.Post) bool) ([]wall.Event, []wall.Change, bool, error) {
	var changes []wall.Change
	var added bool
	events, err := db.tx(ctx, func(a *applier) error {
		res, err := a.exec(`INSERT OR IGNORE INTO rules (wall, kind, value, at, user) VALUES (?, ?, ?, ?, ?)`,
			r.Wall, r.Kind, r.Value, a.now, user)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added = n > 0
		statuses := "'visible', 'pending'"
		if r.Kind == wall.RuleTrusted {
			statuses = "'pending'"
		}
		rows, err := a.tx.QueryContext(a.ctx, `SELECT wp.wall, wp.post_id, wp.status, p.data FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
			WHERE (? = '*' OR wp.wall = ?) AND wp.status IN (`+statuses+`) AND p.deleted = 0 ORDER BY wp.seq`, r.Wall, r.Wall)
		if err != nil {
			return err
		}
		type hit struct {
			wall, id string
			post     wall.Post
		}
		var hits []hit
		for rows.Next() {
			var slug, id, status, data string
			if err := rows.Scan(&slug, &id, &status, &data); err != nil {
				rows.Close()
				return err
			}
			var p wall.Post
			if json.Unmarshal([]byte(data), &p) == nil && catches(p) {
				p.ID = id
				hits = append(hits, hit{slug, id, p})
				changes = append(changes, wall.Change{Wall: slug, ID: id, From: status})
			}
		}
		rows.Close()
		if r.Kind == wall.RuleTrusted {
			for _, h := range hits {
				if err := a.approve(h.wall, h.post, user); err != nil {
					return err
				}
			}
			return a.audit(user, r.Wall, "trust-author", r.Value, fmt.Sprintf("%d pending posts approved", len(hits)))
		}
		for _, h := range hits {
			if err := a.setStatus(h.wall, h.id, wall.StatusRemoved, fmt.Sprintf("%s %q blocked by %s", r.Kind, r.Value, user), wall.EventRemove); err != nil {
				return err
			}
		}
		return a.audit(user, r.Wall, "block-"+r.Kind, r.Value, fmt.Sprintf("%d posts removed", len(hits)))
	})
	if err != nil {
		return nil, nil, false, err
	}
	return events, changes, added, nil
}

// Rules lists the rules added at run time.
func (db *DB) Rules(ctx context.Context) ([]wall.Rule, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT wall, kind, value FROM rules ORDER BY at`)
	if err != nil {
		return nil, fmt.Errorf("storage rules: %w", err)
	}
	defer rows.Close()
	var out []wall.Rule
	for rows.Next() {
		var r wall.Rule
		if err := rows.Scan(&r.Wall, &r.Kind, &r.Value); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
