// Command wallcast runs a Wallcast server: a live social wall.
//
//	wallcast [-config config.yaml]         run the server
//	wallcast edge [-config config.yaml]    serve screens from the cluster's stream
//	wallcast check [-config config.yaml]   validate a config and exit
//	wallcast hash-password                 read a password on stdin, print its bcrypt hash
//	wallcast bench [flags]                 load-test a running server (see -h)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/archive"
	"github.com/wallcast/wallcast/bench"
	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/internal/app"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usage lists the subcommands.
const usage = `usage: wallcast [command] [flags]

commands:
  serve           run the walls (the default): -config FILE, -log-level LEVEL
  edge            serve screens from the cluster's stream: -config FILE, -listen ADDR, -log-level LEVEL
  check           check a config file and print every problem: -config FILE
  hash-password   print the bcrypt hash of the password read from stdin
  forget          delete every post of an author and keep them out: -config FILE @handle@instance
  export          a wall's archive after the event (zip: page, posts, media, report): -config FILE -wall SLUG -o FILE
  bench           measure a running server (wallcast bench -h for its flags)
  help            this text
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help" // wallcast -h: the commands, as wallcast help
	}
	switch cmd {
	case "serve", "check":
		return serve(cmd, args, stdout, stderr)
	case "edge":
		return runEdge(args, stdout, stderr)
	case "hash-password":
		return hashPassword(os.Stdin, stdout, stderr)
	case "forget":
		return forget(args, stdout, stderr)
	case "export":
		return export(args, stdout, stderr)
	case "bench":
		return runBench(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wallcast: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// forget deletes an author's posts from the database of a config, for a
// takedown or data-protection request. A server running on that database
// notices the commit and takes them off its screens within a second.
func forget(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wallcast forget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "the config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || strings.TrimPrefix(fs.Arg(0), "@") == "" {
		fmt.Fprintf(stderr, "wallcast forget: give one handle, such as @name@instance.example\n\n%s", usage)
		return 2
	}
	cfg, err := sources.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	db, err := storage.Open(cfg.Storage.Path) // as the server opens it
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer db.Close()
	_, n, err := db.Forget(context.Background(), fs.Arg(0), "cli")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if _, err := os.Stat(cfg.Storage.MediaDir); err == nil {
		// The pictures they sent from their phone go too.
		st, err := media.Open(cfg.Storage.MediaDir)
		if err == nil {
			st.SetLive(db.MediaInUse)
			_, err = st.Sweep(context.Background())
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: %d posts deleted; their author's posts will not be stored again.\n", fs.Arg(0), n)
	fmt.Fprintln(stdout, "A server running on this database takes them off its screens within a second.")
	return 0
}

// export writes a wall's archive after the event: every post it showed,
// with its media and moderation history, the report, and a page that
// opens offline. It reads the database as it is (a server may run).
func export(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wallcast export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "the config file")
	slug := fs.String("wall", "", "the wall's slug")
	out := fs.String("o", "", "the zip file to write, such as event.zip")
	media := fs.Bool("media", true, "copy the posts' images and videos into the archive (false: keep links)")
	private := fs.Bool("private-media", false, "also fetch media from loopback and private addresses (posts of your own network); off, a post cannot make the exporter reach into it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *slug == "" || *out == "" || fs.NArg() != 0 {
		fmt.Fprintf(stderr, "wallcast export: give -wall SLUG and -o FILE\n\n%s", usage)
		return 2
	}
	cfg, err := sources.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.Wall(*slug) == nil {
		fmt.Fprintf(stderr, "wallcast export: %s has no wall %q\n", *path, *slug)
		return 1
	}
	db, err := storage.Open(cfg.Storage.Path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer db.Close()
	ctx := context.Background()
	rep, err := db.Report(ctx, *slug, true)
	if err == nil {
		rep.Title = cfg.Wall(*slug).Title
	}
	var history map[string][]wall.Decision
	if err == nil {
		history, err = db.History(ctx, *slug)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sum, err := archive.Write(ctx, f, archive.Options{Report: rep, History: history, Media: *media, AllowPrivate: *private, MediaDir: cfg.Storage.MediaDir, Log: log})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		fmt.Fprintf(stderr, "wallcast export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d posts, %d media files, %d media kept as links\n", *out, sum.Posts, sum.Files, sum.Links)
	return 0
}

// serve runs the walls, or with cmd "check" only checks the config.
func serve(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wallcast "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "the config file")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wallcast %s: unexpected %q\n\n%s", cmd, fs.Arg(0), usage)
		return 2
	}
	cfg, err := sources.Load(*path)
	if err != nil {
		refused(stderr, *path, err)
		return 1
	}
	if cmd == "check" {
		fmt.Fprintf(stdout, "%s: ok (%d walls, %d sources)\n", *path, len(cfg.Walls), len(cfg.Sources))
		return 0
	}

	log, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	if addr := os.Getenv("WALLCAST_PPROF"); addr != "" {
		// Profiling for those who measure: never on a public address.
		go func() { log.Info("pprof", "addr", addr, "err", http.ListenAndServe(addr, pprofMux())) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	// SIGHUP and saving the config file reload it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the config")
				a.Reload()
			}
		}
	}()
	a.Watch(ctx, 2*time.Second)
	<-ctx.Done()
	stop()
	return shutdown(log, a.Shutdown)
}

// refused prints why a config was refused: every problem, each with its
// file, line and fix.
func refused(stderr io.Writer, path string, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s: %d problem(s):\n%v\n", path, len(errs), errs)
	} else {
		fmt.Fprintln(stderr, err)
	}
}

// newLogger is the text logger at the level -log-level names.
func newLogger(stderr io.Writer, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv})), nil
}

// shutdown stops a node after the first signal; a second signal while it
// does forces the exit. It returns the exit code.
func shutdown(log *slog.Logger, stop func() error) int {
	force := make(chan os.Signal, 1)
	signal.Notify(force, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-force
		log.Error("second signal: exiting now")
		os.Exit(1)
	}()
	log.Info("shutting down")
	if err := stop(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// hashPassword prints the bcrypt hash of the password on the first line of
// in, for admin.password_hash (through an environment variable).
func hashPassword(in io.Reader, stdout, stderr io.Writer) int {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, err)
		return 1
	}
	pass := strings.TrimRight(line, "\r\n")
	if len(pass) < 8 {
		fmt.Fprintln(stderr, "the password must have at least 8 characters")
		return 1
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}

// runBench is "wallcast bench": see the bench package and the README.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wallcast bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.Options
	urls := fs.String("url", "http://127.0.0.1:8080", "the running server; comma-separated servers (a cluster's edges): the screens open them in turn, latency is given per server")
	fs.StringVar(&o.PostURL, "post-url", "", "where the posts go (default: the first -url): a cluster's ingest node")
	fs.StringVar(&o.Wall, "wall", "bench", "the wall the screens open")
	fs.StringVar(&o.Hook, "hook", "bench", "the webhook source (flavor wallcast) that posts go through; its secret is read from WALLCAST_BENCH_SECRET")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "screens to open")
	fs.Float64Var(&o.Rate, "rate", 10, "posts per second (with -batch: requests per second)")
	fs.BoolVar(&o.Reconnect, "reconnect", false, "a screen whose stream a server closes comes back, as a browser does, on another -url with its Last-Event-ID (an edge that restarts)")
	fs.IntVar(&o.Batch, "batch", 1, "posts per request, as one JSON array: a firehose's rate at a few requests a second")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to publish")
	pids := fs.String("pid", "", "the server's process id, to measure its memory and CPU (from /proc); comma-separated ids are summed")
	sources := fs.String("sources", "", "comma-separated local addresses to connect from, -per-source screens each (default: as many of 127.0.0.1, 127.0.0.2, … as the screens need, for a server on loopback)")
	fs.IntVar(&o.PerSource, "per-source", 20000, "screens per source address")
	fs.IntVar(&o.Procs, "procs", 1, "processes of this tool that share the screens (a process holds only as many sockets as its open-file limit: 4 for 60,000 screens where it is 20,000)")
	fs.DurationVar(&o.Grace, "grace", 5*time.Second, "how long to wait for the last posts to arrive")
	child := fs.Bool("child", false, "read a share of another bench process's screens (it starts these itself)")
	fs.IntVar(&o.Offset, "offset", 0, "with -child: the place of the first screen among the run's")
	fs.StringVar(&o.RunID, "run", "", "with -child: the run's id")
	fs.IntVar(&o.Posts, "posts", 0, "with -child: the most posts the run publishes")
	fs.IntVar(&o.Uploads, "uploads", 0, "a burst of this many posts from phones, all at once halfway through the run, to the wall's form (its uploads source must take them without a room code)")
	fs.IntVar(&o.UploadWidth, "upload-width", 1600, "the width of the burst's photos (1600×1200: a phone's photo as the form makes it smaller in the browser)")
	fs.IntVar(&o.UploadHeight, "upload-height", 1200, "the height of the burst's photos")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Secret = os.Getenv("WALLCAST_BENCH_SECRET")
	if o.Secret == "" {
		fmt.Fprintln(stderr, "wallcast bench: set WALLCAST_BENCH_SECRET to the secret of the bench webhook source")
		return 2
	}
	if *sources != "" {
		o.Sources = strings.Split(*sources, ",")
	}
	all := strings.Split(*urls, ",")
	o.URL, o.URLs = all[0], all[1:]
	for i, v := range strings.Split(*pids, ",") {
		if v == "" {
			continue
		}
		pid, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintf(stderr, "wallcast bench: -pid %q is not a process id\n", v)
			return 2
		}
		if i == 0 {
			o.PID = pid
		} else {
			o.PIDs = append(o.PIDs, pid)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := stdout
	if *child {
		o.Child, out = &bench.ChildLink{In: bufio.NewReader(os.Stdin), Out: stdout}, io.Discard
	}
	if _, err := bench.Run(ctx, o, out); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func pprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/heap", pprof.Index)
	return m
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
	e, err := app.StartEdge(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	<-ctx.Done()
	stop()
	return shutdown(log, e.Shutdown)
}
