package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestForget: every post of the author goes, from the walls (a remove
// event where it showed), the posts table and the consoles' event copies;
// others stay; the audit names a hash; a repeat or a new post of the
// author is not stored again.
func TestForget(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	by := func(id, handle, text string) wall.Post {
		p := post("m", id, text)
		p.Author = wall.Author{Name: "Private Person", Handle: handle, Avatar: "https://m.example/face.png"}
		p.Media = []wall.Media{{Type: "image", URL: "https://m.example/photo.jpg"}}
		return p
	}
	held := write("m", by("2", "@pp@m.example", "held one"), "a")
	held.Targets[0].Status = wall.StatusPending
	apply(t, db, write("m", by("1", "@pp@m.example", "my words"), "a", "b"), held, write("m", by("3", "@ana@m.example", "stays"), "a"))
	if _, err := db.Moderate(ctx, "a", "m:2", wall.ActApprove, "mod"); err != nil { // a console event with a copy of the post
		t.Fatal(err)
	}
	authors, err := db.Authors(ctx)
	if err != nil || len(authors["a"]) != 2 || len(authors["b"]) != 1 {
		t.Errorf("authors = %v, %v", authors, err)
	}
	events, n, err := db.Forget(ctx, "PP@m.example", "admin")
	if err != nil || n != 2 {
		t.Fatalf("forget: %d posts, %v", n, err)
	}
	removed := map[string]int{}
	for _, e := range events {
		if e.Type == wall.EventRemove {
			removed[e.Wall]++
		}
	}
	if removed["a"] != 2 || removed["b"] != 1 {
		t.Errorf("remove events = %v", removed)
	}
	var copies int
	db.write.QueryRow(`SELECT COUNT(*) FROM wall_events WHERE data LIKE '%Private Person%' OR data LIKE '%my words%' OR data LIKE '%held one%'`).Scan(&copies)
	if copies != 0 {
		t.Errorf("%d events still hold the author's posts", copies)
	}
	snap, _ := db.Snapshot(ctx, "a", 10)
	if len(snap.Posts) != 1 || snap.Posts[0].ID != "m:3" {
		t.Errorf("wall a now: %+v", snap.Posts)
	}
	q, _ := db.Queue(ctx, "a", 10)
	for _, list := range [][]wall.QueueItem{q.Pending, q.Visible, q.Rejected, q.Removed} {
		for _, it := range list {
			if it.ID == "m:1" || it.ID == "m:2" {
				t.Errorf("the console still lists %s", it.ID)
			}
		}
	}
	var audit string
	db.write.QueryRow(`SELECT target || ' ' || detail FROM audit WHERE action = 'forget-author'`).Scan(&audit)
	if !strings.HasPrefix(audit, "sha256:") || strings.Contains(audit, "pp") || !strings.Contains(audit, "2 posts deleted") {
		t.Errorf("audit = %q", audit)
	}
	// Upstream sends one again, and a new one: neither is stored.
	if ev := apply(t, db, write("m", by("1", "@pp@m.example", "my words"), "a"), write("m", by("9", "pp@M.example", "new"), "a")); len(ev) != 0 {
		t.Errorf("posts of a forgotten author stored again: %+v", ev)
	}
	var left int
	db.write.QueryRow(`SELECT COUNT(*) FROM posts WHERE id IN ('m:1', 'm:9') OR data LIKE '%pp@m.example%'`).Scan(&left)
	if left != 0 {
		t.Errorf("%d posts of the forgotten author in the table", left)
	}
}

// TestForgetLeavesNothingOnDisk: after forgetting an author whose posts
// were shown, featured, adjusted, voted with, banned and trusted, neither
// the display name nor the handle occurs in the database's files (after
// the checkpoint a close makes).
func TestForgetLeavesNothingOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.db")
	db := open(t, path)
	ctx := context.Background()
	const name, handle = "Zyxwvu Qtrsp", "@zyxwvu.qtrsp@evil.example"
	if _, _, err := db.OpenPoll(ctx, "w", wall.Poll{Question: "?", Options: []wall.PollOption{{Text: "A", Tag: "teama"}, {Text: "B", Tag: "teamb"}}}, "crew"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2"} {
		p := post("m", id, "words of "+name+" #teama")
		p.Author = wall.Author{Name: name, Handle: handle, Avatar: "https://evil.example/zyxwvu.png"}
		p.Tags = []string{"teama"}
		p.Media = []wall.Media{{Type: "image", URL: "https://evil.example/zyxwvu.jpg", Alt: "zyxwvu at home"}}
		apply(t, db, write("m", p, "w"))
	}
	if _, _, err := db.Show(ctx, "w", wall.ShowChange{Action: "feature", PostID: "m:1", Seconds: 60}, "crew"); err != nil {
		t.Fatal(err)
	}
	blur := true
	if _, err := db.Adjust(ctx, "w", "m:2", wall.Adjustment{Media: 0, Blur: &blur}, "crew"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.AddRule(ctx, wall.Rule{Wall: "w", Kind: wall.RuleTrusted, Value: "m:" + handle}, "crew", func(wall.Post) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := db.AddRule(ctx, wall.Rule{Wall: "w", Kind: wall.RuleAuthor, Value: handle}, "crew", func(wall.Post) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Forget(ctx, handle, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range []string{"Zyxwvu", "zyxwvu", "qtrsp"} {
			if bytes.Contains(data, []byte(needle)) {
				t.Errorf("%s still holds %q", filepath.Base(f), needle)
			}
		}
	}
}

// TestForeign: a commit from another connection to the file (another
// process: wallcast forget) is noticed once, and the forgetting flag
// follows it; this process's own commits are not foreign.
func TestForeign(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, other := open(t, path), open(t, path)
	ctx := context.Background()
	if changed, err := db.Foreign(ctx); err != nil || changed {
		t.Fatalf("first call: %v %v", changed, err)
	}
	apply(t, db, write("m", post("m", "1", "own"), "w"))
	if changed, _ := db.Foreign(ctx); changed {
		t.Error("its own commit is foreign")
	}
	if _, _, err := other.Forget(ctx, "@nobody@m.example", "cli"); err != nil {
		t.Fatal(err)
	}
	if changed, err := db.Foreign(ctx); err != nil || !changed {
		t.Errorf("another connection's commit: %v %v", changed, err)
	}
	if !db.forgetting.Load() {
		t.Error("the forgetting flag did not follow the other's forget")
	}
	if changed, _ := db.Foreign(ctx); changed {
		t.Error("the same commit noticed twice")
	}
}

// TestForgetTakesOnlyTheAuthorsRules: the bans and trust of the forgotten
// handle go; those of a handle that merely contains it stay.
func TestForgetTakesOnlyTheAuthorsRules(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	none := func(wall.Post) bool { return false }
	for _, r := range []wall.Rule{
		{Wall: "w", Kind: wall.RuleAuthor, Value: "@o@m.example"},
		{Wall: "w", Kind: wall.RuleTrusted, Value: "m:@O@m.example"},
		{Wall: "w", Kind: wall.RuleAuthor, Value: "@bo@m.example"},
		{Wall: "w", Kind: wall.RuleTrusted, Value: "m:@bo@m.example"},
	} {
		if _, _, _, err := db.AddRule(ctx, r, "crew", none); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.Forget(ctx, "@o@m.example", "admin"); err != nil {
		t.Fatal(err)
	}
	rules, _ := db.Rules(ctx)
	if len(rules) != 2 || rules[0].Value != "@bo@m.example" || rules[1].Value != "m:@bo@m.example" {
		t.Errorf("rules after forgetting @o@m.example: %+v", rules)
	}
}
