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

// tx runs fn in a write transaction with an applier, and returns the events
// it appended once committed.
func (db *DB) tx(ctx context.Context, fn func(a *applier) error) ([]wall.Event, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a := &applier{tx: tx, ctx: ctx, now: db.now().UnixMilli()}
	if err := fn(a); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return a.events, nil
}

func (a *applier) audit(user, w, action, target, detail string) error {
	_, err := a.exec(`INSERT INTO audit (at, user, wall, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		a.now, user, w, action, target, detail)
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

// Moderate applies one action to a post on a wall: the status change, its
// events (for screens and for the moderation queue) and the audit entry,
// in one transaction.
func (db *DB) Moderate(ctx context.Context, w, postID, action, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		var status string
		var pinned bool
		err := a.queryRow(`SELECT status, pinned FROM wall_posts WHERE wall = ? AND post_id = ?`, w, postID).Scan(&status, &pinned)
		if errors.Is(err, sql.ErrNoRows) {
			return wall.ErrNotFound
		}
		if err != nil {
			return err
		}
		p, err := a.loadPost(postID)
		if errors.Is(err, sql.ErrNoRows) {
			return wall.ErrNotFound // deleted upstream
		}
		if err != nil {
			return err
		}
		queue := func(st string) []byte {
			q := p
			b, _ := json.Marshal(wall.QueueItem{ID: postID, Status: st, By: user, Post: &q})
			return b
		}
		switch {
		case (action == wall.ActApprove && (status == wall.StatusPending || status == wall.StatusRejected)) ||
			(action == wall.ActRestore && (status == wall.StatusRemoved || status == wall.StatusRejected)):
			data, _ := json.Marshal(p)
			seq, err := a.appendEvent(w, wall.EventPost, postID, data, false)
			if err != nil {
				return err
			}
			if _, err := a.exec(`UPDATE wall_posts SET status = 'visible', reason = '', seq = ? WHERE wall = ? AND post_id = ?`, seq, w, postID); err != nil {
				return err
			}
			if _, err := a.appendEvent(w, wall.EventApproved, postID, queue(wall.StatusVisible), true); err != nil {
				return err
			}
		case action == wall.ActReject && (status == wall.StatusPending || status == wall.StatusVisible):
			if status == wall.StatusVisible {
				if err := a.setStatus(w, postID, wall.StatusRejected, "rejected by "+user, wall.EventRemove); err != nil {
					return err
				}
			} else if _, err := a.exec(`UPDATE wall_posts SET status = 'rejected', reason = ? WHERE wall = ? AND post_id = ?`, "rejected by "+user, w, postID); err != nil {
				return err
			}
			if _, err := a.appendEvent(w, wall.EventRejected, postID, queue(wall.StatusRejected), true); err != nil {
				return err
			}
		case action == wall.ActRemove && (status == wall.StatusVisible || status == wall.StatusPending):
			if err := a.setStatus(w, postID, wall.StatusRemoved, "removed by "+user, wall.EventRemove); err != nil {
				return err
			}
		case action == wall.ActPin && status == wall.StatusVisible && !pinned:
			if _, err := a.exec(`UPDATE wall_posts SET pinned = 1 WHERE wall = ? AND post_id = ?`, w, postID); err != nil {
				return err
			}
			p.Pinned = true
			data, _ := json.Marshal(p)
			if _, err := a.appendEvent(w, wall.EventPin, postID, data, true); err != nil {
				return err
			}
		case action == wall.ActUnpin && pinned:
			if _, err := a.exec(`UPDATE wall_posts SET pinned = 0 WHERE wall = ? AND post_id = ?`, w, postID); err != nil {
				return err
			}
			d, _ := json.Marshal(queueEntry{ID: postID})
			if _, err := a.appendEvent(w, wall.EventUnpin, postID, d, true); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s a %s post: %w", action, status, wall.ErrConflict)
		}
		return a.audit(user, w, action, postID, "")
	})
}

// AddRule stores a rule and removes the posts it catches that are on
// screen now (visible or pending) on the walls it applies to. catches
// decides for one post.
func (db *DB) AddRule(ctx context.Context, r wall.Rule, user string, catches func(wall.Post) bool) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		if _, err := a.exec(`INSERT OR IGNORE INTO rules (wall, kind, value, at, user) VALUES (?, ?, ?, ?, ?)`,
			r.Wall, r.Kind, r.Value, a.now, user); err != nil {
			return err
		}
		rows, err := a.tx.QueryContext(a.ctx, `SELECT wp.wall, wp.post_id, p.data FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
			WHERE (? = '*' OR wp.wall = ?) AND wp.status IN ('visible', 'pending') AND p.deleted = 0 ORDER BY wp.seq`, r.Wall, r.Wall)
		if err != nil {
			return err
		}
		type hit struct{ wall, id string }
		var hits []hit
		for rows.Next() {
			var w, id, data string
			if err := rows.Scan(&w, &id, &data); err != nil {
				rows.Close()
				return err
			}
			var p wall.Post
			if json.Unmarshal([]byte(data), &p) == nil && catches(p) {
				hits = append(hits, hit{w, id})
			}
		}
		rows.Close()
		for _, h := range hits {
			if err := a.setStatus(h.wall, h.id, wall.StatusRemoved, fmt.Sprintf("%s %q blocked by %s", r.Kind, r.Value, user), wall.EventRemove); err != nil {
				return err
			}
		}
		return a.audit(user, r.Wall, "block-"+r.Kind, r.Value, fmt.Sprintf("%d posts removed", len(hits)))
	})
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

// Announce stores an announcement and appends its event. data is the
// announcement's JSON without its id, which is added here.
func (db *DB) Announce(ctx context.Context, w string, a wall.Announcement, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(ap *applier) error {
		var expires int64
		if !a.ExpiresAt.IsZero() {
			expires = a.ExpiresAt.UnixMilli()
		}
		res, err := ap.exec(`INSERT INTO announcements (wall, data, expires) VALUES (?, '{}', ?)`, w, expires)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		a.ID = fmt.Sprintf("a%d", id)
		data, _ := json.Marshal(a)
		if _, err := ap.exec(`UPDATE announcements SET data = ? WHERE id = ?`, string(data), id); err != nil {
			return err
		}
		if _, err := ap.appendEvent(w, wall.EventAnnounce, "", data, true); err != nil {
			return err
		}
		return ap.audit(user, w, "announce", a.ID, a.Text)
	})
}

// EndAnnouncement takes an announcement off the screens.
func (db *DB) EndAnnouncement(ctx context.Context, w, id, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		n := strings.TrimPrefix(id, "a")
		res, err := a.exec(`UPDATE announcements SET ended = 1 WHERE wall = ? AND id = ? AND ended = 0`, w, n)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return wall.ErrNotFound
		}
		data, _ := json.Marshal(wall.Announcement{ID: id, Ended: true})
		if _, err := a.appendEvent(w, wall.EventAnnounce, "", data, true); err != nil {
			return err
		}
		return a.audit(user, w, "end-announcement", id, "")
	})
}

// Announcements returns a wall's announcements that are on screen now.
func (db *DB) Announcements(ctx context.Context, w string) ([]wall.Announcement, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT data FROM announcements WHERE wall = ? AND ended = 0 AND (expires = 0 OR expires > ?) ORDER BY id`,
		w, db.now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("storage announcements %s: %w", w, err)
	}
	defer rows.Close()
	var out []wall.Announcement
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var a wall.Announcement
		if err := json.Unmarshal([]byte(data), &a); err == nil {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// Queue is what the moderation page starts from.
func (db *DB) Queue(ctx context.Context, w string, n int) (wall.QueueState, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wall.QueueState{}, err
	}
	defer tx.Rollback()
	var st wall.QueueState
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM wall_events WHERE wall = ?`, w).Scan(&st.Head); err != nil {
		return st, err
	}
	list := func(status string, limit int, order string) ([]wall.QueueItem, error) {
		rows, err := tx.QueryContext(ctx, `SELECT wp.post_id, wp.status, wp.reason, wp.pinned, wp.seq, p.data FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
			WHERE wp.wall = ? AND wp.status = ? AND p.deleted = 0 ORDER BY wp.seq `+order+` LIMIT ?`, w, status, limit)
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
	rows, err := tx.QueryContext(ctx, `SELECT at, user, action, target, detail FROM audit WHERE wall = ? OR wall = '*' ORDER BY id DESC LIMIT 50`, w)
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
func (db *DB) ReplayAll(ctx context.Context, w string, after int64, limit int) ([]wall.Event, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.type, e.data, p.data FROM wall_events e LEFT JOIN posts p ON p.id = e.post_id
		WHERE e.wall = ? AND e.id > ? ORDER BY e.id LIMIT ?`, w, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage replay %s: %w", w, err)
	}
	defer rows.Close()
	var out []wall.Event
	for rows.Next() {
		e := wall.Event{Wall: w}
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

// CreateSession stores a session under the hash of its token.
func (db *DB) CreateSession(ctx context.Context, tokenHash string, s wall.Session) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sessions (token, user, role, csrf, expires, credential) VALUES (?, ?, ?, ?, ?, ?)`,
		tokenHash, s.User, s.Role, s.CSRF, s.Expires.UnixMilli(), s.Credential)
	if err != nil {
		return fmt.Errorf("storage session: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires < ?`, db.now().UnixMilli())
	return err
}

