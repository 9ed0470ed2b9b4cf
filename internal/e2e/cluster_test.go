package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/internal/app"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// needed skips a test for want of a Debian package, except in CI
// (CI=true), where .ci/run installs it and its absence fails the run.
func needed(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// natsd is a NATS server for a test: in this process (the Go package), or
// Debian's nats-server (2.9) as a child process.
type natsd struct {
	t    *testing.T
	dir  string
	port int
	srv  *server.Server
	cmd  *exec.Cmd
	// routes: a three-node cluster's routes, and this node's cluster port.
	name, routes string
	clusterPort  int
}

// port is a TCP port nobody listens on now.
func port(t *testing.T) int {
	_, p, _ := net.SplitHostPort(freePort(t))
	n, _ := strconv.Atoi(p)
	return n
}

// startNATS starts one NATS server with JetStream; external runs Debian's
// binary instead of the Go package.
func startNATS(t *testing.T, external bool) *natsd {
	n := &natsd{t: t, dir: t.TempDir(), port: port(t), name: "n1"}
	n.start(external)
	t.Cleanup(n.stop)
	return n
}

func (n *natsd) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsd) start(external bool) {
	n.t.Helper()
	if external {
		args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir, "-n", n.name}
		if n.routes != "" {
			args = append(args, "--cluster_name", "wc", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.clusterPort), "--routes", n.routes)
		}
		n.cmd = exec.Command("nats-server", args...)
		if err := n.cmd.Start(); err != nil {
			n.t.Fatal(err)
		}
	} else {
		opts := &server.Options{ServerName: n.name, Host: "127.0.0.1", Port: n.port, JetStream: true, StoreDir: n.dir, NoSigs: true, NoLog: true}
		if n.routes != "" {
			opts.Cluster = server.ClusterOpts{Name: "wc", Host: "127.0.0.1", Port: n.clusterPort}
			opts.Routes = server.RoutesFromStr(n.routes)
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			n.t.Fatal(err)
		}
		srv.Start()
		n.srv = srv
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("NATS on %d did not start", n.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *natsd) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
	if n.cmd != nil {
		n.cmd.Process.Kill()
		n.cmd.Wait()
		n.cmd = nil
	}
}

// clusterYAML is a webhook wall (auto moderation) on a cluster.
const clusterYAML = `server: {listen: "127.0.0.1:0", sse_retry: 200ms, trusted_proxies: ["127.0.0.1"]}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, title: DevConf, hashtags: [devconf], sources: [hook], display: {max_posts: 30}}
cluster:
  nats: [%s]
  window: %d
  replicas: %d
  unhealthy_after: 1s
`

func writeClusterConfig(t *testing.T, dir string, window, replicas int, urls ...string) string {
	t.Helper()
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	path := filepath.Join(dir, "config.yaml")
	quoted := make([]string, len(urls))
	for i, u := range urls {
		quoted[i] = strconv.Quote(u)
	}
	y := fmt.Sprintf(clusterYAML, filepath.Join(dir, "wallcast.db"), strings.Join(quoted, ", "), window, replicas)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startEdgeFile starts an edge in this process on a config file.
func startEdgeFile(t *testing.T, path string, tune ...app.Setting) *app.Edge {
	t.Helper()
	cfg, err := config.LoadEdge(path, sources.ConfigTypes())
	if err != nil {
		t.Fatal(err)
	}
	e, err := app.StartEdge(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), tune...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown() })
	waitHealthy(t, e.Addr())
	return e
}

// waitHealthy waits until a node answers /healthz with 200. The bound is
// wide: under the whole run's load an edge on a three-node NATS cluster
// once took more than 15 s to catch up with its (new, replicated) stream.
func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/healthz: %s %s", addr, resp.Status, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tab is one display stream and the events it got.
type tab struct {
	r    *sse.Reader
	body io.Closer
	evs  chan sse.Event
	errc chan error
}

