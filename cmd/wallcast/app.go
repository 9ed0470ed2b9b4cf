package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/ingest"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// app is a running Wallcast: every part, wired.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	db     *storage.DB
	hub    *wall.Hub
	pipe   *ingest.Pipeline
	sup    *sources.Supervisor
	srv    *wall.Server
	http   *http.Server
	addr   string
	cancel context.CancelFunc // stops sources and background jobs
	served chan error
}

// start opens the database, starts the HTTP server and the sources.
func start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*app, error) {
	db, err := storage.Open(cfg.Storage.Path)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db}
	a.hub = wall.NewHub(cfg.Server.QueueSize, cfg.Server.Heartbeat.D())
	a.pipe = ingest.New(db, a.hub, ingest.NewRouter(cfg), log)
	a.sup = sources.NewSupervisor(db.Cursor, log)
	a.srv = wall.NewServer(cfg, db, a.hub, a.sup.Health, log)

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		a.pipe.Close()
		db.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	a.addr = ln.Addr().String()
	a.http = &http.Server{
		Handler:           a.srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	a.served = make(chan error, 1)
	go func() { a.served <- a.http.Serve(ln) }()
	log.Info("listening", "addr", a.addr, "base_url", cfg.Server.BaseURL, "walls", len(cfg.Walls))

	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, sc := range cfg.Sources {
		if !used(cfg, sc.Name) {
			log.Warn("source not used by any wall; not started", "source", sc.Name)
			continue
		}
		src, err := sources.New(sc, sources.Deps{BaseURL: cfg.Server.BaseURL, Log: log})
		if err != nil {
			a.shutdown()
			return nil, err
		}
		a.sup.Start(bg, sources.Spec{
			Name: sc.Name, Type: sc.Type, Source: src, Stall: sc.StallTimeout.D(),
			Sub: sources.Subscription(cfg, sc.Name), Emit: a.pipe.Emitter(sc.Name),
		})
	}
	go a.retention(bg)
	return a, nil
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

// retention prunes events and posts older than storage.retention, hourly.
func (a *app) retention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ev, posts, err := a.db.Prune(ctx, time.Now().Add(-a.cfg.Storage.Retention.D()))
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

// shutdown stops in order: screens are told to go (their streams end and
// they reconnect elsewhere or later), the HTTP server drains, sources stop,
// ingest commits what it holds, and the database closes.
func (a *app) shutdown() error {
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
	a.pipe.Close()
	if err := a.db.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
