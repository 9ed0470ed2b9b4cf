// Package storage keeps Wallcast's state in SQLite: posts deduplicated by
// source and native id, each wall's append-only event log, and source cursors.
//
// There is one writer connection (SQLite allows one writer at a time) and a
// pool of readers; WAL mode lets them run side by side.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver
	"github.com/wallcast/wallcast/wall"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a Wallcast database.
type DB struct {
	write *sql.DB
	read  *sql.DB
	now   func() time.Time
	// forgetting: some author was forgotten, so each new post is checked
	// against the tombstones (none: no query per post).
	forgetting atomic.Bool
	// polling: some poll was opened, so new posts are checked for votes.
	polling atomic.Bool
	// version is the writer's last PRAGMA data_version (0: not read).
	version atomic.Int64
}

var _ wall.Store = (*DB)(nil)

// private makes the database file readable by its owner only (it holds
// session hashes, CSRF tokens and the audit log) before SQLite opens it:
// SQLite creates the -wal and -shm files with the database file's mode.
// A file that exists already is narrowed to 0600, with its -wal and -shm.
func private(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Open opens (creating it if needed) the database at path and applies the
// migrations it has not seen yet.
func Open(path string) (*DB, error) {
	if err := private(path); err != nil {
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "5000")
	// NORMAL in WAL mode: a commit survives a crash of the process; only a
	// power loss can take the last transactions back.
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	// What is deleted is overwritten: a forgotten author's data does not
	// linger in free pages of the file.
	q.Set("_secure_delete", "on")
	base := "file:" + path + "?"
	w, err := sql.Open("sqlite3", base+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	db := &DB{write: w, now: time.Now}
	if err := db.migrate(); err != nil {
		w.Close()
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	rq := url.Values{}
	rq.Set("_foreign_keys", "on")
	rq.Set("_busy_timeout", "5000")
	rq.Set("_query_only", "true")
	r, err := sql.Open("sqlite3", base+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	// Readers stay open once opened: a closed SQLite connection leaves its
	// file open (its locks are shared with the others) until every
	// connection to the file closes, and reopening costs a schema parse.
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.read = r
	if err := db.flags(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage %s: %w", path, err)
	}
	return db, nil
}

// flags reads what spares a query per post: whether any author was
// forgotten, any poll is open.
func (db *DB) flags(ctx context.Context) error {
	var any bool
	if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM forgotten)`).Scan(&any); err != nil {
		return err
	}
	db.forgetting.Store(any)
	if err := db.write.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM polls WHERE closed = 0)`).Scan(&any); err != nil {
		return err
	}
	db.polling.Store(any)
	return nil
}

// Foreign reports whether another process (wallcast forget) committed to
// the database since the last call: PRAGMA data_version on the writer,
// the only connection of this process that writes. When it did, the
// flags that depend on the data are read again. The first call notes the
// version and reports false.
func (db *DB) Foreign(ctx context.Context) (bool, error) {
	var v int64
	if err := db.write.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("storage data_version: %w", err)
	}
	if prev := db.version.Swap(v); prev == 0 || prev == v {
		return false, nil
	}
	return true, db.flags(ctx)
}

// Connections is how many SQLite connections are open: the writer and the
// readers' pool (at most 8), each holding the database and its WAL open.
func (db *DB) Connections() int {
	return db.write.Stats().OpenConnections + db.read.Stats().OpenConnections
}

// Close closes the database after a final WAL checkpoint.
func (db *DB) Close() error {
	_, _ = db.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return errors.Join(db.read.Close(), db.write.Close())
}

// migrate applies, in order and one transaction each, the embedded
// migrations numbered above PRAGMA user_version.
func (db *DB) migrate() error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var version int
	if err := db.write.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for i, name := range names {
		n := i + 1
		if n <= version {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.write.Begin()
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", n)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// Apply commits a batch of ingested items in one transaction and returns the
// events it appended, in commit order.
func (db *DB) Apply(ctx context.Context, batch []wall.Write) ([]wall.Event, error) {
	events, err := db.tx(ctx, func(a *applier) error {
		for _, w := range batch {
			if err := a.apply(w); err != nil {
				return fmt.Errorf("%s: %w", w.Source, err)
			}
		}
		// One poll event per poll a batch voted in, with its counts.
		for id, slug := range a.polls {
			if err := a.pollEvent(slug, id); err != nil {
				return fmt.Errorf("poll: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage apply: %w", err)
	}
	return events, nil
}

func (a *applier) apply(w wall.Write) error {
	p := w.Item.Post
	switch w.Item.Kind {
	case wall.ItemPost:
		if err := a.insertPost(p, w.Targets); err != nil {
			return err
		}
	case wall.ItemUpdate:
		if err := a.updatePost(p, w.Targets); err != nil {
			return err
		}
	case wall.ItemDelete:
		if w.Item.Sweep {
			if err := a.sweep(w.Source, p); err != nil {
				return err
			}
		} else if w.Item.Erase {
			if err := a.erasePost(w.Source, p); err != nil {
				return err
			}
		} else if err := a.deletePost(w.Source, p, w.Item.IfKnown); err != nil {
			return err
		}
	}
	if w.Item.Cursor != "" {
		_, err := a.exec(`INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			w.Source, w.Item.Cursor, a.now)
		if err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
	}
	return nil
}

func (a *applier) insertPost(p wall.Post, targets []wall.Target) error {
	if gone, err := a.forgotten(p); err != nil || gone {
		return err // an author who asked to be forgotten is not stored again
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	res, err := a.exec(`INSERT OR IGNORE INTO posts (id, source, native_id, data, stored_at) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Source, p.NativeID, string(data), a.now)
	if err != nil {
		return fmt.Errorf("insert post %s: %w", p.ID, err)
	}
	// A post new to the store is on no wall yet: the common case takes two
	// statements per wall. A known one may be a tombstone or on some walls.
	n, err := res.RowsAffected()
	known := err != nil || n == 0
	if known {
		var deleted bool
		if err := a.queryRow(`SELECT deleted FROM posts WHERE id = ?`, p.ID).Scan(&deleted); err != nil {
			return fmt.Errorf("insert post %s: %w", p.ID, err)
		}
		if deleted {
			return nil // a tombstone: the upstream repeat of a deleted post
		}
	}
	for _, t := range targets {
		if known {
			var one int
			err := a.queryRow(`SELECT 1 FROM wall_posts WHERE wall = ? AND post_id = ?`, t.Wall, p.ID).Scan(&one)
			if err == nil {
				continue // already on this wall: a duplicate
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("wall %s post %s: %w", t.Wall, p.ID, err)
			}
		}
		typ := map[string]wall.EventType{wall.StatusVisible: wall.EventPost, wall.StatusPending: wall.EventPending, wall.StatusRejected: wall.EventRejected}[t.Status]
		var payload []byte
		if typ == wall.EventPost {
			payload = data
		} else {
			q := p
			payload, _ = json.Marshal(wall.QueueItem{ID: p.ID, Status: t.Status, Reason: t.Reason, Post: &q})
		}
		seq, err := a.appendEvent(t.Wall, typ, p.ID, payload, typ != wall.EventPost)
		if err != nil {
			return err
		}
		if _, err := a.exec(`INSERT INTO wall_posts (wall, post_id, status, reason, seq, network, arrived, held, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Wall, p.ID, t.Status, t.Reason, seq, p.Network, a.now, t.Status == wall.StatusPending, t.Status == wall.StatusVisible); err != nil {
			return fmt.Errorf("wall %s post %s: %w", t.Wall, p.ID, err)
		}
		if t.Status != wall.StatusRejected {
			if err := a.vote(t.Wall, p); err != nil {
				return fmt.Errorf("wall %s post %s: vote: %w", t.Wall, p.ID, err)
			}
		}
	}
	return nil
}

// queueEntry is the payload of moderation queue events.
type queueEntry struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

func (a *applier) updatePost(p wall.Post, targets []wall.Target) error {
	var deleted bool
	err := a.queryRow(`SELECT deleted FROM posts WHERE id = ?`, p.ID).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return a.insertPost(p, targets) // an edit of a post we never saw
	}
	if err != nil || deleted {
		return err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE posts SET data = ? WHERE id = ?`, string(data), p.ID); err != nil {
		return fmt.Errorf("update post %s: %w", p.ID, err)
	}
	for _, t := range targets {
		var status string
		var pinned bool
		err := a.queryRow(`SELECT status, pinned FROM wall_posts WHERE wall = ? AND post_id = ?`, t.Wall, p.ID).Scan(&status, &pinned)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := a.insertPost(p, []wall.Target{t}); err != nil {
				return err
			}
		case err != nil:
			return err
		case status == wall.StatusVisible && t.Status == wall.StatusRejected:
			if err := a.setStatus(t.Wall, p.ID, wall.StatusRejected, t.Reason, wall.EventRemove); err != nil {
				return err
			}
		case status == wall.StatusVisible:
			q := p
			q.Pinned = pinned
			d, _ := json.Marshal(q)
			if _, err := a.appendEvent(t.Wall, wall.EventUpdate, p.ID, d, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *applier) deletePost(source string, p wall.Post, ifKnown bool) error {
	res, err := a.exec(`UPDATE posts SET deleted = 1 WHERE id = ?`, p.ID)
	if err != nil {
		return fmt.Errorf("delete post %s: %w", p.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if ifKnown {
			return nil
		}
		// Never seen: keep a tombstone so a late repeat is not shown.
		_, err := a.exec(`INSERT OR IGNORE INTO posts (id, source, native_id, data, deleted, stored_at) VALUES (?, ?, ?, '{}', 1, ?)`,
			p.ID, source, p.NativeID, a.now)
		return err
	}
	rows, err := a.tx.QueryContext(a.ctx, `SELECT wall FROM wall_posts WHERE post_id = ? AND status IN ('visible', 'pending') ORDER BY wall`, p.ID)
	if err != nil {
		return err
	}
	var walls []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			rows.Close()
			return err
		}
		walls = append(walls, w)
	}
	rows.Close()
	for _, w := range walls {
		if err := a.setStatus(w, p.ID, wall.StatusRemoved, "deleted upstream", wall.EventRemove); err != nil {
			return err
		}
	}
	return nil
}

// sweep deletes every post of source whose native id starts with
// p.NativeID and, when p.Author.Handle is set, that author wrote.
func (a *applier) sweep(source string, p wall.Post) error {
	prefix := wall.PostID(source, p.NativeID)
	rows, err := a.tx.QueryContext(a.ctx, `SELECT id, data FROM posts WHERE id >= ? AND id < ? AND deleted = 0`, prefix, prefix+"\xff")
	if err != nil {
		return fmt.Errorf("sweep %s: %w", prefix, err)
	}
	var ids []string
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			rows.Close()
			return fmt.Errorf("sweep %s: %w", prefix, err)
		}
		if p.Author.Handle != "" {
			var q wall.Post
			if json.Unmarshal([]byte(data), &q) != nil || !strings.EqualFold(q.Author.Handle, p.Author.Handle) {
				continue
			}
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sweep %s: %w", prefix, err)
	}
	for _, id := range ids {
		if err := a.deletePost(source, wall.Post{ID: id}, true); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) setStatus(slug, postID, status, reason string, typ wall.EventType) error {
	if _, err := a.exec(`UPDATE wall_posts SET status = ?, reason = ?, pinned = 0 WHERE wall = ? AND post_id = ?`,
		status, reason, slug, postID); err != nil {
		return err
	}
	if err := a.decided(slug, postID, status); err != nil {
		return err
	}
	d, _ := json.Marshal(queueEntry{ID: postID})
	if _, err := a.appendEvent(slug, typ, postID, d, true); err != nil {
		return err
	}
	if status != wall.StatusVisible {
		if err := a.recount(slug, postID); err != nil {
			return err
		}
		return a.unfeature(slug, postID)
	}
	return nil
}

// unfeature ends the feature of a post that leaves its wall: the show
// state no longer names it, and screens get the new state.
func (a *applier) unfeature(slug, postID string) error {
	var data string
	err := a.queryRow(`SELECT data FROM shows WHERE wall = ?`, slug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	var st wall.Show
	if json.Unmarshal([]byte(data), &st) != nil || st.Feature == nil || st.Feature.ID != postID {
		return nil
	}
	st.Feature, st.Until = nil, time.Time{}
	kept, _ := json.Marshal(st)
	if _, err := a.exec(`UPDATE shows SET data = ? WHERE wall = ?`, string(kept), slug); err != nil {
		return err
	}
	_, err = a.appendEvent(slug, wall.EventShow, "", kept, true)
	return err
}

// appendEvent adds an event to a wall's log. Post and update events keep no
// data of their own: a replay reads the post as it is now.
func (a *applier) appendEvent(slug string, typ wall.EventType, postID string, data []byte, keep bool) (int64, error) {
	var stored any
	if keep {
		stored = string(data)
	}
	var pid any
	if postID != "" {
		pid = postID
	}
	res, err := a.exec(`INSERT INTO wall_events (wall, type, post_id, data, at) VALUES (?, ?, ?, ?, ?)`,
		slug, typ, pid, stored, a.now)
	if err != nil {
		return 0, fmt.Errorf("append %s event to %s: %w", typ, slug, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	a.events = append(a.events, wall.Event{Seq: seq, Wall: slug, Type: typ, Data: data})
	return seq, nil
}

// AppendEvent appends one event that carries its own data (announce, config)
// to a wall's log.
func (db *DB) AppendEvent(ctx context.Context, slug string, typ wall.EventType, data []byte) (wall.Event, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return wall.Event{}, err
	}
	defer tx.Rollback()
	a := applier{tx: tx, ctx: ctx, now: db.now().UnixMilli()}
	if _, err := a.appendEvent(slug, typ, "", data, true); err != nil {
		return wall.Event{}, err
	}
	if err := tx.Commit(); err != nil {
		return wall.Event{}, err
	}
	return a.events[0], nil
}

// Snapshot returns the newest n visible posts of a wall (pinned posts always
// included, first), oldest first, and the head of the wall's log.
func (db *DB) Snapshot(ctx context.Context, slug string, n int) (wall.Snapshot, error) {
	var snap wall.Snapshot
	err := db.reading(ctx, func(a *applier) error {
		if err := a.queryRow(`SELECT COALESCE(MAX(id), 0) FROM wall_events WHERE wall = ?`, slug).Scan(&snap.Head); err != nil {
			return err
		}
		err := a.each(`SELECT * FROM (
				SELECT wp.seq, p.data, wp.pinned FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
				WHERE wp.wall = ? AND wp.status = 'visible' AND p.deleted = 0 AND wp.pinned = 0
				ORDER BY wp.seq DESC LIMIT ?)
			UNION ALL
			SELECT wp.seq, p.data, wp.pinned FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
				WHERE wp.wall = ? AND wp.status = 'visible' AND p.deleted = 0 AND wp.pinned = 1
			ORDER BY 3, 1`, []any{slug, n, slug}, func(rows *sql.Rows) error {
			var seq int64
			var data string
			var pinned bool
			if err := rows.Scan(&seq, &data, &pinned); err != nil {
				return err
			}
			var p wall.Post
			if err := json.Unmarshal([]byte(data), &p); err != nil {
				return fmt.Errorf("post %d: %w", seq, err)
			}
			p.Pinned = pinned
			snap.Posts = append(snap.Posts, p)
			return nil
		})
		if err != nil {
			return err
		}
		return a.joins(slug, &snap)
	})
	if err != nil {
		return snap, fmt.Errorf("storage snapshot %s: %w", slug, err)
	}
	return snap, nil
}

// joins adds to a snapshot, in its transaction, what a screen joins
// besides the posts: the active announcements, the show (when it is not
// simply live), the open poll and the display override.
func (a *applier) joins(slug string, snap *wall.Snapshot) error {
	var err error
	if snap.Announcements, err = a.announcements(slug, false); err != nil {
		return err
	}
	st, err := a.showState(slug)
	if err != nil {
		return err
	}
	if st.Paused || st.Feature != nil || st.Slide != nil {
		snap.Show = &st
	}
	if snap.Poll, err = a.currentPoll(slug); err != nil {
		return err
	}
	if snap.Poll != nil && snap.Poll.Closed {
		snap.Poll = nil
	}
	if snap.Room, err = a.room(slug); err != nil {
		return err
	}
	snap.Display, err = a.display(slug)
	return err
}

// Replay returns up to limit display events of a wall after seq, skipping
// post and update events of posts that are no longer visible, so a replay
// never brings back a removed post.
func (db *DB) Replay(ctx context.Context, slug string, after int64, limit int) ([]wall.Event, bool, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, false, fmt.Errorf("storage replay %s: %w", slug, err)
	}
	defer tx.Rollback()
	var pruned, last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT pruned_through FROM walls WHERE slug = ?), 0)`, slug).Scan(&pruned); err != nil {
		return nil, false, fmt.Errorf("storage replay %s: %w", slug, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'wall_events'), 0)`).Scan(&last); err != nil {
		return nil, false, fmt.Errorf("storage replay %s: %w", slug, err)
	}
	if after < pruned || after > last {
		return nil, false, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.type, e.data, p.data, COALESCE(p.deleted, 1), COALESCE(wp.status, ''), COALESCE(wp.pinned, 0)
		FROM wall_events e
		LEFT JOIN posts p ON p.id = e.post_id
		LEFT JOIN wall_posts wp ON wp.wall = e.wall AND wp.post_id = e.post_id
		WHERE e.wall = ? AND e.id > ? AND e.type NOT IN (`+placeholders(len(wall.QueueOnly))+`)
		ORDER BY e.id LIMIT ?`, replayArgs(slug, after, limit)...)
	if err != nil {
		return nil, false, fmt.Errorf("storage replay %s: %w", slug, err)
	}
	defer rows.Close()
	var out []wall.Event
	for rows.Next() {
		var (
			e               = wall.Event{Wall: slug}
			data, post      sql.NullString
			deleted, pinned bool
			status          string
		)
		if err := rows.Scan(&e.Seq, &e.Type, &data, &post, &deleted, &status, &pinned); err != nil {
			return nil, false, err
		}
		ok, err := displayData(&e, data, post, deleted, status, pinned)
		if err != nil {
			return nil, false, fmt.Errorf("storage replay %s: %w", slug, err)
		}
		if ok {
			out = append(out, e)
		}
	}
	return out, true, rows.Err()
}

// Posts returns a page of a wall's visible posts, newest first.
func (db *DB) Posts(ctx context.Context, slug string, before int64, limit int) ([]wall.Post, int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT wp.seq, p.data, wp.pinned FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
		WHERE wp.wall = ? AND wp.status = 'visible' AND p.deleted = 0 AND (? = 0 OR wp.seq < ?)
		ORDER BY wp.seq DESC LIMIT ?`, slug, before, before, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("storage posts %s: %w", slug, err)
	}
	defer rows.Close()
	var (
		out  []wall.Post
		next int64
	)
	for rows.Next() {
		var data string
		var pinned bool
		if err := rows.Scan(&next, &data, &pinned); err != nil {
			return nil, 0, err
		}
		var p wall.Post
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return nil, 0, fmt.Errorf("storage posts %s: %w", slug, err)
		}
		p.Pinned = pinned
		out = append(out, p)
	}
	if len(out) < limit {
		next = 0
	}
	return out, next, rows.Err()
}

// Cursor returns the saved cursor of a source.
func (db *DB) Cursor(ctx context.Context, source string) (string, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT value FROM cursors WHERE source = ?`, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("storage cursor %s: %w", source, err)
	}
	return v, nil
}

// Prune deletes events and posts stored before cutoff, except posts pinned
// on a wall. Screens that resume from a deleted event get a reset.
func (db *DB) Prune(ctx context.Context, cutoff time.Time) (events, posts int64, err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("storage prune: %w", err)
	}
	defer tx.Rollback()
	c := cutoff.UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO walls (slug, pruned_through)
		SELECT wall, MAX(id) FROM wall_events WHERE at < ? GROUP BY wall
		ON CONFLICT (slug) DO UPDATE SET pruned_through = MAX(pruned_through, excluded.pruned_through)`, c); err != nil {
		return 0, 0, fmt.Errorf("storage prune: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM wall_events WHERE at < ?`, c)
	if err != nil {
		return 0, 0, fmt.Errorf("storage prune: %w", err)
	}
	events, _ = res.RowsAffected()
	res, err = tx.ExecContext(ctx, `DELETE FROM posts WHERE stored_at < ? AND id NOT IN (SELECT post_id FROM wall_posts WHERE pinned = 1)`, c)
	if err != nil {
		return 0, 0, fmt.Errorf("storage prune: %w", err)
	}
	posts, _ = res.RowsAffected()
	return events, posts, tx.Commit()
}

// displayData fills in a display event's data as a replay sends it: post
// events carry the post as it is now, and are left out (false) when the
// post is no longer on the wall.
func displayData(e *wall.Event, data, post sql.NullString, deleted bool, status string, pinned bool) (bool, error) {
	switch e.Type {
	case wall.EventPost, wall.EventUpdate, wall.EventPin:
		if deleted || status != wall.StatusVisible || !post.Valid {
			return false, nil
		}
		var p wall.Post
		if err := json.Unmarshal([]byte(post.String), &p); err != nil {
			return false, fmt.Errorf("event %d: %w", e.Seq, err)
		}
		p.Pinned = pinned || e.Type == wall.EventPin
		e.Data, _ = json.Marshal(p)
	default:
		e.Data = json.RawMessage(data.String)
	}
	return true, nil
}

// placeholders is n SQL parameters: "?, ?, ?".
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// replayArgs are the replay query's arguments: the queue-only event types
// sit between the wall and the limit.
func replayArgs(slug string, after int64, limit int) []any {
	args := []any{slug, after}
	for _, t := range wall.QueueOnly {
		args = append(args, t)
	}
	return append(args, limit)
}
