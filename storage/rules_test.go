package storage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

// TestAddRuleRemovesWhatItCatches: a rule is stored, listed, and takes
// off the wall the posts it catches, with a remove event each and an
// audit entry.
func TestAddRuleRemovesWhatItCatches(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	if _, err := db.Apply(ctx, []wall.Write{write("s", post("s", "1", "fine"), "w"), write("s", post("s", "2", "spam spam"), "w")}); err != nil {
		t.Fatal(err)
	}
	rule := wall.Rule{Wall: "w", Kind: wall.RuleWord, Value: "spam"}
	events, err := db.AddRule(ctx, rule, "ana", func(p wall.Post) bool { return strings.Contains(p.Text, "spam") })
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != wall.EventRemove || !strings.Contains(string(events[0].Data), "s:2") {
		t.Fatalf("events = %+v", events)
	}
	rules, err := db.Rules(ctx)
	if err != nil || len(rules) != 1 || rules[0] != rule {
		t.Errorf("rules = %+v %v", rules, err)
	}
	snap, _ := db.Snapshot(ctx, "w", 10)
	if len(snap.Posts) != 1 || snap.Posts[0].ID != "s:1" {
		t.Errorf("on the wall: %+v", snap.Posts)
	}
	q, _ := db.Queue(ctx, "w", 10)
	if len(q.Audit) == 0 || q.Audit[0].Action != "block-word" || q.Audit[0].User != "ana" {
		t.Errorf("audit = %+v", q.Audit)
	}
}
