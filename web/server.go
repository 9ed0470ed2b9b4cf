// Package web is Wallcast's HTTP side: the display pages, the JSON API, the
// event streams, the admin console and its login, /stats and /metrics.
package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
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
