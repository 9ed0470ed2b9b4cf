package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
)

func (a *applier) audit(user, slug, action, target, detail string) error {
	_, err := a.exec(`INSERT INTO audit (at, user, wall, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		a.now, user, slug, action, target, detail)
	return err
}

// loadPost reads a post's current data.
func (a *applier) loadPost(id string) (wall.Post, error) {
	var data string
	if err := a.queryRow(`SELECT data FROM posts WHERE id = ? AND deleted = 0`, id).Scan(&data); err != nil {
		return wall.Post{}, err
	}
	var p wall.Post
	err := json.Unmarshal([]byte(data), &p)
	return p, err
}

// Verdict applies a decision taken after ingest (the classifier's) to a
// post that is still pending on a wall: visible shows it, rejected
// rejects it, pending keeps it held with a new reason. A post a moderator
// has dealt with meanwhile is left alone.
func (db *DB) Verdict(ctx context.Context, slug, postID, status, reason, by string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		var cur string
		err := a.queryRow(`SELECT status FROM wall_posts WHERE wall = ? AND post_id = ?`, slug, postID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && cur != wall.StatusPending) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := a.loadPost(postID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted upstream meanwhile
		}
		if err != nil {
			return err
		}
		if status == wall.StatusVisible {
			return a.approve(slug, p, by)
		}
		if _, err := a.exec(`UPDATE wall_posts SET status = ?, reason = ? WHERE wall = ? AND post_id = ?`, status, reason, slug, postID); err != nil {
			return err
		}
		if err := a.decided(slug, postID, status); err != nil {
			return err
		}
		typ := map[string]wall.EventType{wall.StatusPending: wall.EventPending, wall.StatusRejected: wall.EventRejected}[status]
		q, _ := json.Marshal(wall.QueueItem{ID: postID, Status: status, Reason: reason, By: by, Post: &p})
		_, err = a.appendEvent(slug, typ, postID, q, true)
		return err
	})
}

// approve shows a post on a wall: its post event for the screens, then
// the approved event for the consoles.
func (a *applier) approve(slug string, p wall.Post, user string) error {
	data, _ := json.Marshal(p)
	seq, err := a.appendEvent(slug, wall.EventPost, p.ID, data, false)
	if err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE wall_posts SET status = 'visible', reason = '', seq = ? WHERE wall = ? AND post_id = ?`, seq, slug, p.ID); err != nil {
		return err
	}
	if err := a.decided(slug, p.ID, wall.StatusVisible); err != nil {
		return err
	}
	q, _ := json.Marshal(wall.QueueItem{ID: p.ID, Status: wall.StatusVisible, By: user, Post: &p})
	_, err = a.appendEvent(slug, wall.EventApproved, p.ID, q, true)
	return err
}

// decided notes a post's new status on a wall for the report: whether it
// was ever shown, and when a post held on arrival was first decided on.
func (a *applier) decided(slug, postID, status string) error {
	_, err := a.exec(`UPDATE wall_posts SET shown = shown OR ? = 'visible',
		decided = CASE WHEN held = 1 AND decided = 0 AND ? != 'pending' THEN ? ELSE decided END
		WHERE wall = ? AND post_id = ?`, status, status, a.now, slug, postID)
	return err
}

// Moderate applies one action to a post on a wall: the status change, its
// events (for screens and for the moderation queue) and the audit entry,
// in one transaction.
func (db *DB) Moderate(ctx context.Context, slug, postID, action, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		if _, err := a.moderate(slug, postID, action, user); err != nil {
			return err
		}
		return a.audit(user, slug, action, postID, "")
	})
}

// ModerateMany applies one action to several posts of a wall in one
// transaction with one audit entry listing them, and returns what each
// changed post was before, for an undo. Posts the action does not fit (or
// that are gone) are skipped; with a single post named, that is an error
// (ErrConflict or ErrNotFound), as Moderate has it.
func (db *DB) ModerateMany(ctx context.Context, slug string, ids []string, action, user string) ([]wall.Event, []wall.Change, error) {
	var changes []wall.Change
	events, err := db.tx(ctx, func(a *applier) error {
		for _, id := range ids {
			from, err := a.moderate(slug, id, action, user)
			if len(ids) > 1 && (errors.Is(err, wall.ErrConflict) || errors.Is(err, wall.ErrNotFound)) {
				continue
			}
			if err != nil {
				return err
			}
			changes = append(changes, wall.Change{ID: id, From: from})
		}
		done := make([]string, len(changes))
		for i, c := range changes {
			done[i] = c.ID
		}
		if len(ids) == 1 {
			return a.audit(user, slug, action, ids[0], "")
		}
		return a.audit(user, slug, "bulk-"+action, fmt.Sprintf("%d posts", len(done)), strings.Join(done, " "))
	})
	if err != nil {
		return nil, nil, err
	}
	return events, changes, nil
}

