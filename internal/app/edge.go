package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wallcast/wallcast/cluster"
	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/web"
)

// Edge is a running edge: the web side of Wallcast fed by the cluster's
// stream, with no sources, no console and no database.
type Edge struct {
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

// StartEdge starts an edge on a config that has a cluster section.
func StartEdge(cfg *config.Config, log *slog.Logger, tune ...Setting) (*Edge, error) {
	st := settle(tune)
	if cfg.Cluster == nil {
		return nil, fmt.Errorf("%s: an edge needs a cluster: section (the NATS it reads the walls from)", cfg.File)
	}
	e := &Edge{log: log, cfg: cfg, own: cfg.Walls}
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
	go func() { e.served <- e.http.Serve(fanout.ReliefListener(ln, e.hub.Relieve)) }()
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
func (e *Edge) setWalls(walls []config.Wall) {
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

// Shutdown tells the screens to go elsewhere, drains HTTP and leaves NATS
// (once; later calls return the first one's error).
func (e *Edge) Shutdown() error {
	e.once.Do(func() { e.err = e.stop() })
	return e.err
}

func (e *Edge) stop() error {
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

// Addr is the address the edge listens on.
func (e *Edge) Addr() string { return e.addr }

// Feed is the edge's copy of the stream.
func (e *Edge) Feed() *cluster.Edge { return e.feed }

// Connections is how many event streams the edge serves now.
func (e *Edge) Connections() int64 { return e.srv.Connections() }
