package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// OpenPoll opens a poll on a wall, closing the one open there, and sends
// it to the screens.
func (db *DB) OpenPoll(ctx context.Context, slug string, p wall.Poll, user string) ([]wall.Event, wall.Poll, error) {
	events, err := db.tx(ctx, func(a *applier) error {
		if err := a.closePolls(slug); err != nil {
			return err
		}
		var closes int64
		if !p.ClosesAt.IsZero() {
			closes = p.ClosesAt.UnixMilli()
		}
		res, err := a.exec(`INSERT INTO polls (wall, data, closes) VALUES (?, '{}', ?)`, slug, closes)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		p.ID = "p" + strconv.FormatInt(id, 10)
		for i := range p.Options {
			p.Options[i].Votes = 0
		}
		data, _ := json.Marshal(p)
		if _, err := a.exec(`UPDATE polls SET data = ? WHERE id = ?`, string(data), id); err != nil {
			return err
		}
		if _, err := a.appendEvent(slug, wall.EventPoll, "", data, true); err != nil {
			return err
		}
		return a.audit(user, slug, "poll-open", p.ID, p.Question)
	})
	if err != nil {
		return nil, wall.Poll{}, fmt.Errorf("storage poll: %w", err)
	}
	db.polling.Store(true)
	return events, p, nil
}

// ClosePoll closes a wall's poll; its result stays for the report.
func (db *DB) ClosePoll(ctx context.Context, slug, id, user string) ([]wall.Event, error) {
	return db.tx(ctx, func(a *applier) error {
		n, err := strconv.ParseInt(strings.TrimPrefix(id, "p"), 10, 64)
		if err != nil {
			return wall.ErrNotFound
		}
		var closed bool
		if err := a.queryRow(`SELECT closed FROM polls WHERE id = ? AND wall = ?`, n, slug).Scan(&closed); errors.Is(err, sql.ErrNoRows) {
			return wall.ErrNotFound
		} else if err != nil {
			return err
		}
		if closed {
			return fmt.Errorf("the poll is closed: %w", wall.ErrConflict)
		}
		if err := a.closePolls(slug); err != nil {
			return err
		}
		return a.audit(user, slug, "poll-close", id, "")
	})
}

// closePolls closes the open polls of a wall, each with a final poll
// event. Under the transaction.
func (a *applier) closePolls(slug string) error {
	ids, err := column[int64](a, `SELECT id FROM polls WHERE wall = ? AND closed = 0`, slug)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := a.exec(`UPDATE polls SET closed = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if err := a.pollEvent(slug, id); err != nil {
			return err
		}
	}
	return nil
}

// loadPoll reads a poll with its counts.
func (a *applier) loadPoll(id int64) (wall.Poll, error) {
	var p wall.Poll
	var data string
	var closed bool
	var closes int64
	if err := a.queryRow(`SELECT data, closed, closes FROM polls WHERE id = ?`, id).Scan(&data, &closed, &closes); err != nil {
		return p, err
	}
	json.Unmarshal([]byte(data), &p)
	p.Closed = closed || (closes > 0 && closes <= a.now)
	// A vote counts while the post that cast it is on the poll's wall (or waits for a moderator).
	rows, err := a.tx.QueryContext(a.ctx, `SELECT v.option, COUNT(*) FROM votes v JOIN polls pl ON pl.id = v.poll
		WHERE v.poll = ? AND (v.post_id = '' OR EXISTS (SELECT 1 FROM wall_posts wp WHERE wp.wall = pl.wall AND wp.post_id = v.post_id AND wp.status IN ('visible', 'pending')))
		GROUP BY v.option`, id)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var opt, n int
		rows.Scan(&opt, &n)
		if opt >= 0 && opt < len(p.Options) {
			p.Options[opt].Votes = n
		}
	}
	return p, rows.Err()
}

// pollEvent sends a poll as it stands to the wall's screens.
func (a *applier) pollEvent(slug string, id int64) error {
	p, err := a.loadPoll(id)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(p)
	_, err = a.appendEvent(slug, wall.EventPoll, "", data, true)
	return err
}

// vote counts a new post as its author's vote in the wall's open poll
// when it carries an option's tag, and notes the poll as changed.
func (a *applier) vote(slug string, p wall.Post) error {
	if !a.polling || p.Author.Handle == "" {
		return nil
	}
	var id int64
	var data string
	err := a.queryRow(`SELECT id, data FROM polls WHERE wall = ? AND closed = 0 AND (closes = 0 OR closes > ?)`, slug, a.now).Scan(&id, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	var poll wall.Poll
	json.Unmarshal([]byte(data), &poll)
	option := -1
	for i, o := range poll.Options {
		for _, t := range p.Tags {
			if strings.EqualFold(t, o.Tag) {
				option = i
			}
		}
	}
	if option < 0 {
		return nil
	}
	// One vote per author of a network: the key is a hash of both, so the
	// handle is not kept in clear.
	author := ForgetKey(p.Network + ":" + p.Author.Handle)
	if _, err := a.exec(`INSERT INTO votes (poll, author, option, post_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (poll, author) DO UPDATE SET option = excluded.option, post_id = excluded.post_id`, id, author, option, p.ID); err != nil {
		return err
	}
	if a.polls == nil {
		a.polls = map[int64]string{}
	}
	a.polls[id] = slug
	return nil
}

// recount sends the polls a post voted in again when it leaves the wall
// (its vote no longer counts).
func (a *applier) recount(slug, postID string) error {
	polls, err := column[int64](a, `SELECT v.poll FROM votes v JOIN polls pl ON pl.id = v.poll WHERE v.post_id = ? AND pl.wall = ?`, postID, slug)
	if err != nil {
		return err
	}
	for _, id := range polls {
		if err := a.pollEvent(slug, id); err != nil {
			return err
		}
	}
	return nil
}

// CurrentPoll is a wall's open poll, or the last one closed within the
// hour (its result), or nil.
func (db *DB) CurrentPoll(ctx context.Context, slug string) (*wall.Poll, error) {
	return read(ctx, db, "poll", slug, (*applier).currentPoll)
}

func (a *applier) currentPoll(slug string) (*wall.Poll, error) {
	var id int64
	err := a.queryRow(`SELECT id FROM polls WHERE wall = ? ORDER BY id DESC LIMIT 1`, slug).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := a.loadPoll(id)
	if err != nil {
		return nil, err
	}
	if p.Closed && !p.ClosesAt.IsZero() && a.now-p.ClosesAt.UnixMilli() > time.Hour.Milliseconds() {
		return nil, nil
	}
	return &p, nil
}
