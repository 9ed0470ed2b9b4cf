// Package web is Wallcast's HTTP side: the display pages, the JSON API, the
// event streams, the admin console and its login, /stats and /metrics.
package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/templates"
	"github.com/wallcast/wallcast/wall"
)

// Server is the HTTP side of Wallcast: pages, the SSE streams, the JSON API.
type Server struct {
	store   wall.Reader
	tally   wall.Tally
	hub     *fanout.Hub
	health  func() []wall.SourceHealth
	ready   func() error
	serving func() error
	log     *slog.Logger
	cfg     atomic.Pointer[config.Config]
	tmpl    *template.Template
	start   time.Time

	requests atomic.Int64
	conns    atomic.Int64
	// streams and apiRates are the per-client limits; refusedStreams and
	// limitedRequests count what they turned away.
	streams                         streams
	apiRates                        *rates
	refusedStreams, limitedRequests atomic.Int64
	undos                           undos   // actions the console can take back
	screens                         screens // screens per wall, for the report
	closing                         chan struct{}
	admin                           Admin
	logins                          *limiter
	hooks                           http.Handler
	reg                             *prometheus.Registry

	// StatsInterval is how often /stats sends its figures.
	StatsInterval time.Duration
	// ReplayPage is how many events one replay query reads.
	ReplayPage int
	// BodyTimeout bounds reading a request's body (logins, admin POSTs).
	BodyTimeout time.Duration
}

// Options is what a Server is built from.
type Options struct {
	Config *config.Config
	Store  wall.Reader
	// Tally takes the screens' reports: sponsor showings and screens
	// connected (nil: the console's store, or nowhere without it).
	Tally wall.Tally
	Hub   *fanout.Hub
	Log   *slog.Logger
	// Health reports the sources (nil: none).
	Health func() []wall.SourceHealth
	// Ready says why the server cannot take posts now (nil: it can); a
	// non-nil answer turns /healthz to 503 with it.
	Ready func() error
	// Serving says why new screens should go to another node (nil: take
	// them): an edge cut off from NATS answers new event streams 503, so a
	// proxy tries the next edge; open streams stay.
	Serving func() error
	// Hooks answers /hooks/{source} (nil: no webhooks).
	Hooks http.Handler
	// Admin wires the admin console (a nil Admin.Store: the console is off).
	Admin Admin
}

// NewServer returns the HTTP service for the walls of o.Config.
func NewServer(o Options) *Server {
	s := &Server{
		store: o.Store, tally: o.Tally, hub: o.Hub, serving: o.Serving, health: o.Health, ready: o.Ready, log: o.Log, hooks: o.Hooks, admin: o.Admin, start: time.Now(),
		closing: make(chan struct{}), StatsInterval: time.Second, ReplayPage: 1000,
		logins: newLimiter(10000), apiRates: newRates(10000), BodyTimeout: 15 * time.Second,
	}
	if s.health == nil {
		s.health = func() []wall.SourceHealth { return nil }
	}
	if s.ready == nil {
		s.ready = func() error { return nil }
	}
	if s.tally == nil && o.Admin.Store != nil {
		s.tally = o.Admin.Store
	}
	s.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"join":    strings.Join,
		"seconds": seconds,
		"scale":   scale,
	}).ParseFS(templates.FS, "*.html"))
	s.cfg.Store(o.Config)
	s.reg = s.newRegistry()
	return s
}

// SetConfig swaps the configuration (on a reload).
func (s *Server) SetConfig(c *config.Config) { s.cfg.Store(c) }

// Config returns the configuration in use.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// Connections returns the number of open SSE streams.
func (s *Server) Connections() int64 {
	return s.conns.Load() + s.hub.Streams()
}

