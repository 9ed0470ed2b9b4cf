package web

import (
	"fmt"
	"net/http"

	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/wall"
)

// events is the SSE stream of one wall: web checks the request (the
// wall, CORS, whether this node takes screens, the stream limits), counts
// the screen and gives it a token; fanout serves the stream.
func (s *pages) events(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	cfg := s.Config()
	cors(w, r, wc.EmbedOrigins)
	if s.serving != nil {
		if err := s.serving(); err != nil {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "this node takes no new screens now: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	release, ok := s.slots.open(w, r, s.Config().Server, s.hub.Relieve)
	if !ok {
		return
	}
	token, release := s.screens.open(wc.Slug, release)
	s.hub.Serve(w, r, fanout.Stream{
		Wall: wc.Slug, Reader: s.store, MaxPosts: wc.Display.MaxPosts,
		Retry: cfg.Server.Retry.D(), WriteTimeout: cfg.Server.WriteTimeout.D(),
		Trailer: screenEvent(token), Release: release, Log: s.log,
	})
}

// screenEvent ends a catch-up with the stream's token (no id: it is not
// a resume point).
func screenEvent(token string) []byte {
	return fmt.Appendf(nil, "event: %s\ndata: {\"token\":%q}\n\n", wall.EventScreen, token)
}
