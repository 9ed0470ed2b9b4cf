package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// Translated stores a post's translation into lang, made from its HTML
// source, and tells the walls that show it (an update event each). A
// translation of HTML the post no longer has (it was edited meanwhile) or
// of a post that is gone is dropped: it returns no event.
func (db *DB) Translated(ctx context.Context, postID, source, lang string, tr wall.Translation) ([]wall.Event, error) {
	events, err := db.tx(ctx, func(a *applier) error {
		var data string
		err := a.queryRow(`SELECT data FROM posts WHERE id = ? AND deleted = 0`, postID).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var p wall.Post
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return err
		}
		if p.HTML != source {
			return nil
		}
		if p.Translations == nil {
			p.Translations = map[string]wall.Translation{}
		}
		p.Translations[lang] = tr
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := a.exec(`UPDATE posts SET data = ? WHERE id = ?`, string(b), postID); err != nil {
			return err
		}
		type shown struct {
			slug, status, reason string
			pinned               bool
		}
		var on []shown
		err = a.each(`SELECT wall, status, reason, pinned FROM wall_posts WHERE post_id = ? AND status IN ('visible', 'pending') ORDER BY wall`, []any{postID}, func(rows *sql.Rows) error {
			on = append(on, shown{})
			s := &on[len(on)-1]
			return rows.Scan(&s.slug, &s.status, &s.reason, &s.pinned)
		})
		if err != nil {
			return err
		}
		for _, s := range on {
			q := p
			q.Pinned = s.pinned
			if s.status == wall.StatusPending {
				// The moderators see the translation of what they decide on.
				d, _ := json.Marshal(wall.QueueItem{ID: postID, Status: s.status, Reason: s.reason, Post: &q})
				if _, err := a.appendEvent(s.slug, wall.EventPending, postID, d, true); err != nil {
					return err
				}
				continue
			}
			d, _ := json.Marshal(q)
			if _, err := a.appendEvent(s.slug, wall.EventUpdate, postID, d, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage translated %s: %w", postID, err)
	}
	return events, nil
}
