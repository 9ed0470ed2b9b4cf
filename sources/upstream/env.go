package upstream

import (
	"log/slog"
	"net/http"
)

// Env is what the server gives an adapter it builds.
type Env struct {
	BaseURL string       // the server's public URL
	Client  *http.Client // nil: each adapter makes its own
	Log     *slog.Logger
	Hooks   HookRouter // where push sources receive their requests
}

// HookRouter is where a push source registers to receive the requests of
// /hooks/{name} while it runs.
type HookRouter interface {
	Register(name string, h http.Handler) (unregister func())
}
