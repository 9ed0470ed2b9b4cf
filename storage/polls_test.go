package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestPoll: a post with an option's tag is its author's vote, the last
// one counts, one poll event per batch carries the counts; a rejected
// post does not vote; a closed poll counts no more.
func TestPoll(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	_, p, err := db.OpenPoll(ctx, "w", wall.Poll{Question: "Tabs or spaces?", Options: []wall.PollOption{{Text: "Tabs", Tag: "teamtabs"}, {Text: "Spaces", Tag: "teamspaces"}}, ClosesAt: time.Now().Add(time.Hour)}, "crew")
	if err != nil || p.ID == "" {
		t.Fatalf("open: %+v %v", p, err)
	}
	by := func(id, handle, tag string) wall.Write {
		q := post("m", id, "vote #"+tag)
		q.Author = wall.Author{Handle: handle}
		q.Tags = []string{tag}
		return write("m", q, "w")
	}
	rejected := by("4", "@dee@m.example", "teamtabs")
	rejected.Targets[0].Status = wall.StatusRejected
	ev := apply(t, db, by("1", "@ana@m.example", "teamtabs"), by("2", "@bo@m.example", "teamtabs"), by("3", "@ana@m.example", "teamspaces"), rejected, by("5", "@cy@m.example", "other"))
	var polls []wall.Poll
	for _, e := range ev {
		if e.Type == wall.EventPoll {
			var q wall.Poll
			json.Unmarshal(e.Data, &q)
			polls = append(polls, q)
		}
	}
	if len(polls) != 1 || polls[0].Options[0].Votes != 1 || polls[0].Options[1].Votes != 1 {
		t.Fatalf("poll events = %+v", polls)
	}
	if _, err := db.ClosePoll(ctx, "w", p.ID, "crew"); err != nil {
		t.Fatal(err)
	}
	apply(t, db, by("6", "@zed@m.example", "teamtabs"))
	cur, err := db.CurrentPoll(ctx, "w")
	if err != nil || cur == nil || !cur.Closed || cur.Options[0].Votes != 1 {
		t.Errorf("after closing: %+v %v", cur, err)
	}
}

// TestVoteOfARemovedPost: a vote counts while its post is on the wall:
// removing the post sends the poll again without it; votes keep no
// handle in clear; forgetting the author deletes the vote.
func TestVoteOfARemovedPost(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	if _, _, err := db.OpenPoll(ctx, "w", wall.Poll{Question: "Tabs or spaces?", Options: []wall.PollOption{{Text: "Tabs", Tag: "teamtabs"}, {Text: "Spaces", Tag: "teamspaces"}}}, "crew"); err != nil {
		t.Fatal(err)
	}
	for i, h := range []string{"@ana@m.example", "@bo@m.example"} {
		q := post("m", fmt.Sprint(i+1), "vote #teamtabs")
		q.Author = wall.Author{Handle: h}
		q.Tags = []string{"teamtabs"}
		apply(t, db, write("m", q, "w"))
	}
	if cur, _ := db.CurrentPoll(ctx, "w"); cur.Options[0].Votes != 2 {
		t.Fatalf("votes = %+v", cur.Options)
	}
	ev, err := db.Moderate(ctx, "w", "m:1", "remove", "crew")
	if err != nil {
		t.Fatal(err)
	}
	var sent *wall.Poll
	for _, e := range ev {
		if e.Type == wall.EventPoll {
			sent = &wall.Poll{}
			json.Unmarshal(e.Data, sent)
		}
	}
	if sent == nil || sent.Options[0].Votes != 1 {
		t.Errorf("the poll sent after the remove: %+v", sent)
	}
	var clear int
	db.read.QueryRow(`SELECT COUNT(*) FROM votes WHERE author LIKE '%m.example%'`).Scan(&clear)
	if clear != 0 {
		t.Errorf("%d votes keep a handle in clear", clear)
	}
	if _, _, err := db.Forget(ctx, "@bo@m.example", "crew"); err != nil {
		t.Fatal(err)
	}
	var left int
	db.read.QueryRow(`SELECT COUNT(*) FROM votes`).Scan(&left)
	if left != 1 { // ana's, whose post was removed, not forgotten
		t.Errorf("%d votes left after forgetting bo", left)
	}
}
