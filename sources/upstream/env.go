package upstream

import (
	"log/slog"
	"net/http"

	"github.com/wallcast/wallcast/media"
)

// Env is what the server gives an adapter it builds.
type Env struct {
	BaseURL string       // the server's public URL
	Client  *http.Client // nil: each adapter makes its own
	Log     *slog.Logger
	Hooks   HookRouter // where push sources receive their requests
	// Key is this install's own key, kept across restarts, for the HMACs
	// a source signs with (an upload's delete link, a phone's name).
	Key []byte
	// Media keeps the pictures the audience sends (nil: none).
	Media *media.Store
}

// HookRouter is where a push source registers to receive the requests of
// /hooks/{name} while it runs.
type HookRouter interface {
	Register(name string, h http.Handler) (unregister func())
}
