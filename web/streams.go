package web

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// events is the SSE stream of one wall: web checks the request (the
// wall, CORS, whether this node takes screens, the stream limits), counts
// the screen and gives it a token; fanout serves the stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
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
	release, ok := s.openSlot(w, r)
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

// openSlot takes a stream slot for the request's client. When the limits
// are reached it answers for the stream and returns ok false: 200 with a
// retry of a few seconds plus jitter and an immediate end, because a
// browser's EventSource gives up for good on any other status, and the
// screen would stay dark.
func (s *Server) openSlot(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	cfg := s.Config().Server
	release, ok = s.streams.take(limitKey(ClientAddr(r)), cfg.MaxStreams, cfg.MaxStreamsPerClient)
	if ok {
		return release, true
	}
	s.refusedStreams.Add(1)
	retry := 5*time.Second + rand.N(5*time.Second)
	sse.SetHeaders(w.Header())
	w.Header().Set("Connection", "close")
	fmt.Fprintf(w, ": too many event streams now; come back later\nretry: %d\n\n", retry.Milliseconds())
	return nil, false
}