func openTab(t *testing.T, addr, lastID string) *tab {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/walls/devconf/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET events on %s: %s", addr, resp.Status)
	}
	s := &tab{r: sse.NewReader(resp.Body), body: resp.Body, evs: make(chan sse.Event, 4096), errc: make(chan error, 1)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		for {
			ev, err := s.r.Next()
			if err != nil {
				s.errc <- err
				close(s.evs)
				return
			}
			s.evs <- ev
		}
	}()
	return s
}

// until reads events until one of type typ (included), or the stream ends.
func (s *tab) until(t *testing.T, typ wall.EventType) []sse.Event {
	t.Helper()
	var out []sse.Event
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.evs:
			if !ok {
				t.Fatalf("stream ended after %d events waiting for %s", len(out), typ)
			}
			out = append(out, ev)
			if ev.Type == string(typ) {
				return out
			}
		case <-timeout:
			t.Fatalf("no %s event within 20 s (got %d events)", typ, len(out))
		}
	}
}

// posts reads until n post events arrived (other events are kept too).
func (s *tab) posts(t *testing.T, n int) []sse.Event {
	t.Helper()
	var out []sse.Event
	got := 0
	timeout := time.After(30 * time.Second)
	for got < n {
		select {
		case ev, ok := <-s.evs:
			if !ok {
				t.Fatalf("stream ended after %d of %d posts", got, n)
			}
			if ev.Type == string(wall.EventScreen) {
				continue // the stream's token, different on every stream
			}
			out = append(out, ev)
			if ev.Type == string(wall.EventPost) {
				got++
			}
		case <-timeout:
			t.Fatalf("%d of %d posts within 30 s", got, n)
		}
	}
	return out
}

// pushAll sends posts prefix-0 … prefix-(n-1) to the ingest node's hook;
// each must be answered 2xx.
func pushAll(t *testing.T, addr, prefix string, n int) {
	t.Helper()
	for i := range n {
		code, err := push(http.DefaultClient, addr, fmt.Sprintf("%s-%03d", prefix, i))
		// The hook is routed once its source has started: just after a
		// start, a 404 is worth another try.
		for deadline := time.Now().Add(5 * time.Second); err == nil && code == http.StatusNotFound && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			code, err = push(http.DefaultClient, addr, fmt.Sprintf("%s-%03d", prefix, i))
		}
		if err != nil || code/100 != 2 {
			t.Fatalf("push %d: %d %v", i, code, err)
		}
	}
}

// tokenOf is the token of a stream's screen event, the last of evs.
func tokenOf(t *testing.T, evs []sse.Event) string {
	t.Helper()
	var d struct{ Token string }
	if err := json.Unmarshal([]byte(evs[len(evs)-1].Data), &d); err != nil || d.Token == "" {
		t.Fatalf("screen event %q", evs[len(evs)-1].Data)
	}
	return d.Token
}

// postIDs lists the ids (SSE id and post id) of post events.
func postIDs(t *testing.T, evs []sse.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type != string(wall.EventPost) {
			continue
		}
		var p wall.Post
		if err := json.Unmarshal([]byte(ev.Data), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.ID+" "+p.ID)
	}
	return out
}

// TestClusterEdgesServeTheSameEvents: an ingest node and two edges on one
// NATS (in-process, and Debian's nats-server when installed): screens on
// all three get the same ids and the same payloads.
func TestClusterEdgesServeTheSameEvents(t *testing.T) {
	for _, external := range []bool{false, true} {
		name := "in-process"
		if external {
			name = "debian-nats-server"
			if _, err := exec.LookPath("nats-server"); err != nil {
				t.Run(name, func(t *testing.T) { needed(t, "nats-server not installed (apt-get install -y nats-server)") })
				continue
			}
		}
		t.Run(name, func(t *testing.T) {
			n := startNATS(t, external)
			dir := t.TempDir()
			path := writeClusterConfig(t, dir, 1000, 1, n.url())
			a := startFile(t, path)
			t.Cleanup(func() { a.Shutdown() })
			e1, e2 := startEdgeFile(t, path), startEdgeFile(t, path)
			tabs := []*tab{openTab(t, a.Addr(), ""), openTab(t, e1.Addr(), ""), openTab(t, e2.Addr(), "")}
			for _, s := range tabs {
				s.until(t, wall.EventReady)
			}
			pushAll(t, a.Addr(), "p", 25)
			var want []sse.Event
			for i, s := range tabs {
				got := s.posts(t, 25)
				if i == 0 {
					want = got
					continue
				}
				if !slices.EqualFunc(got, want, func(x, y sse.Event) bool { return x.ID == y.ID && x.Type == y.Type && x.Data == y.Data }) {
					t.Errorf("screen %d got:\n%v\nwant:\n%v", i, postIDs(t, got), postIDs(t, want))
				}
			}
		})
	}
}

