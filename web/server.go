// Package web is Wallcast's HTTP side: the display pages, the JSON API, the
// event streams, the admin console and its login, /stats and /metrics.
package web

import (
	"bytes"
	"context"
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
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/templates"
	"github.com/wallcast/wallcast/wall"
)

// base is what every part of the web side shares: the config in use,
// the templates and the log, and the lookups built on them.
type base struct {
	cfg  atomic.Pointer[config.Config]
	tmpl *template.Template
	log  *slog.Logger
}

// Server is the HTTP side of Wallcast, one small part per audience that
// share what they must through explicit fields: the display pages and
// screens' streams, the public API, the console (with its login and its
// reports), and the monitor (/stats, /healthz, /metrics).
type Server struct {
	*base
	pages   *pages
	api     *api
	feeds   *feeds
	console *console // nil: the console is off
	auth    *auth
	reports *reports
	monitor *monitor
	post    *post
	hooks   http.Handler
	media   http.Handler

	// StatsInterval is how often /stats sends its figures.
	StatsInterval time.Duration
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
	// Outbound reports the outbound endpoints (nil: none).
	Outbound func() []wall.EndpointHealth
	// Ready says why the server cannot take posts now (nil: it can); a
	// non-nil answer turns /healthz to 503 with it.
	Ready func() error
	// Serving says why new screens should go to another node (nil: take
	// them): an edge cut off from NATS answers new event streams 503, so a
	// proxy tries the next edge; open streams stay.
	Serving func() error
	// Hooks answers /hooks/{source} (nil: no webhooks).
	Hooks http.Handler
	// Uploads finds the running uploads source of a wall, the one its
	// form at /walls/{slug}/post hands posts to (nil: no wall has one).
	Uploads func(slug string) Uploader
	// Media serves /media/ (the audience's pictures; nil: none).
	Media http.Handler
	// Admin wires the admin console (a nil Admin.Store: the console is off).
	Admin Admin
	// Metrics is the app's registry: the web side adds its figures to it
	// (nil: a registry of its own).
	Metrics *prometheus.Registry
}

// NewServer returns the HTTP service for the walls of o.Config.
func NewServer(o Options) *Server {
	b := &base{log: o.Log}
	b.cfg.Store(o.Config)
	b.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"join":    strings.Join,
		"seconds": seconds,
		"scale":   scale,
	}).ParseFS(templates.FS, "*.html"))
	health, ready, endpoints := o.Health, o.Ready, o.Outbound
	if health == nil {
		health = func() []wall.SourceHealth { return nil }
	}
	if endpoints == nil {
		endpoints = func() []wall.EndpointHealth { return nil }
	}
	if ready == nil {
		ready = func() error { return nil }
	}
	tally := o.Tally
	if tally == nil && o.Admin.Store != nil {
		tally = o.Admin.Store
	}
	reg := o.Metrics
	if reg == nil {
		reg = NewRegistry()
	}
	s := &Server{base: b, hooks: o.Hooks, media: o.Media, post: &post{base: b, uploader: o.Uploads, memory: newBudget(UploadMemory)}, StatsInterval: time.Second, BodyTimeout: 15 * time.Second}
	slots := &slots{}
	s.api = &api{base: b, store: o.Store, rates: newRates(10000)}
	s.feeds = &feeds{base: b, store: o.Store, api: s.api}
	s.pages = &pages{base: b, store: o.Store, tally: tally, hub: o.Hub, serving: o.Serving, slots: slots, api: s.api}
	streams := &atomic.Int64{} // the streams that are not screens: /stats, consoles
	s.monitor = &monitor{base: b, start: time.Now(), hub: o.Hub, health: health, endpoints: endpoints, ready: ready, slots: slots, api: s.api,
		streams: streams, every: &s.StatsInterval, closing: make(chan struct{})}
	if o.Admin.Store != nil {
		s.auth = &auth{base: b, admin: o.Admin, logins: newLimiter(10000)}
		s.reports = &reports{base: b, admin: o.Admin}
		s.console = &console{base: b, admin: o.Admin, hub: o.Hub, health: health, endpoints: endpoints, pages: s.pages, auth: s.auth, reports: s.reports,
			streams: streams, replayPage: 1000}
	}
	s.monitor.register(reg)
	s.monitor.reg = reg
	return s
}

// SetConfig swaps the configuration (on a reload).
func (b *base) SetConfig(c *config.Config) { b.cfg.Store(c) }

// Config returns the configuration in use.
func (b *base) Config() *config.Config { return b.cfg.Load() }

// NewRegistry is a Prometheus registry with the Go runtime's and the
// process's figures: the app makes one and hands it to every part that
// exports figures.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Close ends the streams this server holds that are not hub subscriptions
// (/stats). Close the hub to end the walls' streams.
func (s *Server) Close() { s.monitor.close() }

// Connections returns the number of open SSE streams.
func (s *Server) Connections() int64 { return s.monitor.connections() }

// ConfigEventFor is the data of a config event for a wall as its screens
// should show it: the config with the console's changes over it.
func (s *Server) ConfigEventFor(ctx context.Context, wc *config.Wall) []byte {
	return s.pages.configEventFor(ctx, wc)
}

// NoteScreens writes each wall's most screens at once to the store every
// interval until ctx ends (see pages.noteScreens).
func (s *Server) NoteScreens(ctx context.Context, every time.Duration) {
	s.pages.noteScreens(ctx, every)
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/walls/sw.js", serviceWorker).Methods(http.MethodGet, http.MethodHead)
	s.monitor.routes(r)
	s.pages.routes(r)
	s.api.routes(r)
	s.feeds.routes(r)
	s.post.routes(r)
	if s.media != nil {
		r.PathPrefix("/media/").Handler(s.media).Methods(http.MethodGet, http.MethodHead)
	}
	if s.hooks != nil {
		r.PathPrefix("/hooks/").Handler(s.hooks).Methods(http.MethodGet, http.MethodPost)
	}
	if s.console != nil {
		s.console.routes(r)
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
	return s.monitor.count(secure(s.withClient(s.guard(r))))
}

// serviceWorker serves the screens' service worker, whose scope is
// /walls/ (see static/sw.js); never cached, so a new one reaches screens.
func serviceWorker(w http.ResponseWriter, r *http.Request) {
	b, err := templates.FS.ReadFile("static/sw.js")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
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

func (b *base) render(w http.ResponseWriter, name string, data any, frameAncestors []string) {
	b.renderStatus(w, http.StatusOK, name, data, frameAncestors)
}

// renderStatus renders a page answered with status.
func (b *base) renderStatus(w http.ResponseWriter, status int, name string, data any, frameAncestors []string) {
	var buf bytes.Buffer
	if err := b.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		b.log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setCSP(w, frameAncestors)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// wallOf finds the wall of a request, answering 404 when there is none.
func (b *base) wallOf(w http.ResponseWriter, r *http.Request) *config.Wall {
	slug := mux.Vars(r)["slug"]
	wc := b.Config().Wall(slug)
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
