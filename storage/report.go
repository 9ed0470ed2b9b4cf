package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// Screens notes how many screens a wall had connected at most in the
// minute of at (the most noted in that minute counts).
func (db *DB) Screens(ctx context.Context, slug string, at time.Time, peak int) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO screens (wall, minute, peak) VALUES (?, ?, ?)
		ON CONFLICT (wall, minute) DO UPDATE SET peak = MAX(peak, excluded.peak)`, slug, at.Unix()/60, peak)
	if err != nil {
		return fmt.Errorf("storage screens: %w", err)
	}
	return nil
}

// author is how the report names an author: the handle, or the name
// where the network has no handles (feeds).
const author = `COALESCE(NULLIF(json_extract(p.data, '$.author.handle'), ''), json_extract(p.data, '$.author.name'), '')`

// Report reads what a wall achieved, in one read transaction: counts per
// network and step, contributors and hashtags, moderation times, screens,
// polls and sponsors; with posts, the shown posts too. It covers the posts
// still stored (retention deletes older ones) and leaves out posts deleted
// upstream from names and the shown posts.
func (db *DB) Report(ctx context.Context, slug string, posts bool) (wall.Report, error) {
	r := wall.Report{Wall: slug, To: db.now().UTC(), Step: "5m"}
	err := db.reading(ctx, func(a *applier) error { return readReport(a, &r, slug, posts) })
	if err != nil {
		return r, fmt.Errorf("storage report %s: %w", slug, err)
	}
	return r, nil
}

// readReport fills r from the wall's rows.
func readReport(a *applier, r *wall.Report, slug string, posts bool) error {
	step := wall.ReportStep.Milliseconds()
	nets := map[string]*wall.Step{}
	err := a.each(`SELECT arrived / ? * ?, network, COUNT(*), SUM(shown), SUM(held), SUM(status = 'rejected')
		FROM wall_posts WHERE wall = ? GROUP BY 1, 2 ORDER BY 1, 2`, []any{step, step, slug}, func(rows *sql.Rows) error {
		var s wall.Step
		var at int64
		if err := rows.Scan(&at, &s.Network, &s.Received, &s.Shown, &s.Held, &s.Rejected); err != nil {
			return err
		}
		s.At = time.UnixMilli(at).UTC()
		r.Steps = append(r.Steps, s)
		r.Totals.Add(s.Counts)
		if nets[s.Network] == nil {
			nets[s.Network] = &wall.Step{Network: s.Network}
		}
		nets[s.Network].Add(s.Counts)
		return nil
	})
	if err != nil {
		return fmt.Errorf("steps: %w", err)
	}
	if r.Totals.Received > 0 {
		var first int64
		if err := a.queryRow(`SELECT MIN(arrived) FROM wall_posts WHERE wall = ?`, slug).Scan(&first); err != nil {
			return err
		}
		r.From = time.UnixMilli(first).UTC()
	}
	for _, s := range nets {
		r.Networks = append(r.Networks, *s)
	}
	slices.SortFunc(r.Networks, func(x, y wall.Step) int { return y.Received - x.Received })

	if err := a.queryRow(`SELECT COUNT(DISTINCT wp.network || ' ' || `+author+`)
		FROM wall_posts wp JOIN posts p ON p.id = wp.post_id WHERE wp.wall = ? AND p.deleted = 0`, slug).Scan(&r.Contributors); err != nil {
		return fmt.Errorf("contributors: %w", err)
	}
	tally := func(q string, into *[]wall.Top) error {
		return a.each(q, []any{slug}, func(rows *sql.Rows) error {
			var t wall.Top
			if err := rows.Scan(&t.Name, &t.Network, &t.Posts); err != nil {
				return err
			}
			*into = append(*into, t)
			return nil
		})
	}
	if err := tally(`SELECT `+author+`, wp.network, COUNT(*) FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
		WHERE wp.wall = ? AND wp.shown = 1 AND p.deleted = 0 GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10`, &r.TopContributors); err != nil {
		return fmt.Errorf("top contributors: %w", err)
	}
	if err := tally(`SELECT lower(t.value), '', COUNT(*) FROM wall_posts wp JOIN posts p ON p.id = wp.post_id, json_each(p.data, '$.tags') t
		WHERE wp.wall = ? AND wp.shown = 1 AND p.deleted = 0 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 10`, &r.TopHashtags); err != nil {
		return fmt.Errorf("top hashtags: %w", err)
	}

	waits, err := column[int64](a, `SELECT decided - arrived FROM wall_posts WHERE wall = ? AND held = 1 AND decided > 0 ORDER BY 1`, slug)
	if err != nil {
		return fmt.Errorf("moderation times: %w", err)
	}
	r.Moderation.Decided = len(waits)
	r.Moderation.P50 = percentile(waits, 50)
	r.Moderation.P90 = percentile(waits, 90)

	perStep := int64(wall.ReportStep / time.Minute)
	err = a.each(`SELECT minute / ? * ?, MAX(peak) FROM screens WHERE wall = ? GROUP BY 1 ORDER BY 1`, []any{perStep, perStep, slug}, func(rows *sql.Rows) error {
		var minute int64
		var c wall.ScreenCount
		if err := rows.Scan(&minute, &c.Peak); err != nil {
			return err
		}
		c.At = time.Unix(minute*60, 0).UTC()
		r.Screens = append(r.Screens, c)
		if c.Peak > r.ScreensPeak.Peak {
			r.ScreensPeak = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("screens: %w", err)
	}

	ids, err := column[int64](a, `SELECT id FROM polls WHERE wall = ? ORDER BY id`, slug)
	if err != nil {
		return fmt.Errorf("polls: %w", err)
	}
	for _, id := range ids {
		p, err := a.loadPoll(id)
		if err != nil {
			return fmt.Errorf("poll %d: %w", id, err)
		}
		r.Polls = append(r.Polls, p)
	}
	if r.Sponsors, err = a.impressions(slug); err != nil {
		return fmt.Errorf("sponsors: %w", err)
	}
	if !posts {
		return nil
	}
	err = a.each(`SELECT p.data, wp.arrived, wp.status FROM wall_posts wp JOIN posts p ON p.id = wp.post_id
		WHERE wp.wall = ? AND wp.shown = 1 AND p.deleted = 0 ORDER BY wp.arrived, wp.seq`, []any{slug}, func(rows *sql.Rows) error {
		var data string
		var arrived int64
		var sp wall.ShownPost
		if err := rows.Scan(&data, &arrived, &sp.Status); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(data), &sp.Post); err != nil {
			return err
		}
		sp.Arrived = time.UnixMilli(arrived).UTC()
		r.Posts = append(r.Posts, sp)
		return nil
	})
	if err != nil {
		return fmt.Errorf("shown posts: %w", err)
	}
	return nil
}

// percentile is the nearest-rank percentile of sorted milliseconds, in
// seconds (0 for none).
func percentile(sorted []int64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return float64(sorted[max(i, 1)-1]) / 1000
}

// History is every moderation decision on a wall's posts, by post id,
// oldest first: single actions name the post, bulk actions and undos list
// the posts they touched.
func (db *DB) History(ctx context.Context, slug string) (map[string][]wall.Decision, error) {
	return read(ctx, db, "history", slug, func(a *applier, slug string) (map[string][]wall.Decision, error) {
		out := map[string][]wall.Decision{}
		err := a.each(`SELECT at, user, action, target, detail FROM audit WHERE wall = ? ORDER BY id`, []any{slug}, func(rows *sql.Rows) error {
			var at int64
			var d wall.Decision
			var target string
			if err := rows.Scan(&at, &d.User, &d.Action, &target, &d.Detail); err != nil {
				return err
			}
			d.At = time.UnixMilli(at).UTC()
			ids := []string{target}
			if strings.HasPrefix(d.Action, "bulk-") || d.Action == "undo" {
				ids, d.Detail = strings.Fields(d.Detail), ""
			}
			for _, id := range ids {
				if strings.Contains(id, ":") { // a post id is source:native
					out[id] = append(out[id], d)
				}
			}
			return nil
		})
		return out, err
	})
}
