package web

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/wall"
)

// api is the public JSON API: a wall's visible posts, page by page, each
// client limited to server.api_rate requests a minute.
type api struct {
	*base
	store   wall.Reader
	rates   *rates
	limited atomic.Int64 // requests answered 429
}

func (s *api) routes(r *mux.Router) {
	r.HandleFunc("/api/walls/{slug}/posts", s.limitAPI(s.posts)).Methods(http.MethodGet, http.MethodOptions)
}

func (s *api) posts(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	cors(w, r, wc.EmbedOrigins)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			http.Error(w, "limit must be a number from 1 to 100", http.StatusBadRequest)
			return
		}
		limit = n
	}
	var before int64
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "before must be the next value of a previous page", http.StatusBadRequest)
			return
		}
		before = n
	}
	posts, next, err := s.store.Posts(r.Context(), wc.Slug, before, limit)
	if err != nil {
		s.log.Error("api posts", "wall", wc.Slug, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if posts == nil {
		posts = []wall.Post{}
	}
	page := struct {
		Posts []wall.Post `json:"posts"`
		Next  string      `json:"next,omitempty"`
	}{Posts: posts}
	if next > 0 {
		page.Next = strconv.FormatInt(next, 10)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	json.NewEncoder(w).Encode(page)
}

// limitAPI applies the per-client rate of the public JSON API: over it, a
// client gets 429 with Retry-After.
func (s *api) limitAPI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		perMinute := s.Config().Server.APIRate
		ok, wait := s.rates.allow(limitKey(ClientAddr(r)), perMinute, max(perMinute/10, 1))
		if !ok {
			s.limited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Error(w, "too many requests from this address: slow down", http.StatusTooManyRequests)
			return
		}
		next(w, r)
	}
}