// state says where a cluster stands: the stream's messages and last
// event id, and each edge's.
func state(n *natsd, edges ...*app.Edge) func() string {
	return func() string {
		out := "stream: "
		nc, err := nats.Connect(n.url())
		if err != nil {
			return out + err.Error()
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if st, err := js.Stream(ctx, "wallcast"); err == nil {
			if info, err := st.Info(ctx); err == nil {
				out += fmt.Sprintf("%d messages, last sequence %d", info.State.Msgs, info.State.LastSeq)
				if m, err := st.GetMsg(ctx, info.State.LastSeq); err == nil {
					out += " (event " + m.Header.Get("Wallcast-Seq") + ")"
				}
			}
		}
		for _, e := range edges {
			out += fmt.Sprintf("; edge %s: %d streams, ready %v", e.Addr(), e.Connections(), e.Feed().Ready())
			if snap, err := e.Feed().Snapshot(context.Background(), "devconf", 30); err == nil {
				out += fmt.Sprintf(", head %d", snap.Head)
			}
		}
		return out
	}
}

// streamMsgs is how many messages the cluster's stream holds (asked again
// for a while: after a NATS node dies, JetStream answers once its peers
// have elected new leaders).
func streamMsgs(t *testing.T, url string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, "wallcast")
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = st.Info(ctx)
		}
		cancel()
		if err == nil {
			return info.State.Msgs
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

// visible is what a screen shows after a backfill: the posts in order,
// with removes applied, the newest max of them.
func visible(t *testing.T, evs []sse.Event, max int) []string {
	var ids []string
	for _, ev := range evs {
		var p wall.Post
		json.Unmarshal([]byte(ev.Data), &p)
		switch ev.Type {
		case string(wall.EventPost):
			ids = append(slices.DeleteFunc(ids, func(id string) bool { return id == p.ID }), p.ID)
		case string(wall.EventRemove):
			ids = slices.DeleteFunc(ids, func(id string) bool { return id == p.ID })
		}
	}
	if len(ids) > max {
		ids = ids[len(ids)-max:]
	}
	return ids
}

// TestClusterNewEdgeAfterTheWindow: with more events than the stream keeps
// per wall, an edge started later serves the same backfill as the ingest
// node (its posts are older than the window: they come from the wall's
// snapshot in the bucket), resumes a screen inside the window, and resets
// one older than it.
func TestClusterNewEdgeAfterTheWindow(t *testing.T) {
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 100, 1, n.url())
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	// 40 posts, then 200 announcements: the posts leave the window.
	pushAll(t, a.Addr(), "old", 40)
	ctx := context.Background()
	for i := range 200 {
		if _, err := a.DB().AppendEvent(ctx, "devconf", wall.EventConfig, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	a.Outbox().Notify()
	pushAll(t, a.Addr(), "new", 5)
	want := openTab(t, a.Addr(), "").until(t, wall.EventReady)
	head := want[len(want)-1].ID
	for deadline := time.Now().Add(10 * time.Second); a.Outbox().Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox pending %d", a.Outbox().Pending())
		}
	}
	if msgs := streamMsgs(t, n.url()); msgs != 100 {
		t.Fatalf("the stream holds %d messages, want the window of 100", msgs)
	}
	e := startEdgeFile(t, path)
	got := openTab(t, e.Addr(), "").until(t, wall.EventReady)
	if w, g := visible(t, want, 30), visible(t, got, 30); !slices.Equal(w, g) || len(w) != 30 {
		t.Errorf("edge backfill shows\n%v\nthe ingest node's\n%v", g, w)
	}
	if id := got[len(got)-1].ID; id != head {
		t.Errorf("edge's ready id %s, the ingest node's %s", id, head)
	}
	// Inside the window: resumed, no reset. Before it: reset.
	inside, _ := strconv.Atoi(head)
	from := strconv.Itoa(inside - 10)
	resumed, ref := openTab(t, e.Addr(), from), openTab(t, a.Addr(), from)
	pushAll(t, a.Addr(), "more", 1)
	evs, wantEvs := resumed.posts(t, 6), ref.posts(t, 6)
	if evs[0].Type == string(wall.EventReset) || !slices.EqualFunc(evs, wantEvs, func(x, y sse.Event) bool { return x.ID == y.ID && x.Data == y.Data }) {
		t.Errorf("resume inside the window: %v, the ingest node's %v", evs, wantEvs)
	}
	old := openTab(t, e.Addr(), "5").until(t, wall.EventReady)
	if old[0].Type != string(wall.EventReset) {
		t.Errorf("resume from before the window: first event %s, want reset", old[0].Type)
	}
}

