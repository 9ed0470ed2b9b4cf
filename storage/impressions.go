package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// Impression counts one showing of a sponsor's card on one screen, for
// seconds, in the minute it ends.
func (db *DB) Impression(ctx context.Context, slug, sponsor string, seconds int) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO impressions (wall, sponsor, minute, shows, seconds) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (wall, sponsor, minute) DO UPDATE SET shows = shows + 1, seconds = seconds + excluded.seconds`,
		slug, sponsor, db.now().Unix()/60, seconds)
	if err != nil {
		return fmt.Errorf("storage impression: %w", err)
	}
	return nil
}

// Impressions sums a wall's sponsor showings: per sponsor, the showings,
// the screen-minutes and the minutes in which it was shown.
func (db *DB) Impressions(ctx context.Context, slug string) ([]wall.Impressions, error) {
	return read(ctx, db, "impressions", slug, (*applier).impressions)
}

func (a *applier) impressions(slug string) ([]wall.Impressions, error) {
	var out []wall.Impressions
	err := a.each(`SELECT sponsor, SUM(shows), SUM(seconds), COUNT(*) FROM impressions WHERE wall = ? GROUP BY sponsor ORDER BY sponsor`, []any{slug}, func(rows *sql.Rows) error {
		var im wall.Impressions
		var secs int64
		if err := rows.Scan(&im.Sponsor, &im.Shows, &secs, &im.Minutes); err != nil {
			return err
		}
		im.ScreenMinutes = float64(secs) / 60
		out = append(out, im)
		return nil
	})
	return out, err
}