// Undo puts posts back as they were before an action: shown again,
// pending again, or off the screens again, with the events screens and
// consoles need, and one audit entry; with a rule, the rule the action
// added goes too.
func (db *DB) Undo(ctx context.Context, slug string, changes []wall.Change, rule *wall.Rule, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		if rule != nil {
			if _, err := a.exec(`DELETE FROM rules WHERE wall = ? AND kind = ? AND value = ?`, rule.Wall, rule.Kind, rule.Value); err != nil {
				return err
			}
		}
		var ids []string
		for _, c := range changes {
			slug := slug
			if c.Wall != "" {
				slug = c.Wall
			}
			var cur string
			err := a.queryRow(`SELECT status FROM wall_posts WHERE wall = ? AND post_id = ?`, slug, c.ID).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if cur == c.From {
				continue
			}
			p, err := a.loadPost(c.ID)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if c.From == wall.StatusVisible {
				if err := a.approve(slug, p, user); err != nil {
					return err
				}
				ids = append(ids, c.ID)
				continue
			}
			if cur == wall.StatusVisible {
				if err := a.setStatus(slug, c.ID, c.From, "", wall.EventRemove); err != nil {
					return err
				}
			} else if _, err := a.exec(`UPDATE wall_posts SET status = ?, reason = '' WHERE wall = ? AND post_id = ?`, c.From, slug, c.ID); err != nil {
				return err
			} else if err := a.decided(slug, c.ID, c.From); err != nil {
				return err
			}
			typ := map[string]wall.EventType{wall.StatusPending: wall.EventPending, wall.StatusRejected: wall.EventRejected}[c.From]
			if typ != "" {
				q, _ := json.Marshal(wall.QueueItem{ID: c.ID, Status: c.From, By: user, Post: &p})
				if _, err := a.appendEvent(slug, typ, c.ID, q, true); err != nil {
					return err
				}
			}
			ids = append(ids, c.ID)
		}
		return a.audit(user, slug, "undo", fmt.Sprintf("%d posts", len(ids)), strings.Join(ids, " "))
	})
}