// displayIDs are the ids of a wall's display events in the ingest node's
// log, from the start.
func displayIDs(t *testing.T, a *app.App) []int64 {
	t.Helper()
	evs, ok, err := a.DB().Replay(context.Background(), "devconf", 0, 100000)
	if err != nil || !ok {
		t.Fatalf("replay: %v %v", ok, err)
	}
	var ids []int64
	for _, e := range evs {
		ids = append(ids, e.Seq)
	}
	return ids
}

// follow starts a screen on url and waits until its backfill is in:
// every event after that reaches it with its id.
func follow(t *testing.T, ctx context.Context, s *screen, url string) {
	t.Helper()
	go s.follow(ctx, url)
	waitReady(t, s)
}

// waitReady waits until a screen's first backfill is in.
func waitReady(t *testing.T, s *screen) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := s.readies
		s.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the screen's backfill did not end")
		}
	}
}

// waitIDs waits until a screen has n events; state says where things
// stand when they do not come.
func waitIDs(t *testing.T, s *screen, n int, state ...func() string) []int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.ids)
		ids := slices.Clone(s.ids)
		s.mu.Unlock()
		if got >= n {
			return ids
		}
		if time.Now().After(deadline) {
			var more []string
			for _, f := range state {
				more = append(more, f())
			}
			t.Fatalf("%d of %d events reached the screen (%v); %s", got, n, ids, strings.Join(more, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoEdges starts NATS (in this process), an ingest node and two edges on
// one config.
func twoEdges(t *testing.T) (*natsd, *app.App, *app.Edge, *app.Edge) {
	n := startNATS(t, false)
	path := writeClusterConfig(t, t.TempDir(), 1000, 1, n.url())
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	return n, a, startEdgeFile(t, path), startEdgeFile(t, path)
}

// TestClusterEdgeDies: a screen on an edge that dies moves to the other
// edge and resumes from its Last-Event-ID: nothing missed, nothing twice,
// no reset, while posts keep coming.
func TestClusterEdgeDies(t *testing.T) {
	_, a, e1, e2 := twoEdges(t)
	s := &screen{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	moved := make(chan struct{})
	go func() {
		s.once(ctx, "http://"+e1.Addr()+"/walls/devconf/events")
		close(moved)
		s.follow(ctx, "http://"+e2.Addr()+"/walls/devconf/events")
	}()
	waitReady(t, s)
	pushAll(t, a.Addr(), "a", 20)
	waitIDs(t, s, 20)
	sent := make(chan struct{})
	go func() { defer close(sent); pushAll(t, a.Addr(), "b", 30) }()
	e1.Shutdown()
	<-moved
	<-sent
	pushAll(t, a.Addr(), "c", 10)
	got := waitIDs(t, s, 60)
	want := displayIDs(t, a)
	s.mu.Lock()
	repeats, resets, connects := s.repeats, s.resets, s.connects
	s.mu.Unlock()
	if !slices.Equal(got, want) || repeats != 0 || resets != 0 || connects < 2 {
		t.Errorf("screen got %d events (%d repeats, %d resets, %d connections), want the ingest node's %d:\n%v\n%v", len(got), repeats, resets, connects, len(want), got, want)
	}
}

// watchedEdge starts an ingest node and an edge on the NATS servers given
// (stream replicas as said), and a screen on the edge, its backfill in.
func watchedEdge(t *testing.T, replicas int, urls ...string) (*app.App, *app.Edge, *screen) {
	path := writeClusterConfig(t, t.TempDir(), 1000, replicas, urls...)
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path)
	s := &screen{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	follow(t, ctx, s, "http://"+e.Addr()+"/walls/devconf/events")
	return a, e, s
}

// TestClusterNATSDown: with NATS stopped, the ingest node keeps taking
// posts (2xx, stored), an edge keeps its screens and turns /healthz to 503
// after unhealthy_after with the reason; NATS back, the outbox drains in
// order, the edge catches up, and each event reaches the screen and the
// stream once.
func TestClusterNATSDown(t *testing.T) {
	n := startNATS(t, false)
	a, e, s := watchedEdge(t, 1, n.url())
	pushAll(t, a.Addr(), "a", 10)
	waitIDs(t, s, 10)

	n.stop()
	pushAll(t, a.Addr(), "b", 30) // the ingest node takes them
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + e.Addr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "NATS unreachable since") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge /healthz with NATS down: %s %s", resp.Status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := a.Outbox().Pending(); p < 30 {
		t.Errorf("outbox pending %d with NATS down, want at least 30", p)
	}
	n.start(false)
	got := waitIDs(t, s, 40)
	waitHealthy(t, e.Addr())
	want := displayIDs(t, a)
	s.mu.Lock()
	repeats, resets := s.repeats, s.resets
	s.mu.Unlock()
	if !slices.Equal(got, want) || repeats != 0 || resets != 0 {
		t.Errorf("screen got %v (%d repeats, %d resets), want %v", got, repeats, resets, want)
	}
	for deadline := time.Now().Add(10 * time.Second); a.Outbox().Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox pending %d", a.Outbox().Pending())
		}
	}
	if msgs := streamMsgs(t, n.url()); msgs != 40 {
		t.Errorf("the stream holds %d messages, want 40 (no repeat)", msgs)
	}
}