// Session finds a live session by the hash of its token.
func (db *DB) Session(ctx context.Context, tokenHash string) (wall.Session, bool, error) {
	var s wall.Session
	var exp int64
	err := db.read.QueryRowContext(ctx, `SELECT user, role, csrf, expires, credential FROM sessions WHERE token = ?`, tokenHash).Scan(&s.User, &s.Role, &s.CSRF, &exp, &s.Credential)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("storage session: %w", err)
	}
	s.Expires = time.UnixMilli(exp)
	return s, s.Expires.After(db.now()), nil
}

// DeleteSession logs a session out.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, tokenHash)
	return err
}

// SetDisplay stores a wall's display override (JSON) and appends the
// config event that moves its screens, with the audit entry.
func (db *DB) SetDisplay(ctx context.Context, w string, override, event []byte, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		if _, err := a.exec(`INSERT INTO display_overrides (wall, data) VALUES (?, ?)
			ON CONFLICT (wall) DO UPDATE SET data = excluded.data`, w, string(override)); err != nil {
			return err
		}
		if _, err := a.appendEvent(w, wall.EventConfig, "", event, true); err != nil {
			return err
		}
		return a.audit(user, w, "display", "", string(override))
	})
}

// Display returns a wall's display override ("" if none).
func (db *DB) Display(ctx context.Context, w string) (string, error) {
	var data string
	err := db.read.QueryRowContext(ctx, `SELECT data FROM display_overrides WHERE wall = ?`, w).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return data, err
}