// moderate applies one action to one post and returns its status before.
func (a *applier) moderate(slug, postID, action, user string) (string, error) {
	var status string
	var pinned bool
	err := a.queryRow(`SELECT status, pinned FROM wall_posts WHERE wall = ? AND post_id = ?`, slug, postID).Scan(&status, &pinned)
	if errors.Is(err, sql.ErrNoRows) {
		return "", wall.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	p, err := a.loadPost(postID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", wall.ErrNotFound // deleted upstream
	}
	if err != nil {
		return "", err
	}
	queue := func(st string) []byte {
		q := p
		b, _ := json.Marshal(wall.QueueItem{ID: postID, Status: st, By: user, Post: &q})
		return b
	}
	switch {
	case (action == wall.ActApprove && (status == wall.StatusPending || status == wall.StatusRejected)) ||
		(action == wall.ActRestore && (status == wall.StatusRemoved || status == wall.StatusRejected)):
		if err := a.approve(slug, p, user); err != nil {
			return "", err
		}
	case action == wall.ActReject && (status == wall.StatusPending || status == wall.StatusVisible):
		if status == wall.StatusVisible {
			if err := a.setStatus(slug, postID, wall.StatusRejected, "rejected by "+user, wall.EventRemove); err != nil {
				return "", err
			}
		} else if _, err := a.exec(`UPDATE wall_posts SET status = 'rejected', reason = ? WHERE wall = ? AND post_id = ?`, "rejected by "+user, slug, postID); err != nil {
			return "", err
		} else if err := a.decided(slug, postID, wall.StatusRejected); err != nil {
			return "", err
		}
		if _, err := a.appendEvent(slug, wall.EventRejected, postID, queue(wall.StatusRejected), true); err != nil {
			return "", err
		}
	case action == wall.ActRemove && (status == wall.StatusVisible || status == wall.StatusPending):
		if err := a.setStatus(slug, postID, wall.StatusRemoved, "removed by "+user, wall.EventRemove); err != nil {
			return "", err
		}
	case action == wall.ActPin && status == wall.StatusVisible && !pinned:
		if _, err := a.exec(`UPDATE wall_posts SET pinned = 1 WHERE wall = ? AND post_id = ?`, slug, postID); err != nil {
			return "", err
		}
		p.Pinned = true
		data, _ := json.Marshal(p)
		if _, err := a.appendEvent(slug, wall.EventPin, postID, data, true); err != nil {
			return "", err
		}
	case action == wall.ActUnpin && pinned:
		if _, err := a.exec(`UPDATE wall_posts SET pinned = 0 WHERE wall = ? AND post_id = ?`, slug, postID); err != nil {
			return "", err
		}
		d, _ := json.Marshal(queueEntry{ID: postID})
		if _, err := a.appendEvent(slug, wall.EventUnpin, postID, d, true); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("%s a %s post: %w", action, status, wall.ErrConflict)
	}
	return status, nil
}

// Queue is what the moderation page starts from.
func (db *DB) Queue(ctx context.Context, slug string, n int) (wall.QueueState, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wall.QueueState{}, err
	}
	defer tx.Rollback()
	var st wall.QueueState
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM wall_events WHERE wall = ?`, slug).Scan(&st.Head); err != nil {
		return st, err
	}
	list := func(status string, limit int, order string) ([]wall.QueueItem, error) {
		rows, err := tx.QueryContext(ctx, `SELECT wp.post_id, wp.status, wp.reason, wp.pinned, wp.seq, p.data FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
			WHERE wp.wall = ? AND wp.status = ? AND p.deleted = 0 ORDER BY wp.seq `+order+` LIMIT ?`, slug, status, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []wall.QueueItem
		for rows.Next() {
			var q wall.QueueItem
			var data string
			if err := rows.Scan(&q.ID, &q.Status, &q.Reason, &q.Pinned, &q.Seq, &data); err != nil {
				return nil, err
			}
			var p wall.Post
			if json.Unmarshal([]byte(data), &p) == nil {
				p.Pinned = q.Pinned
				q.Post = &p
			}
			out = append(out, q)
		}
		return out, rows.Err()
	}
	if st.Pending, err = list(wall.StatusPending, 500, "ASC"); err != nil {
		return st, err
	}
	if st.Visible, err = list(wall.StatusVisible, n, "DESC"); err != nil {
		return st, err
	}
	if st.Rejected, err = list(wall.StatusRejected, n, "DESC"); err != nil {
		return st, err
	}
	if st.Removed, err = list(wall.StatusRemoved, n, "DESC"); err != nil {
		return st, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT at, user, action, target, detail FROM audit WHERE wall = ? OR wall = '*' ORDER BY id DESC LIMIT 50`, slug)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var e wall.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.User, &e.Action, &e.Target, &e.Detail); err != nil {
			return st, err
		}
		e.At = time.UnixMilli(at).UTC()
		st.Audit = append(st.Audit, e)
	}
	return st, rows.Err()
}

// ReplayAll returns every event of a wall after seq, for the moderation
// queue: queue events included, post events with the post as it is now.
func (db *DB) ReplayAll(ctx context.Context, slug string, after int64, limit int) ([]wall.Event, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.type, e.data, p.data FROM wall_events e LEFT JOIN posts p ON p.id = e.post_id
		WHERE e.wall = ? AND e.id > ? ORDER BY e.id LIMIT ?`, slug, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage replay %s: %w", slug, err)
	}
	defer rows.Close()
	var out []wall.Event
	for rows.Next() {
		e := wall.Event{Wall: slug}
		var data, post sql.NullString
		if err := rows.Scan(&e.Seq, &e.Type, &data, &post); err != nil {
			return nil, err
		}
		switch {
		case data.Valid:
			e.Data = json.RawMessage(data.String)
		case post.Valid:
			e.Data = json.RawMessage(post.String)
		default:
			e.Data = json.RawMessage(`{}`)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