// startNATSCluster starts three NATS servers with JetStream in one
// cluster (in this process).
func startNATSCluster(t *testing.T) []*natsd {
	ports := []int{port(t), port(t), port(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var nodes []*natsd
	for i := range 3 {
		n := &natsd{t: t, dir: t.TempDir(), port: port(t), name: fmt.Sprintf("n%d", i+1), clusterPort: ports[i], routes: strings.Join(routes, ",")}
		nodes = append(nodes, n)
		t.Cleanup(n.stop)
	}
	// Started together: JetStream waits for its peers to elect a leader.
	done := make(chan struct{})
	for _, n := range nodes {
		go func() { n.start(false); done <- struct{}{} }()
	}
	for range nodes {
		<-done
	}
	return nodes
}

// TestClusterThreeNATSNodes: on a three-node NATS cluster with an R3
// stream, a NATS node that dies mid-stream costs nothing: every post
// reaches a screen on an edge, once, in order.
func TestClusterThreeNATSNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	nodes := startNATSCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	a, _, s := watchedEdge(t, 3, urls...)
	pushAll(t, a.Addr(), "a", 20)
	waitIDs(t, s, 20)
	// Kill the node the ingest node is connected to, while posts come.
	victim := slices.IndexFunc(nodes, func(n *natsd) bool { return strings.HasSuffix(a.NATSURL(), fmt.Sprintf(":%d", n.port)) })
	if victim < 0 {
		t.Fatalf("the ingest node is connected to %q, none of the three", a.NATSURL())
	}
	sent := make(chan struct{})
	go func() { defer close(sent); pushAll(t, a.Addr(), "b", 40) }()
	waitIDs(t, s, 25) // mid-stream: some of the 40 are through, more to come
	nodes[victim].stop()
	<-sent
	got := waitIDs(t, s, 60)
	want := displayIDs(t, a)
	s.mu.Lock()
	repeats, resets := s.repeats, s.resets
	s.mu.Unlock()
	if !slices.Equal(got, want) || repeats != 0 || resets != 0 {
		t.Errorf("screen got %d events (%d repeats, %d resets), want %d:\n%v\n%v", len(got), repeats, resets, len(want), got, want)
	}
	var alive string
	for i, n := range nodes {
		if i != victim {
			alive = n.url()
		}
	}
	for deadline := time.Now().Add(20 * time.Second); a.Outbox().Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox pending %d", a.Outbox().Pending())
		}
	}
	if msgs := streamMsgs(t, alive); msgs != 60 {
		t.Errorf("the stream holds %d messages, want 60", msgs)
	}
}