// Close ends the streams this server holds that are not hub subscriptions
// (/stats). Close the hub to end the walls' streams.
func (s *Server) Close() {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/", s.index).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", s.metrics()).Methods(http.MethodGet)
	r.HandleFunc("/stats", s.stats).Methods(http.MethodGet)
	r.HandleFunc("/dashboard", s.dashboard).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}", s.display).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/events", s.events).Methods(http.MethodGet)
	r.HandleFunc("/walls/{slug}/embed", s.embed).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/qr.svg", s.qrCode).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/logo", s.file("logo")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/background", s.file("background")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/custom.css", s.file("custom.css")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/sponsors/{n:[0-9]+}", s.sponsorImage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/impressions", s.limitAPI(s.impression)).Methods(http.MethodPost)
	r.HandleFunc("/embed.js", s.embedScript).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/walls/{slug}/posts", s.limitAPI(s.posts)).Methods(http.MethodGet, http.MethodOptions)
	if s.hooks != nil {
		r.PathPrefix("/hooks/").Handler(s.hooks).Methods(http.MethodGet, http.MethodPost)
	}
	if s.admin.Store != nil {
		s.adminRoutes(r)
	} else {
		r.PathPrefix("/admin").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the admin console is off: set admin.user and admin.password_hash in the config", http.StatusNotFound)
		})
	}
	static, _ := fs.Sub(templates.FS, "static")
	r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	return s.count(secure(s.withClient(s.guard(r))))
}

func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		next.ServeHTTP(w, r)
	})
}

// csp is the Content-Security-Policy of every page: nothing runs or loads
// but our own files, except post media (images, videos) from anywhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; " +
	"media-src 'self' https: http:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'"

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		next.ServeHTTP(w, r)
	})
}

// setCSP sends the page policy; frameAncestors lists who may embed it.
func setCSP(w http.ResponseWriter, frameAncestors []string) {
	fa := "'none'"
	if len(frameAncestors) > 0 {
		fa = strings.Join(frameAncestors, " ")
	}
	w.Header().Set("Content-Security-Policy", csp+"; frame-ancestors "+fa)
	if fa == "'none'" {
		w.Header().Set("X-Frame-Options", "DENY")
	}
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) render(w http.ResponseWriter, name string, data any, frameAncestors []string) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setCSP(w, frameAncestors)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	s.render(w, "index.html", s.Config(), nil)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.ready(); err != nil {
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.render(w, "dashboard.html", s.Config(), nil)
}

// wallOf finds the wallOf of a request, answering 404 when there is none.
func (s *Server) wallOf(w http.ResponseWriter, r *http.Request) *config.Wall {
	slug := mux.Vars(r)["slug"]
	wc := s.Config().Wall(slug)
	if wc == nil {
		http.Error(w, fmt.Sprintf("no wall named %q", slug), http.StatusNotFound)
	}
	return wc
}

// cors allows the wall's embed origins to read its JSON and SSE.
func cors(w http.ResponseWriter, r *http.Request, origins []string) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	if slices.Contains(origins, "*") || slices.Contains(origins, o) {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Headers", "Last-Event-ID")
		w.Header().Add("Vary", "Origin")
	}
}

func (s *Server) posts(w http.ResponseWriter, r *http.Request) {
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

// publicHealth is source health as anyone may see it.
func publicHealth(hs []wall.SourceHealth) []wall.SourceHealth {
	out := make([]wall.SourceHealth, len(hs))
	for i, h := range hs {
		h.LastError = h.PublicError
		out[i] = h
	}
	return out
}

// stats is the server's own monitor stream.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	release, ok := s.openSlot(w, r)
	if !ok {
		return
	}
	defer release()
	s.conns.Add(1)
	defer s.conns.Add(-1)
	sw := fanout.OpenStream(w, r, s.Config().Server.WriteTimeout.D())
	t := time.NewTicker(s.StatsInterval)
	defer t.Stop()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "retry: %d\n\n", s.Config().Server.Retry.D().Milliseconds())
	for {
		health, _ := json.Marshal(publicHealth(s.health()))
		fmt.Fprintf(&buf, "event: connections\ndata: %d\n\n", s.Connections())
		fmt.Fprintf(&buf, "event: requests\ndata: %d\n\n", s.requests.Load())
		fmt.Fprintf(&buf, "event: uptime\ndata: %d\n\n", int64(time.Since(s.start).Seconds()))
		state := "ok"
		if err := s.ready(); err != nil {
			state = err.Error()
		}
		fmt.Fprintf(&buf, "event: storage\ndata: %s\n\n", strings.ReplaceAll(state, "\n", " "))
		buf.Write(fanout.Encode(wall.Event{Type: "sources", Data: health}))
		if err := sw.Send(buf.Bytes()); err != nil {
			return
		}
		buf.Reset()
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-t.C:
		}
	}
}
