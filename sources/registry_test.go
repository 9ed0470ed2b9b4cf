package sources

import (
	"io"
	"log/slog"
	"testing"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sources/webhook"
)

// TestRegistryCoversEveryType: every type of the table builds from its
// settings with their defaults.
func TestRegistryCoversEveryType(t *testing.T) {
	for typ, ty := range Types {
		set := ty.Settings()
		set.Defaults()
		c := config.Source{Name: "x", Type: typ, Settings: set}
		store, err := media.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		env := upstream.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Hooks: webhook.NewHooks(), Key: []byte("k"), Media: store}
		if _, err := New(c, env); err != nil {
			t.Errorf("type %s: %v", typ, err)
		}
	}
	if _, err := New(config.Source{Name: "x", Type: "nope"}, upstream.Env{}); err == nil {
		t.Error("unknown type accepted")
	}
}
