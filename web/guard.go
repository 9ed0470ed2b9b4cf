package web

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// postForm is the path of the phones' form, the one that takes uploads.
var postForm = regexp.MustCompile(`^/walls/[^/]+/post$`)

// maxBody bounds a request body outside the webhooks (which set their own).
const maxBody = 64 << 10

// guard bounds what a request body may cost. One route takes uploads, the
// phones' form (POST /walls/{slug}/post), which reads its parts as a
// stream with its own caps and deadline; anywhere else a multipart body is
// refused before anything parses it: Go's form parser would spool its
// files to the temp directory, and a handler that parses a copy of the
// request leaves them there for ever. Other bodies are capped, and
// reading one has a deadline, so a body sent a byte every few seconds does
// not hold a connection (a global ReadTimeout would cut the streams).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && postForm.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r) // the form caps and times its parts
			return
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Type"))), "multipart/") {
			w.Header().Set("Connection", "close") // the body is not read
			http.Error(w, "uploads are not taken here: send a form or JSON", http.StatusUnsupportedMediaType)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/hooks/") && r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.BodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}
