package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wallcast/wallcast/wall"
)

// ForgetKey is how a forgotten author is remembered: the SHA-256 of the
// handle, lower case and without its leading '@'.
func ForgetKey(handle string) string {
	h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:])
}

// Forget deletes every stored post of an author (by handle, with or
// without the '@', in any case): their text, media and author fields go
// from the database, the walls that show them get a remove event, the
// copies in the consoles' events are emptied, and a tombstone keeps a
// repeat from upstream from being stored again. The audit entry names the
// author by the hash of the handle only. It returns how many posts went.
func (db *DB) Forget(ctx context.Context, handle, user string) ([]wall.Event, int, error) {
	key := ForgetKey(handle)
	plain := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
	if plain == "" {
		return nil, 0, fmt.Errorf("storage forget: no handle")
	}
	n := 0
	events, err := db.tx(ctx, func(a *applier) error {
		if _, err := a.exec(`INSERT OR IGNORE INTO forgotten (author, at) VALUES (?, ?)`, key, a.now); err != nil {
			return err
		}
		// An upload's author is a phone: its handle, or the name its
		// sender typed (someone asking for their photos back gives it).
		ids, err := column[string](a, `SELECT id FROM posts
			WHERE lower(ltrim(COALESCE(json_extract(data, '$.author.handle'), ''), '@')) = ?
			OR (json_extract(data, '$.network') = 'upload' AND lower(trim(COALESCE(json_extract(data, '$.author.name'), ''))) = ?)`, plain, plain)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := a.erase(id, "forgotten"); err != nil {
				return err
			}
			if _, err := a.exec(`DELETE FROM posts WHERE id = ?`, id); err != nil {
				return err
			}
		}
		if _, err := a.exec(`DELETE FROM votes WHERE author = ?`, plain); err != nil {
			return err
		}
		n = len(ids)
		// Bans and trust of the handle go (the tombstone keeps the author
		// out), and the audit names them by the hash only.
		// A ban names the handle ("@name@host"), a trust "source:handle".
		const handleOf = `lower(ltrim(trim(CASE WHEN kind = 'trusted' THEN substr(value, instr(value, ':') + 1) ELSE value END), '@'))`
		if _, err := a.exec(`DELETE FROM rules WHERE kind IN (?, ?) AND `+handleOf+` = ?`, wall.RuleAuthor, wall.RuleTrusted, plain); err != nil {
			return err
		}
		if _, err := a.exec(`UPDATE audit SET target = ? WHERE action IN ('block-author', 'trust-author') AND ?
			IN (lower(ltrim(trim(target), '@')), lower(ltrim(trim(substr(target, instr(target, ':') + 1)), '@')))`, "sha256:"+key[:16], plain); err != nil {
			return err
		}
		return a.audit(user, "*", "forget-author", "sha256:"+key[:16], fmt.Sprintf("%d posts deleted", n))
	})
	if err != nil {
		return nil, 0, fmt.Errorf("storage forget: %w", err)
	}
	db.forgetting.Store(true)
	return events, n, nil
}

