package storage

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wallcast/wallcast/wall"
)

func TestDisplayOverride(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "w.db"))
	ctx := context.Background()
	if d, err := db.Display(ctx, "w"); err != nil || d != "" {
		t.Fatalf("no override yet: %q %v", d, err)
	}
	for _, o := range []string{`{"layout":"ticker"}`, `{"layout":"grid","theme":"light"}`} {
		ev, err := db.SetDisplay(ctx, "w", []byte(o), []byte(`{}`), "ana")
		if err != nil || len(ev) != 1 || ev[0].Type != wall.EventConfig {
			t.Fatalf("set %s: %+v %v", o, ev, err)
		}
	}
	if d, _ := db.Display(ctx, "w"); d != `{"layout":"grid","theme":"light"}` {
		t.Errorf("override = %q, want the last one", d)
	}
}
