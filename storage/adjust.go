package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wallcast/wallcast/wall"
)

// Adjust changes how one media item of a post shows, on every wall that
// has the post: hidden, blurred, or with an alt text a moderator added
// where the author gave none. What the author wrote is left alone. Screens
// and consoles get an update event on each wall that shows the post (a
// pending event where it waits), and the audit keeps the item before and
// after.
func (db *DB) Adjust(ctx context.Context, slug, postID string, adj wall.Adjustment, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		var status string
		err := a.queryRow(`SELECT status FROM wall_posts WHERE wall = ? AND post_id = ?`, slug, postID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return wall.ErrNotFound
		}
		if err != nil {
			return err
		}
		p, err := a.loadPost(postID)
		if errors.Is(err, sql.ErrNoRows) {
			return wall.ErrNotFound
		}
		if err != nil {
			return err
		}
		if adj.Media < 0 || adj.Media >= len(p.Media) {
			return fmt.Errorf("the post has no media %d: %w", adj.Media, wall.ErrConflict)
		}
		m := &p.Media[adj.Media]
		before, _ := json.Marshal(m)
		if adj.Hide != nil {
			m.Hidden = *adj.Hide
		}
		if adj.Blur != nil {
			m.Blur = *adj.Blur
		}
		if adj.Alt != nil {
			alt := strings.TrimSpace(*adj.Alt)
			if m.Alt != "" && !m.AltByModerator {
				return fmt.Errorf("the author gave this media an alt text; it is theirs: %w", wall.ErrConflict)
			}
			m.Alt, m.AltByModerator = alt, alt != ""
		}
		after, _ := json.Marshal(m)
		data, _ := json.Marshal(p)
		if _, err := a.exec(`UPDATE posts SET data = ? WHERE id = ?`, string(data), postID); err != nil {
			return err
		}
		rows, err := a.tx.QueryContext(a.ctx, `SELECT wall, status FROM wall_posts WHERE post_id = ?`, postID)
		if err != nil {
			return err
		}
		type on struct{ wall, status string }
		var walls []on
		for rows.Next() {
			var o on
			rows.Scan(&o.wall, &o.status)
			walls = append(walls, o)
		}
		rows.Close()
		for _, o := range walls {
			if o.status == wall.StatusVisible {
				if _, err := a.appendEvent(o.wall, wall.EventUpdate, postID, data, false); err != nil {
					return err
				}
			}
			if o.status == wall.StatusPending { // the consoles show it as it now is
				q, _ := json.Marshal(wall.QueueItem{ID: postID, Status: o.status, By: user, Post: &p})
				if _, err := a.appendEvent(o.wall, wall.EventPending, postID, q, true); err != nil {
					return err
				}
			}
		}
		return a.audit(user, slug, "adjust", postID, fmt.Sprintf("media %d: %s -> %s", adj.Media, before, after))
	})
}
