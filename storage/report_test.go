package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestReport: counts per network and 5-minute step by arrival, held and
// rejected posts, contributors and hashtags of the shown posts, the time
// from arrival to a moderator's decision, screens, polls and sponsors,
// and the shown posts.
func TestReport(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	clock := time.Date(2026, 12, 2, 9, 0, 30, 0, time.UTC)
	db.now = func() time.Time { return clock }
	by := func(network, id, handle, status string, tags ...string) wall.Write {
		p := post(network, id, "post "+id)
		p.Network = network
		p.Author = wall.Author{Name: "Name " + handle, Handle: handle}
		p.Tags = tags
		w := write(network, p, "w")
		w.Targets[0].Status = status
		return w
	}
	// 09:00: two Mastodon posts shown, one held, one rejected by a filter.
	apply(t, db,
		by("mastodon", "1", "@ana@m.example", wall.StatusVisible, "gophercon", "go"),
		by("mastodon", "2", "@ana@m.example", wall.StatusVisible, "gophercon"),
		by("mastodon", "3", "@bo@m.example", wall.StatusPending, "gophercon"),
		by("mastodon", "4", "@spam@m.example", wall.StatusRejected))
	// 09:07: a Bluesky post held, and an RSS item with no handle.
	clock = clock.Add(7 * time.Minute)
	apply(t, db,
		by("bluesky", "5", "cy.bsky.social", wall.StatusPending, "go"),
		by("rss", "6", "", wall.StatusVisible))
	// Moderators decide: post 3 approved 60 s after it came, post 5
	// rejected 3 minutes after.
	clock = clock.Add(-6 * time.Minute)
	if _, err := db.Moderate(ctx, "w", wall.PostID("mastodon", "3"), wall.ActApprove, "mod"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(9 * time.Minute)
	if _, err := db.Moderate(ctx, "w", wall.PostID("bluesky", "5"), wall.ActReject, "mod"); err != nil {
		t.Fatal(err)
	}
	// Post 2 deleted upstream: counted, but not named.
	apply(t, db, wall.Write{Source: "mastodon", Item: wall.Item{Kind: wall.ItemDelete, Post: wall.Post{ID: wall.PostID("mastodon", "2"), NativeID: "2"}}})
	for _, s := range []struct {
		at   time.Time
		peak int
	}{{clock, 3}, {clock.Add(10 * time.Second), 7}, {clock.Add(time.Minute), 5}, {clock.Add(6 * time.Minute), 2}} {
		if err := db.Screens(ctx, "w", s.at, s.peak); err != nil {
			t.Fatal(err)
		}
	}
	db.Impression(ctx, "w", "acme", 10)
	_, poll, err := db.OpenPoll(ctx, "w", wall.Poll{Question: "Go?", Options: []wall.PollOption{{Text: "Yes", Tag: "go"}, {Text: "No", Tag: "nogo"}}}, "mod")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, db, by("mastodon", "7", "@dee@m.example", wall.StatusVisible, "go"))

	r, err := db.Report(ctx, "w", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (wall.Counts{Received: 7, Shown: 5, Held: 2, Rejected: 2}); r.Totals != want {
		t.Errorf("totals = %+v, want %+v", r.Totals, want)
	}
	if !r.From.Equal(time.Date(2026, 12, 2, 9, 0, 30, 0, time.UTC)) {
		t.Errorf("from = %v", r.From)
	}
	steps := map[string]wall.Counts{}
	for _, s := range r.Steps {
		steps[s.At.Format("15:04")+" "+s.Network] = s.Counts
	}
	want := map[string]wall.Counts{
		"09:00 mastodon": {Received: 4, Shown: 3, Held: 1, Rejected: 1},
		"09:05 bluesky":  {Received: 1, Shown: 0, Held: 1, Rejected: 1},
		"09:05 rss":      {Received: 1, Shown: 1},
		"09:10 mastodon": {Received: 1, Shown: 1},
	}
	if len(steps) != len(want) {
		t.Errorf("steps = %+v", r.Steps)
	}
	for k, c := range want {
		if steps[k] != c {
			t.Errorf("step %s = %+v, want %+v", k, steps[k], c)
		}
	}
	if len(r.Networks) != 3 || r.Networks[0].Network != "mastodon" || r.Networks[0].Received != 5 {
		t.Errorf("networks = %+v", r.Networks)
	}
	// ana (post 1; post 2 deleted), bo, spam, cy, the feed's "Name ", dee.
	if r.Contributors != 6 {
		t.Errorf("contributors = %d, want 6", r.Contributors)
	}
	if len(r.TopContributors) != 4 || r.TopContributors[0].Posts != 1 {
		t.Errorf("top contributors = %+v", r.TopContributors)
	}
	if len(r.TopHashtags) != 2 || r.TopHashtags[0] != (wall.Top{Name: "go", Posts: 2}) || r.TopHashtags[1] != (wall.Top{Name: "gophercon", Posts: 2}) {
		t.Errorf("top hashtags = %+v", r.TopHashtags)
	}
	if m := r.Moderation; m.Decided != 2 || m.P50 != 60 || m.P90 != 180 {
		t.Errorf("moderation = %+v, want 2 decided, p50 60 s, p90 180 s", m)
	}
	if r.ScreensPeak.Peak != 7 || len(r.Screens) != 2 {
		t.Errorf("screens = %+v peak %+v", r.Screens, r.ScreensPeak)
	}
	if len(r.Polls) != 1 || r.Polls[0].ID != poll.ID || r.Polls[0].Options[0].Votes != 1 {
		t.Errorf("polls = %+v", r.Polls)
	}
	if len(r.Sponsors) != 1 || r.Sponsors[0].Shows != 1 {
		t.Errorf("sponsors = %+v", r.Sponsors)
	}
	var ids []string
	for _, p := range r.Posts {
		ids = append(ids, p.Text+":"+p.Status)
	}
	if got := fmt.Sprint(ids); got != "[post 1:visible post 3:visible post 6:visible post 7:visible]" {
		t.Errorf("shown posts = %s", got)
	}
	if r, err := db.Report(ctx, "w", false); err != nil || r.Posts != nil {
		t.Errorf("without posts: %d posts, %v", len(r.Posts), err)
	}
	if r, err := db.Report(ctx, "nobody", true); err != nil || r.Totals.Received != 0 || !r.From.IsZero() {
		t.Errorf("empty wall: %+v, %v", r, err)
	}
}
