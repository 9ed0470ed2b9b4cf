package cluster

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
)

// TestEdgeKeepsOnlyServedWalls: an edge keeps nothing of a wall that is
// not in the bucket's walls, and drops the copy of a wall that leaves.
func TestEdgeKeepsOnlyServedWalls(t *testing.T) {
	e := NewEdge(&Node{cfg: &config.Cluster{Window: 100}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, nil)
	e.serve([]config.Wall{{Slug: "a"}, {Slug: "b"}})
	if e.mirror("x") != nil {
		t.Error("an edge made a copy of a wall it does not serve")
	}
	if e.mirror("a") == nil || e.mirror("b") == nil {
		t.Fatal("no copy of a served wall")
	}
	e.serve([]config.Wall{{Slug: "a"}})
	if _, ok := e.walls["b"]; ok || len(e.walls) != 1 {
		t.Errorf("walls kept after b left: %v", len(e.walls))
	}
}

// TestTallyChecked: an edge's report counts only for a known wall and
// sponsor, with seconds within the card and a bounded screens figure.
func TestTallyChecked(t *testing.T) {
	o := &Outbox{}
	walls := []config.Wall{{Slug: "w", Display: config.Display{Sponsors: []config.Sponsor{{Name: "Acme", Seconds: 8}, {Seconds: 5}}}}}
	o.walls.Store(&walls)
	now := time.Now()
	cases := []struct {
		r    report
		want string
	}{
		{report{Kind: "impression", Wall: "w", Sponsor: "Acme", Seconds: 8}, ""},
		{report{Kind: "impression", Wall: "w", Sponsor: "sponsor 2", Seconds: 5}, ""},
		{report{Kind: "impression", Wall: "w", Sponsor: "Acme", Seconds: 50_000_000}, "seconds out of the card's length"},
		{report{Kind: "impression", Wall: "w", Sponsor: "Acme", Seconds: 0}, "seconds out of the card's length"},
		{report{Kind: "impression", Wall: "w", Sponsor: "Evil", Seconds: 1}, "unknown sponsor"},
		{report{Kind: "impression", Wall: "nope", Sponsor: "Acme", Seconds: 1}, "unknown wall"},
		{report{Kind: "screens", Wall: "w", At: now, Peak: 120}, ""},
		{report{Kind: "screens", Wall: "w", At: now, Peak: 50_000_000}, "screens out of bounds"},
		{report{Kind: "screens", Wall: "w", At: now, Peak: -1}, "screens out of bounds"},
		{report{Kind: "screens", Wall: "w", At: now.Add(-24 * time.Hour), Peak: 1}, "time not near now"},
		{report{Kind: "other", Wall: "w"}, "unknown kind"},
	}
	for _, tc := range cases {
		if got := o.check(tc.r, now); got != tc.want {
			t.Errorf("check(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