// TestClusterIngestKilled: the ingest node (the real binary) is killed
// with SIGKILL while it publishes, and started again on its database: an
// edge's screen gets every event of the log once, in order, and the
// stream holds each once.
func TestClusterIngestKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 10000, 1, n.url())
	p := startBinary(t, path)
	e := startEdgeFile(t, path)
	s := &screen{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow(t, ctx, s, "http://"+e.Addr()+"/walls/devconf/events")
	accepted := 0
	for round := range 3 {
		stop := make(chan struct{})
		pushed := make(chan int)
		go func() {
			k := 0
			for {
				select {
				case <-stop:
					pushed <- k
					return
				default:
				}
				code, err := push(http.DefaultClient, p.addr, fmt.Sprintf("r%d-%04d", round, k))
				if err != nil {
					pushed <- k
					return
				}
				if code/100 == 2 {
					k++
				}
			}
		}()
		waitIDs(t, s, accepted+50, state(n, e)) // publishing is under way
		p.cmd.Process.Kill()
		<-p.exited
		close(stop)
		accepted += <-pushed
		p = startBinary(t, path)
	}
	got := waitIDs(t, s, accepted, state(n, e), func() string { return p.stderr.String() })
	// Stop the last one cleanly and read its log.
	p.cmd.Process.Signal(os.Interrupt)
	<-p.exited
	db, err := storage.Open(filepath.Join(dir, "wallcast.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, _, err := db.Replay(context.Background(), "devconf", 0, 1000000)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, ev := range evs {
		want = append(want, ev.Seq)
	}
	got = waitIDs(t, s, len(want))
	s.mu.Lock()
	repeats, resets := s.repeats, s.resets
	s.mu.Unlock()
	if !slices.Equal(got, want) || repeats != 0 || resets != 0 || len(want) < accepted {
		t.Errorf("screen got %d events (%d repeats, %d resets), the log has %d, %d posts accepted", len(got), repeats, resets, len(want), accepted)
	}
	if msgs := streamMsgs(t, n.url()); msgs != uint64(len(want)) {
		t.Errorf("the stream holds %d messages, the log %d display events", msgs, len(want))
	}
	t.Logf("%d posts accepted over 3 kills; %d events on the edge's screen, each once", accepted, len(got))
}

// startNginx runs Debian's nginx with the README's configuration for
// edges (deploy/nginx/wallcast-edges.conf), its upstreams pointed at the
// edges given; it returns nginx's address.
func startNginx(t *testing.T, ingest string, edges ...string) (addr, dir string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		needed(t, "nginx not installed (apt-get install -y nginx-light)")
	}
	site, err := os.ReadFile("../../deploy/nginx/wallcast-edges.conf")
	if err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile("../../docs/deployment.md")
	if !strings.Contains(string(readme), string(site)) {
		t.Fatal("docs/deployment.md does not show deploy/nginx/wallcast-edges.conf as it is")
	}
	addr = freePort(t)
	conf := string(site)
	conf = strings.Replace(conf, "server 10.0.0.10:8080", "server "+ingest, 1)
	conf = strings.Replace(conf, "server 10.0.0.11:8080", "server "+edges[0], 1)
	conf = strings.Replace(conf, "server 10.0.0.12:8080", "server "+edges[1], 1)
	conf = strings.Replace(conf, "listen 80;", "listen "+addr+";", 1)
	dir = t.TempDir()
	runNginx(t, bin, dir, addr, conf)
	return addr, dir
}

