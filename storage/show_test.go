package storage

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestShow: each action changes the kept state and sends it in a show
// event; a feature ends by itself; a step is a command, not state; only a
// post on the wall can be featured.
func TestShow(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	held := write("m", post("m", "2", "held"), "w")
	held.Targets[0].Status = wall.StatusPending
	apply(t, db, write("m", post("m", "1", "shown"), "w"), held)
	do := func(c wall.ShowChange) (wall.Show, wall.Show) {
		t.Helper()
		ev, st, err := db.Show(ctx, "w", c, "crew")
		if err != nil {
			t.Fatalf("%s: %v", c.Action, err)
		}
		var sent wall.Show
		if len(ev) != 1 || ev[0].Type != wall.EventShow || json.Unmarshal(ev[0].Data, &sent) != nil {
			t.Fatalf("%s: events %+v", c.Action, ev)
		}
		return st, sent
	}
	if st, _ := do(wall.ShowChange{Action: "pause"}); !st.Paused {
		t.Error("not paused")
	}
	st, sent := do(wall.ShowChange{Action: "feature", PostID: "m:1", Seconds: 20})
	if st.Feature == nil || st.Feature.Text != "shown" || !st.Until.Equal(now.Add(20*time.Second)) || !sent.Paused {
		t.Errorf("feature: %+v", st)
	}
	if _, _, err := db.Show(ctx, "w", wall.ShowChange{Action: "feature", PostID: "m:2"}, "crew"); !errors.Is(err, wall.ErrConflict) {
		t.Errorf("featuring a pending post: %v", err)
	}
	if st, sent := do(wall.ShowChange{Action: "next"}); sent.Step != 1 || st.Step != 0 {
		t.Errorf("next: sent step %d, kept %d", sent.Step, st.Step)
	}
	do(wall.ShowChange{Action: "slide", Text: "Back at 14:00"})
	now = now.Add(21 * time.Second)
	got, err := db.ShowState(ctx, "w")
	if err != nil || got.Feature != nil || !got.Paused || got.Slide == nil || got.Slide.Text != "Back at 14:00" {
		t.Errorf("state after the feature ended: %+v %v", got, err)
	}
	do(wall.ShowChange{Action: "resume"})
	do(wall.ShowChange{Action: "unslide"})
	if got, _ := db.ShowState(ctx, "w"); got.Paused || got.Slide != nil {
		t.Errorf("after resume and unslide: %+v", got)
	}
	if _, _, err := db.Show(ctx, "w", wall.ShowChange{Action: "dance"}, "crew"); !errors.Is(err, wall.ErrConflict) {
		t.Errorf("unknown action: %v", err)
	}
}

// TestTakedownEndsAFeature: removing, rejecting, banning or forgetting a
// featured post ends the feature and sends the new show state; after a
// forget, no show event nor the kept state names the post.
func TestTakedownEndsAFeature(t *testing.T) {
	for _, how := range []string{"remove", "reject", "ban", "forget"} {
		t.Run(how, func(t *testing.T) {
			db := open(t, filepath.Join(t.TempDir(), "w.db"))
			ctx := context.Background()
			p := post("m", "1", "featured words")
			p.Author = wall.Author{Name: "Mallory Name", Handle: "@mallory@evil.example"}
			apply(t, db, write("m", p, "w"))
			if _, _, err := db.Show(ctx, "w", wall.ShowChange{Action: "feature", PostID: "m:1", Seconds: 60}, "crew"); err != nil {
				t.Fatal(err)
			}
			var ev []wall.Event
			var err error
			switch how {
			case "remove", "reject":
				ev, err = db.Moderate(ctx, "w", "m:1", how, "crew")
			case "ban":
				ev, _, _, err = db.AddRule(ctx, wall.Rule{Wall: "w", Kind: wall.RuleAuthor, Value: "@mallory@evil.example"}, "crew", func(wall.Post) bool { return true })
			case "forget":
				ev, _, err = db.Forget(ctx, "@mallory@evil.example", "crew")
			}
			if err != nil {
				t.Fatal(err)
			}
			var sent *wall.Show
			for _, e := range ev {
				if e.Type == wall.EventShow {
					sent = &wall.Show{}
					json.Unmarshal(e.Data, sent)
				}
			}
			if sent == nil || sent.Feature != nil {
				t.Errorf("no show event without the feature: %+v", ev)
			}
			if st, _ := db.ShowState(ctx, "w"); st.Feature != nil {
				t.Errorf("the kept show still features it: %+v", st.Feature)
			}
			if snap, _ := db.Snapshot(ctx, "w", 10); snap.Show != nil && snap.Show.Feature != nil {
				t.Errorf("a screen that connects gets the feature: %+v", snap.Show.Feature)
			}
			if how == "forget" {
				var n int
				db.read.QueryRow(`SELECT COUNT(*) FROM wall_events WHERE data LIKE '%mallory%' OR data LIKE '%Mallory%'`).Scan(&n)
				if n != 0 {
					t.Errorf("%d events still name the author", n)
				}
			}
		})
	}
}
