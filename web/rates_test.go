package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestRatesRefillAndForget: a bucket refills at its rate; past its size
// the table forgets buckets that are full again before any other.
func TestRatesRefillAndForget(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRates(3)
	l.now = func() time.Time { return now }
	for i := range 2 {
		if ok, _ := l.allow("a", 60, 2); !ok {
			t.Fatalf("request %d of a burst of 2 refused", i+1)
		}
	}
	if ok, wait := l.allow("a", 60, 2); ok || wait != time.Second {
		t.Fatalf("third: ok=%v wait=%v, want refused for 1s", ok, wait)
	}
	now = now.Add(1500 * time.Millisecond) // 1.5 tokens back
	if ok, _ := l.allow("a", 60, 2); !ok {
		t.Fatal("refused after refilling")
	}
	if ok, wait := l.allow("a", 60, 2); ok || wait != 500*time.Millisecond {
		t.Fatalf("after the refill: ok=%v wait=%v", ok, wait)
	}
	l.allow("b", 60, 2)
	l.allow("c", 60, 2)
	now = now.Add(time.Minute) // a, b and c are full again
	for i := range 5 {
		l.allow(fmt.Sprint("new", i), 60, 2)
	}
	if len(l.m) > 3 {
		t.Errorf("%d buckets kept, want at most 3", len(l.m))
	}
}

// TestUndoExpires: a token undoes once, for its wall, within UndoFor.
func TestUndoExpires(t *testing.T) {
	now := time.Unix(0, 0)
	u := &undos{}
	u.now = func() time.Time { return now }
	changes := []wall.Change{{ID: "s:1", From: wall.StatusPending}}
	mo := wall.Session{User: "mo", Role: "moderator", CSRF: "a"}
	tok := u.keep(mo, "w", changes, nil)
	if _, ok := u.take(mo, tok, "other"); ok {
		t.Error("taken for another wall")
	}
	now = now.Add(UndoFor + time.Millisecond)
	if _, ok := u.take(mo, tok, "w"); ok {
		t.Error("taken after UndoFor")
	}
	tok = u.keep(mo, "w", changes, nil)
	if _, ok := u.take(wall.Session{User: "ana", Role: "admin", CSRF: "b"}, tok, "w"); ok {
		t.Error("taken by another session")
	}
	if got, ok := u.take(mo, tok, "w"); !ok || len(got.changes) != 1 {
		t.Errorf("in time: %v %v", got, ok)
	}
	if _, ok := u.take(mo, tok, "w"); ok {
		t.Error("taken twice")
	}
	// A rule for every wall: undone by an admin only.
	all := &wall.Rule{Wall: "*", Kind: wall.RuleAuthor, Value: "@x"}
	tok = u.keep(mo, "w", nil, all)
	if _, ok := u.take(mo, tok, "w"); ok {
		t.Error("a moderator undid a rule for every wall")
	}
	ana := wall.Session{User: "ana", Role: "admin", CSRF: "b"}
	tok = u.keep(ana, "w", nil, all)
	if _, ok := u.take(ana, tok, "w"); !ok {
		t.Error("the admin cannot undo her rule for every wall")
	}
}
