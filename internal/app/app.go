// Package app wires a running Wallcast: the ingest node (sources, ingest,
// storage, the web side, the cluster's outbox) and the edge (the web side
// fed by the cluster's stream). cmd/wallcast runs them; the end-to-end
// tests start them through this API.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wallcast/wallcast/cluster"
	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/ingest"
	"github.com/wallcast/wallcast/outbound"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sources/supervisor"
	"github.com/wallcast/wallcast/sources/uploads"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/translate"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/web"
)

// App is a running ingest node (or single process): every part, wired.
type App struct {
	path       string // the config file, for reloads
	mu         sync.Mutex
	cfg        *config.Config
	log        *slog.Logger
	db         *storage.DB
	judge      *ingest.Classifier // nil: no classifier
	hub        *fanout.Hub
	pipe       *ingest.Pipeline
	writes     *ingest.Writes // the console's write side
	sup        *supervisor.Supervisor
	srv        *web.Server
	http       *http.Server
	addr       string
	hooks      *webhook.Hooks
	cancel     context.CancelFunc // stops sources and background jobs
	bg         context.Context
	served     chan error
	jobs       sync.WaitGroup  // background jobs that write to the database
	own        *own            // what this process published, for others' commits
	node       *cluster.Node   // nil without cluster:
	outbox     *cluster.Outbox // publishes committed events to the stream
	stopOutbox context.CancelFunc
	phones     phones // the audience's posts from their phones
	outbound   *outbound.Dispatcher
	translator *translate.Translator // nil: no translation server
}

// own remembers the event ids this process published since the last look
// for other processes' commits, so those are told apart.
type own struct {
	mu      sync.Mutex
	ids     map[int64]bool
	checked int64 // every event id up to here has been announced
}

func (o *own) Publish(events []wall.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range events {
		if e.Seq > o.checked {
			o.ids[e.Seq] = true
		}
	}
}

// foreign returns the events of evs this process did not publish, and
// notes everything up to head as announced.
func (o *own) foreign(evs []wall.Event, head int64) []wall.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []wall.Event
	for _, e := range evs {
		if !o.ids[e.Seq] {
			out = append(out, e)
		}
	}
	for id := range o.ids {
		if id <= head {
			delete(o.ids, id)
		}
	}
	o.checked = max(o.checked, head)
	return out
}

// tee hands each committed batch to several publishers in turn.
type tee []ingest.Publisher

func (t tee) Publish(events []wall.Event) {
	for _, p := range t {
		p.Publish(events)
	}
}

// Setting tunes a start beyond the config (tests do).
type Setting func(*settings)

// ScreensEvery notes the screens connected every d for the report (a
// minute by default: the report counts them per minute).
func ScreensEvery(d time.Duration) Setting { return func(s *settings) { s.screensEvery = d } }

type settings struct {
	// screensEvery is how often the screens connected are noted for the
	// report (the report counts them per minute).
	screensEvery time.Duration
}

func settle(tune []Setting) settings {
	st := settings{screensEvery: time.Minute}
	for _, f := range tune {
		f(&st)
	}
	return st
}

