package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// Show applies a show-control action to a wall: the new state is kept,
// a show event carrying it reaches every screen, and the audit notes it.
// A featured post must be on the wall.
func (db *DB) Show(ctx context.Context, slug string, c wall.ShowChange, user string) ([]wall.Event, wall.Show, error) {
	var st wall.Show
	events, err := db.tx(ctx, func(a *applier) error {
		var data string
		err := a.queryRow(`SELECT data FROM shows WHERE wall = ?`, slug).Scan(&data)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if data != "" {
			json.Unmarshal([]byte(data), &st)
		}
		now := time.UnixMilli(a.now)
		if st.Feature != nil && !st.Until.After(now) {
			st.Feature, st.Until = nil, time.Time{}
		}
		step := 0
		detail := ""
		switch c.Action {
		case "pause":
			st.Paused = true
		case "resume":
			st.Paused = false
		case "feature":
			var status string
			err := a.queryRow(`SELECT status FROM wall_posts WHERE wall = ? AND post_id = ?`, slug, c.PostID).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && status != wall.StatusVisible) {
				return fmt.Errorf("only a post on the wall can be featured: %w", wall.ErrConflict)
			}
			if err != nil {
				return err
			}
			p, err := a.loadPost(c.PostID)
			if err != nil {
				return err
			}
			secs := min(max(c.Seconds, 3), 600)
			st.Feature, st.Until = &p, now.Add(time.Duration(secs)*time.Second)
			detail = fmt.Sprintf("%s for %ds", c.PostID, secs)
		case "unfeature":
			st.Feature, st.Until = nil, time.Time{}
		case "slide":
			if c.Text == "" && c.Image == "" {
				return fmt.Errorf("a slide needs a text or an image: %w", wall.ErrConflict)
			}
			st.Slide = &wall.Slide{Text: c.Text, Image: c.Image}
			detail = c.Text
		case "unslide":
			st.Slide = nil
		case "next":
			step = 1
		case "previous":
			step = -1
		default:
			return fmt.Errorf("%q is not a show action: %w", c.Action, wall.ErrConflict)
		}
		kept, _ := json.Marshal(st)
		if _, err := a.exec(`INSERT INTO shows (wall, data) VALUES (?, ?) ON CONFLICT (wall) DO UPDATE SET data = excluded.data`, slug, string(kept)); err != nil {
			return err
		}
		ev := st
		ev.Step = step
		data2, _ := json.Marshal(ev)
		if _, err := a.appendEvent(slug, wall.EventShow, "", data2, true); err != nil {
			return err
		}
		return a.audit(user, slug, "show-"+c.Action, "", detail)
	})
	if err != nil {
		return nil, wall.Show{}, err
	}
	return events, st, nil
}

// ShowState returns a wall's show state, without a feature that has ended.
func (db *DB) ShowState(ctx context.Context, slug string) (wall.Show, error) {
	return read(ctx, db, "show", slug, (*applier).showState)
}

func (a *applier) showState(slug string) (wall.Show, error) {
	var st wall.Show
	var data string
	err := a.queryRow(`SELECT data FROM shows WHERE wall = ?`, slug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	json.Unmarshal([]byte(data), &st)
	if st.Feature != nil && st.Until.UnixMilli() <= a.now {
		st.Feature, st.Until = nil, time.Time{}
	}
	return st, nil
}