// erase takes a post off every wall (reason says why) and erases every
// copy of it but its row in posts: the stream's (through purge), the
// events', the show's, the audit's, its votes.
func (a *applier) erase(id, reason string) error {
	shown, err := column[string](a, `SELECT wall FROM wall_posts WHERE post_id = ? AND status IN ('visible', 'pending')`, id)
	if err != nil {
		return err
	}
	for _, slug := range shown {
		if err := a.setStatus(slug, id, wall.StatusRemoved, reason, wall.EventRemove); err != nil {
			return err
		}
	}
	// The stream's copies of what carried the post (its post, update and
	// pin events, the show events featuring it) are erased by the
	// cluster's outbox.
	if _, err := a.exec(`INSERT OR IGNORE INTO purge (event) SELECT id FROM wall_events
		WHERE (post_id = ? AND type IN (?, ?, ?)) OR (type = ? AND json_extract(data, '$.feature.id') = ?)`,
		id, wall.EventPost, wall.EventUpdate, wall.EventPin, wall.EventShow, id); err != nil {
		return err
	}
	// What the consoles' events kept of the post goes too, and every copy
	// the show kept of it (a feature, even an ended one), and what the
	// audit kept of its media.
	if _, err := a.exec(`UPDATE wall_events SET data = json_object('id', post_id) WHERE post_id = ? AND data IS NOT NULL`, id); err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE wall_events SET data = json_remove(data, '$.feature', '$.until') WHERE type = ? AND json_extract(data, '$.feature.id') = ?`, wall.EventShow, id); err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE shows SET data = json_remove(data, '$.feature', '$.until') WHERE json_extract(data, '$.feature.id') = ?`, id); err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE audit SET detail = '' WHERE action = 'adjust' AND target = ?`, id); err != nil {
		return err
	}
	if _, err := a.exec(`DELETE FROM votes WHERE post_id = ?`, id); err != nil {
		return err
	}
	_, err = a.exec(`DELETE FROM wall_posts WHERE post_id = ?`, id)
	return err
}

// erasePost is a delete that leaves nothing of the post but a tombstone:
// its sender took it back.
func (a *applier) erasePost(source string, p wall.Post) error {
	if err := a.erase(p.ID, "deleted by its sender"); err != nil {
		return err
	}
	_, err := a.exec(`INSERT INTO posts (id, source, native_id, data, deleted, stored_at) VALUES (?, ?, ?, '{}', 1, ?)
		ON CONFLICT (id) DO UPDATE SET data = '{}', deleted = 1`, p.ID, source, p.NativeID, a.now)
	return err
}

// MediaInUse returns the files of the media store that posts still name:
// the pictures of the live posts sent from phones.
func (db *DB) MediaInUse(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	rows, err := db.read.QueryContext(ctx, `SELECT json_extract(m.value, '$.url') FROM posts p, json_each(p.data, '$.media') m
		WHERE json_extract(p.data, '$.network') = 'upload' AND p.deleted = 0`)
	if err != nil {
		return nil, fmt.Errorf("storage media in use: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u sql.NullString
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		if name, ok := strings.CutPrefix(u.String, "/media/"); ok {
			out[name] = true
		}
	}
	return out, rows.Err()
}

// forgotten reports whether a post's author was forgotten.
func (a *applier) forgotten(p wall.Post) (bool, error) {
	if !a.forgetting || p.Author.Handle == "" {
		return false, nil
	}
	var one int
	err := a.queryRow(`SELECT COUNT(*) FROM forgotten WHERE author = ?`, ForgetKey(p.Author.Handle)).Scan(&one)
	return one > 0, err
}

// Authors returns, per wall, the handles of every author it has a post
// from, whatever its status (the known authors of hold_if new_author).
func (db *DB) Authors(ctx context.Context) (map[string][]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT wp.wall, json_extract(p.data, '$.author.handle')
		FROM wall_posts wp JOIN posts p ON p.id = wp.post_id WHERE json_extract(p.data, '$.author.handle') != ''`)
	if err != nil {
		return nil, fmt.Errorf("storage authors: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var slug, handle string
		if err := rows.Scan(&slug, &handle); err != nil {
			return nil, err
		}
		out[slug] = append(out[slug], handle)
	}
	return out, rows.Err()
}

// Purges lists the events whose messages on the cluster's stream a forget
// asked to erase.
func (db *DB) Purges(ctx context.Context) ([]int64, error) {
	return read(ctx, db, "purges", "", func(a *applier, _ string) ([]int64, error) {
		return column[int64](a, `SELECT event FROM purge ORDER BY event LIMIT 100000`)
	})
}

// Purged notes that the stream's copies of events were erased.
func (db *DB) Purged(ctx context.Context, events []int64) error {
	_, err := db.tx(ctx, func(a *applier) error {
		for _, id := range events {
			if _, err := a.exec(`DELETE FROM purge WHERE event = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}
