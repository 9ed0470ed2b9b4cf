package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/wallcast/wallcast/cluster"
	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/web"
)

// edge is a running edge: the web side of Wallcast fed by the cluster's
// stream, with no sources, no console and no database.
type edge struct {
	log    *slog.Logger
	node   *cluster.Node
	feed   *cluster.Edge
	hub    *fanout.Hub
	srv    *web.Server
	http   *http.Server
	addr   string
	served chan error
	cancel context.CancelFunc
	jobs   sync.WaitGroup
	once   sync.Once
	err    error // of the shutdown

	mu  sync.Mutex
	cfg *config.Config
	own []config.Wall // the walls of the edge's own config file
}

// startEdge starts an edge on a config that has a cluster section.
func startEdge(cfg *config.Config, log *slog.Logger, tune ...func(*settings)) (*edge, error) {
	st := settle(tune)
	if cfg.Cluster == nil {
		return nil, fmt.Errorf("%s: an edge needs a cluster: section (the NATS it reads the walls from)", cfg.File)
	}
	e := &edge{log: log, cfg: cfg, own: cfg.Walls}
	e.hub = fanout.NewHub(cfg.Server.QueueSize, cfg.Server.Heartbeat.D())
	if e.hub.EnableEngine(cfg.Server.WriteTimeout.D()) {
		log.Info("fan-out engine on: HTTP/1.1 screens are served without a goroutine each")
	}
	node, err := cluster.Start(cfg, "wallcast edge", false, log)
	if err != nil {
		return nil, err
	}
	e.node = node
	e.feed = cluster.NewEdge(node, e.hub, e.setWalls)
	reg := web.NewRegistry() // the edge's: every part adds its figures
	reg.MustRegister(e.feed.Collectors()...)
	e.srv = web.NewServer(web.Options{Config: cfg, Store: e.feed, Tally: e.feed, Hub: e.hub, Log: log, Ready: e.feed.Ready, Serving: e.feed.Ready, Metrics: reg})
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		node.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	e.addr = ln.Addr().String()
	e.http = newHTTPServer(e.srv.Handler(), log)
	e.served = make(chan error, 1)
	go func() { e.served <- e.http.Serve(ln) }()
	bg, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.jobs.Go(func() { e.feed.Run(bg) })
	e.jobs.Go(func() { e.srv.NoteScreens(bg, st.screensEvery) })
	log.Info("edge listening", "addr", e.addr, "stream", cfg.Cluster.Stream, "nats", cfg.Cluster.NATS)
	return e, nil
}

// setWalls takes the ingest node's walls from the bucket: walls added
// start, removed ones close their screens (display changes reach screens
// as config events on the stream). Branding files are the edge's own.
func (e *edge) setWalls(walls []config.Wall) {
	walls, dropped := config.OwnFiles(walls, e.own)
	if len(dropped) > 0 {
		e.log.Warn("cluster: file paths from NATS that the edge's own config does not name; not served", "files", dropped)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	next := *e.cfg
	next.Walls = walls
	for _, w := range e.cfg.Walls {
		if next.Wall(w.Slug) == nil {
			e.hub.CloseWall(w.Slug)
		}
	}
	e.cfg = &next
	e.srv.SetConfig(&next)
}

// shutdown tells the screens to go elsewhere, drains HTTP and leaves NATS
// (once; later calls return the first one's error).
func (e *edge) shutdown() error {
	e.once.Do(func() { e.err = e.stop() })
	return e.err
}

func (e *edge) stop() error {
	e.hub.Close()
	e.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if err := e.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-e.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	e.cancel()
	e.jobs.Wait()
	e.node.Close()
	return errors.Join(errs...)
}

// runEdge is "wallcast edge": serve screens from the cluster's stream.
func runEdge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wallcast edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "the config file (the ingest node's, with its cluster: section)")
	listen := fs.String("listen", "", "the address to listen on (default: server.listen of the config)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.LoadEdge(*path, sources.ConfigTypes())
	if err != nil {
		refused(stderr, *path, err)
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log = log.With("node", "edge")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e, err := startEdge(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	<-ctx.Done()
	stop()
	return shutdown(log, e.shutdown)
}