// runNginx runs nginx with a site in dir and waits until addr answers.
func runNginx(t *testing.T, bin, dir, addr, site string) (pid int) {
	t.Helper()
	main := fmt.Sprintf(`daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 9000; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, dir)
	os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644)
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	var out strings.Builder
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM, not SIGKILL: the master stops its workers (killed, it
	// would leave them running with their sockets).
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s %s", out.String(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterBehindNginx: Debian's nginx with the README's configuration
// in front of two edges: a screen's stream flows through it, and when the
// edge serving it dies, the screen resumes through nginx on the other
// edge, nothing missed or repeated.
func TestClusterBehindNginx(t *testing.T) {
	n, a, e1, e2 := twoEdges(t)
	proxy, _ := startNginx(t, a.Addr(), e1.Addr(), e2.Addr())
	s := &screen{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow(t, ctx, s, "http://"+proxy+"/walls/devconf/events")
	pending := func() string {
		return fmt.Sprintf("outbox pending %d, sent %d", a.Outbox().Pending(), a.Outbox().Sent())
	}
	pushAll(t, a.Addr(), "a", 20)
	waitIDs(t, s, 20, pending, state(n, e1, e2))
	serving := e1
	if e2.Connections() > 0 {
		serving = e2
	}
	if serving.Connections() == 0 {
		t.Fatal("neither edge holds the screen's stream")
	}
	serving.Shutdown()
	pushAll(t, a.Addr(), "b", 20)
	got := waitIDs(t, s, 40, pending, state(n, e1, e2))
	want := displayIDs(t, a)
	s.mu.Lock()
	repeats, resets, connects := s.repeats, s.resets, s.connects
	s.mu.Unlock()
	if !slices.Equal(got, want) || repeats != 0 || resets != 0 || connects < 2 {
		t.Errorf("screen through nginx got %d events (%d repeats, %d resets, %d connections), want %d", len(got), repeats, resets, connects, len(want))
	}
}

// TestClusterReloadAndReports: a reload on the ingest node reaches the
// edges (a wall added is served, a wall removed is gone, a display change
// arrives as a config event), and a sponsor showing and the screens
// counted on an edge land in the ingest node's report.
func TestClusterReloadAndReports(t *testing.T) {
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 1000, 1, n.url())
	a := startFile(t, path, app.ScreensEvery(50*time.Millisecond))
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path, app.ScreensEvery(50*time.Millisecond))
	tab := openTab(t, e.Addr(), "")
	tab.until(t, wall.EventReady)
	token := tokenOf(t, tab.until(t, wall.EventScreen))

	orig, _ := os.ReadFile(path)
	next := strings.Replace(string(orig), "display: {max_posts: 30}",
		`display: {max_posts: 30, theme: light, sponsors: [{name: ACME, image: "https://acme.example/logo.png", seconds: 10}]}}
  - {slug: keynote, hashtags: [keynote], sources: [hook]`, 1)
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg := tab.until(t, wall.EventConfig)
	if last := cfg[len(cfg)-1]; !strings.Contains(last.Data, `"theme":"light"`) {
		t.Errorf("config event on the edge: %s", last.Data)
	}
	status := func(path string) int {
		resp, err := http.Get("http://" + e.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for status("/walls/keynote") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the wall added by the reload is not served by the edge")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post("http://"+e.Addr()+"/walls/devconf/impressions", "application/json", strings.NewReader(`{"sponsor": 0, "seconds": 10, "token": "`+token+`"}`))
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("impression on the edge: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	for {
		rep, err := a.DB().Report(context.Background(), "devconf", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Sponsors) == 1 && rep.Sponsors[0].Shows == 1 && rep.ScreensPeak.Peak >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge's reports did not reach the ingest node: sponsors %+v, screens %+v", rep.Sponsors, rep.ScreensPeak)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	for status("/walls/keynote") != 404 {
		if time.Now().After(deadline) {
			t.Fatal("the wall removed by the reload is still served by the edge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