// Start opens the database, starts the HTTP server and the sources.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger, tune ...Setting) (*App, error) {
	st := settle(tune)
	db, err := storage.Open(cfg.Storage.Path)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: db, path: cfg.File, own: &own{ids: map[int64]bool{}}}
	if a.own.checked, err = db.Head(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.hub = fanout.NewHub(cfg.Server.QueueSize, cfg.Server.Heartbeat.D())
	if a.hub.EnableEngine(cfg.Server.WriteTimeout.D()) {
		log.Info("fan-out engine on: HTTP/1.1 screens are served without a goroutine each")
	}
	a.outbound = outbound.New(db, log)
	var pub ingest.Publisher = tee{a.own, a.hub, a.outbound}
	if cfg.Cluster != nil {
		if a.node, err = cluster.Start(cfg, "wallcast ingest", true, log); err != nil {
			db.Close()
			return nil, err
		}
		a.outbox = cluster.NewOutbox(a.node, db, cfg.Walls)
		pub = tee{a.own, a.hub, a.outbound, a.outbox}
	}
	a.pipe = ingest.New(db, pub, ingest.Routing(ctx, db, cfg, log), log)
	a.writes = ingest.NewWrites(a.pipe, db, a.Config, log)
	if authors, err := db.Authors(ctx); err != nil {
		log.Error("start: cannot read the walls' authors; hold_if new_author treats everyone as new", "err", err)
	} else {
		a.pipe.Memory().Seed(authors)
	}
	a.sup = supervisor.New(db.Cursor, log)
	a.hooks = webhook.NewHooks()
	if a.phones.key, err = db.Key(ctx, "install"); err != nil {
		db.Close()
		return nil, err
	}
	a.phones.running, a.phones.rooms = map[string]*uploads.Source{}, map[string]wall.Room{}
	reg := web.NewRegistry() // the app's: every part adds its figures
	a.srv = web.NewServer(web.Options{
		Config: cfg, Store: db, Hub: a.hub, Log: log, Health: a.sup.Health, Hooks: a.hooks, Metrics: reg,
		Outbound: a.outbound.Health,
		Uploads:  a.uploader, Media: http.HandlerFunc(a.serveMedia),
		Ready: func() error {
			if since, err := a.pipe.Failing(); err != nil {
				return fmt.Errorf("storage refuses writes since %s: %s; ingest is paused", since.UTC().Format(time.RFC3339), storage.Problem(err))
			}
			if a.outbox != nil {
				return a.outbox.Problem()
			}
			return nil
		},
		Admin: web.Admin{Store: db, Writes: a.writes, Reload: a.Reload, Forgotten: func() { a.sweepMedia(a.bg) }},
	})
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_ingest_received_total", Help: "Items sources emitted."},
			func() float64 { return float64(a.pipe.Stats.Received.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_ingest_stored_total", Help: "Items committed to the database."},
			func() float64 { return float64(a.pipe.Stats.Stored.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_ingest_dropped_total", Help: "Items no wall wanted."},
			func() float64 { return float64(a.pipe.Stats.Dropped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_db_connections", Help: "Open SQLite connections (the writer and up to 8 readers)."},
			func() float64 { return float64(db.Connections()) }),
	)
	if a.outbox != nil {
		reg.MustRegister(a.outbox.Collectors()...)
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		a.pipe.Close()
		db.Close()
		if a.node != nil {
			a.node.Close()
		}
		return nil, fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	a.addr = ln.Addr().String()
	a.http = newHTTPServer(a.srv.Handler(), log)
	a.served = make(chan error, 1)
	go func() { a.served <- a.http.Serve(fanout.ReliefListener(ln, a.hub.Relieve)) }()
	log.Info("listening", "addr", a.addr, "base_url", cfg.Server.BaseURL, "walls", len(cfg.Walls))

	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.bg = bg
	for _, sc := range cfg.Sources {
		if !used(cfg, sc.Name) {
			log.Warn("source not used by any wall; not started", "source", sc.Name)
			continue
		}
		if err := a.startSource(cfg, sc); err != nil {
			a.Shutdown()
			return nil, err
		}
	}
	if cl := cfg.Moderation.Classifier; cl != nil {
		a.judge = ingest.NewClassifier(*cl, func(slug, postID, status, reason string) error {
			return a.pipe.Do(func() ([]wall.Event, error) { return db.Verdict(bg, slug, postID, status, reason, "classifier") })
		}, a.pipe.Manual, log)
		a.judge.MediaBase = cfg.Server.BaseURL
		a.judge.Start(bg)
		a.pipe.SetClassifier(a.judge)
	}
	a.outbound.Set(bg, cfg.Outbound)
	if cfg.Translation != nil {
		a.translator = translate.New(cfg, a.pipe.Clean, func(postID, source, lang string, tr wall.Translation) error {
			return a.pipe.Do(func() ([]wall.Event, error) { return db.Translated(bg, postID, source, lang, tr) })
		}, log)
		a.translator.Start(bg)
		a.pipe.SetTranslator(a.translator)
	}
	go a.retention(bg)
	a.jobs.Go(func() { a.startAnnouncements(bg) })
	a.jobs.Go(func() { a.rooms(bg) })
	a.jobs.Go(func() { a.sweepMedia(bg); tick(bg, 30*time.Second, func() { a.sweepMedia(bg) }) })
	a.jobs.Go(func() { a.followOthers(bg, time.Second) })
	a.jobs.Go(func() { a.srv.NoteScreens(bg, st.screensEvery) })
	if a.outbox != nil {
		// The outbox outlives the sources: at shutdown it sends what the
		// last commits added before it stops.
		octx, stop := context.WithCancel(context.Background())
		a.stopOutbox = stop
		go a.outbox.Run(octx)
	}
	return a, nil
}

func (a *App) Config() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

func (a *App) startSource(cfg *config.Config, sc config.Source) error {
	env := upstream.Env{BaseURL: cfg.Server.BaseURL, Log: a.log, Hooks: a.hooks, Key: a.phones.key}
	if sc.Type == "uploads" {
		st, err := a.mediaStore(cfg)
		if err != nil {
			return err
		}
		env.Media = st
	}
	src, err := sources.New(sc, env)
	if err != nil {
		return err
	}
	if sc.Type == "webhook" {
		a.hooks.Expect(sc.Name)
	}
	if u, ok := src.(*uploads.Source); ok {
		a.running(sc.Name, u)
	}
	a.sup.Start(a.bg, supervisor.Spec{
		Name: sc.Name, Type: sc.Type, Source: src, Stall: sc.StallTimeout.D(),
		Sub: sources.Subscription(cfg, sc.Name), Emit: a.pipe.Emitter(sc.Name),
	})
	return nil
}

// Reload reads the config file again and applies it without dropping a
// screen: walls and routing change at once, sources whose settings or
// subscription changed reconnect, new ones start, removed ones stop. A
// config that does not validate is refused and the running one kept.
func (a *App) Reload() error {
	next, err := sources.Load(a.path)
	if err != nil {
		a.log.Error("reload refused: the running config is kept", "file", a.path, "err", err)
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.cfg
	if next.Server.Listen != prev.Server.Listen || next.Storage.Path != prev.Storage.Path {
		a.log.Warn("reload: server.listen and storage.path take effect at the next start")
	}
	a.cfg = next
	a.srv.SetConfig(next)
	if a.outbox != nil {
		a.outbox.SetWalls(next.Walls)
	}
	a.writes.Reroute(a.bg, next)
	a.outbound.Set(a.bg, next.Outbound)
	if a.translator != nil {
		a.translator.SetWalls(next)
	} else if next.Translation != nil {
		a.log.Warn("reload: translation takes effect at the next start")
	}
	for _, w := range prev.Walls {
		if next.Wall(w.Slug) == nil {
			a.hub.CloseWall(w.Slug)
		}
	}
	for _, w := range next.Walls {
		if old := prev.Wall(w.Slug); old != nil && (!reflect.DeepEqual(old.Display, w.Display) || old.Title != w.Title) {
			data := a.srv.ConfigEventFor(a.bg, &w)
			if err := a.pipe.Do(func() ([]wall.Event, error) {
				e, err := a.db.AppendEvent(a.bg, w.Slug, wall.EventConfig, data)
				return []wall.Event{e}, err
			}); err != nil {
				a.log.Error("reload: config event", "wall", w.Slug, "err", err)
			}
		}
	}
	for _, sc := range prev.Sources {
		if n := next.Source(sc.Name); n == nil || !used(next, sc.Name) {
			a.sup.Stop(sc.Name)
			a.running(sc.Name, nil)
			a.hooks.Forget(sc.Name)
		}
	}
	for _, sc := range next.Sources {
		if !used(next, sc.Name) {
			continue
		}
		old := prev.Source(sc.Name)
		if old != nil && used(prev, sc.Name) && sameSource(*old, sc) &&
			reflect.DeepEqual(sources.Subscription(prev, sc.Name), sources.Subscription(next, sc.Name)) {
			continue
		}
		a.sup.Stop(sc.Name)
		if err := a.startSource(next, sc); err != nil {
			a.log.Error("reload: source", "source", sc.Name, "err", err)
		}
	}
	a.log.Info("config reloaded", "file", a.path, "walls", len(next.Walls), "sources", len(next.Sources))
	return nil
}

func sameSource(a, b config.Source) bool {
	a.Line, b.Line = 0, 0
	return reflect.DeepEqual(a, b)
}

func used(c *config.Config, source string) bool {
	for _, w := range c.Walls {
		for _, s := range w.Sources {
			if s == source {
				return true
			}
		}
	}
	return false
}

// followOthers announces what another process committed while this one
// runs (wallcast forget from the command line): every interval it asks
// SQLite whether another connection wrote, and if so hands the display
// events this process did not publish to the screens and the outbox.
// It runs under the commit lock, so none of this process's commits is
// half-announced meanwhile.
func (a *App) followOthers(ctx context.Context, every time.Duration) {
	a.db.Foreign(ctx) // the baseline
	tick(ctx, every, func() {
		err := a.pipe.Do(func() ([]wall.Event, error) {
			changed, err := a.db.Foreign(ctx)
			if err != nil || !changed {
				return nil, err
			}
			a.own.mu.Lock()
			after := a.own.checked
			a.own.mu.Unlock()
			var out []wall.Event
			for {
				evs, through, more, err := a.db.Outbox(ctx, after, 512)
				if err != nil {
					return out, err
				}
				for _, e := range evs {
					out = append(out, e.Event)
				}
				after = through
				if !more {
					break
				}
			}
			out = a.own.foreign(out, after)
			if len(out) > 0 {
				a.log.Info("another process committed to the database; its events go to the screens", "events", len(out))
			}
			return out, nil
		})
		if err != nil && ctx.Err() == nil {
			a.log.Error("following other processes' commits", "err", err)
		}
	})
}

// startAnnouncements gives scheduled announcements their event when they
// start (checked every second), so screens never hold one early.
func (a *App) startAnnouncements(ctx context.Context) {
	tick(ctx, time.Second, func() {
		if err := a.pipe.Do(func() ([]wall.Event, error) { return a.db.StartAnnouncements(ctx) }); err != nil && ctx.Err() == nil {
			a.log.Error("scheduled announcements", "err", err)
		}
	})
}

// tick calls fn every interval until ctx ends.
func tick(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// retention prunes events and posts older than storage.retention, hourly.
func (a *App) retention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ev, posts, err := a.db.Prune(ctx, time.Now().Add(-a.Config().Storage.Retention.D()))
		if err != nil && ctx.Err() == nil {
			a.log.Error("retention", "err", err)
		} else if ev+posts > 0 {
			a.log.Info("retention", "events_deleted", ev, "posts_deleted", posts)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown stops in order: screens are told to go (their streams end and
// they reconnect elsewhere or later), the HTTP server drains, sources stop,
// ingest commits what it holds, and the database closes.
func (a *App) Shutdown() error {
	a.hub.Close()
	a.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if a.http != nil {
		if err := a.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-a.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.sup.Wait()
	a.jobs.Wait()
	a.outbound.Wait()
	if a.translator != nil {
		a.translator.Wait()
	}
	if a.judge != nil {
		a.judge.Wait()
	}
	a.pipe.Close()
	if a.stopOutbox != nil {
		drain, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.outbox.Drain(drain); err != nil {
			a.log.Warn("cluster: the outbox keeps events for the next start", "pending", a.outbox.Pending(), "err", err)
		}
		cancel()
		a.stopOutbox()
		a.outbox.Wait()
	}
	if err := a.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if a.node != nil {
		a.node.Close()
	}
	return errors.Join(errs...)
}

// Watch reloads the config when its file changes (checked every interval:
// no watcher library, and editors that replace the file are caught too).
// The file as it is now is the baseline; the checks run in the background.
func (a *App) Watch(ctx context.Context, every time.Duration) {
	stamp := func() string {
		fi, err := os.Stat(a.path)
		if err != nil {
			return ""
		}
		return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
	}
	last := stamp()
	go tick(ctx, every, func() {
		if s := stamp(); s != "" && s != last {
			last = s
			a.log.Info("config file changed; reloading", "file", a.path)
			a.Reload()
		}
	})
}

// newHTTPServer is a node's HTTP server: bounded headers, idle
// connections closed, and the connection context the web side reads.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       fanout.ConnContext,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.addr }

// DB is the node's database.
func (a *App) DB() *storage.DB { return a.db }

// Pipeline is the node's ingest pipeline (writes go through it).
func (a *App) Pipeline() *ingest.Pipeline { return a.pipe }

// Outbox is the cluster's outbox (nil without cluster:).
func (a *App) Outbox() *cluster.Outbox { return a.outbox }

// StopSource stops one source until the next reload or start.
func (a *App) StopSource(name string) { a.sup.Stop(name) }

// Connections is how many event streams the node serves now.
func (a *App) Connections() int64 { return a.srv.Connections() }

// NATSURL is the NATS server the node is connected to ("" without
// cluster: or while cut off).
func (a *App) NATSURL() string {
	if a.node == nil {
		return ""
	}
	return a.node.ConnectedURL()
}
