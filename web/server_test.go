package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/web"
)

const testYAML = `
server: {sse_retry: 1500ms, write_timeout: 300ms, subscriber_queue: 8, embed_origins: ["https://news.example"]}
sources: [{name: s, type: demo}]
walls:
  - {slug: devconf, hashtags: [devconf], sources: [s], display: {max_posts: 3}}
`

type env struct {
	t   *testing.T
	db  *storage.DB
	hub *fanout.Hub
	srv *web.Server
	url string
	n   int
}

func newEnv(t *testing.T, heartbeat time.Duration) *env {
	t.Helper()
	return newEnvYAML(t, heartbeat, testYAML)
}

// newEnvYAML is newEnv on a config of the test's own.
func newEnvYAML(t *testing.T, heartbeat time.Duration, yaml string) *env {
	t.Helper()
	cfg, err := sources.Parse("t.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	hub := fanout.NewHub(cfg.Server.QueueSize, heartbeat)
	if useEngine && !hub.EnableEngine(cfg.Server.WriteTimeout.D()) {
		t.Skip("no fan-out engine on this system")
	}
	srv := web.NewServer(web.Options{Config: cfg, Store: db, Hub: hub, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Health: func() []wall.SourceHealth {
			return []wall.SourceHealth{{Name: "s", Type: "demo", State: "connected"}}
		}})
	srv.StatsInterval = 10 * time.Millisecond
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnContext = fanout.ConnContext
	ts.Start()
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
		ts.Close()
		db.Close()
	})
	return &env{t: t, db: db, hub: hub, srv: srv, url: ts.URL}
}

// post commits a post to the wall and announces it, as ingest does.
func (e *env) post(text string) wall.Event {
	e.t.Helper()
	e.n++
	p := wall.Post{ID: fmt.Sprintf("s:%d", e.n), Source: "s", NativeID: fmt.Sprint(e.n), Network: "demo", Text: text,
		HTML: "<p>" + text + "</p>", CreatedAt: time.Now().UTC()}
	return e.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p},
		Targets: []wall.Target{{Wall: "devconf", Status: wall.StatusVisible}}})[0]
}

func (e *env) apply(w wall.Write) []wall.Event {
	e.t.Helper()
	ev, err := e.db.Apply(context.Background(), []wall.Write{w})
	if err != nil {
		e.t.Fatal(err)
	}
	e.hub.Publish(ev)
	return ev
}

type stream struct {
	*sse.Reader
	resp *http.Response
}

func (e *env) open(path string, header ...string) *stream {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return &stream{Reader: sse.NewReader(resp.Body), resp: resp}
}

// next returns the next event, passing over the "ready" that ends a
// backfill (TestBackfillEndsWithReady looks at that one).
// token reads up to the stream's screen event and returns its token.
func (s *stream) token(t *testing.T) string {
	t.Helper()
	for {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("no screen event: %v", err)
		}
		if ev.Type == string(wall.EventScreen) {
			var d struct{ Token string }
			json.Unmarshal([]byte(ev.Data), &d)
			return d.Token
		}
	}
}

func (s *stream) next(t *testing.T) sse.Event {
	t.Helper()
	type res struct {
		ev  sse.Event
		err error
	}
	ch := make(chan res, 1)
	go func() {
		for {
			ev, err := s.Next()
			if err != nil || (ev.Type != string(wall.EventReady) && ev.Type != string(wall.EventScreen)) {
				ch <- res{ev, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("stream: %v", r.err)
		}
		return r.ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sse.Event{}
}

func text(t *testing.T, ev sse.Event) string {
	t.Helper()
	var p wall.Post
	if err := json.Unmarshal([]byte(ev.Data), &p); err != nil {
		t.Fatalf("event %s data %q: %v", ev.Type, ev.Data, err)
	}
	return p.Text
}

func TestUnknownWall404(t *testing.T) {
	e := newEnv(t, 0)
	resp, err := http.Get(e.url + "/walls/nope/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(body), "nope") {
		t.Errorf("got %s %q %q", resp.Status, resp.Header.Get("Content-Type"), body)
	}
}

func TestBackfillThenLive(t *testing.T) {
	e := newEnv(t, 0)
	for i := 1; i <= 5; i++ {
		e.post(fmt.Sprint("old ", i))
	}
	s := e.open("/walls/devconf/events")
	h := s.resp.Header
	if h.Get("Content-Type") != "text/event-stream; charset=utf-8" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers = %v", h)
	}
	// max_posts is 3: the newest three, oldest first.
	for _, want := range []string{"old 3", "old 4", "old 5"} {
		ev := s.next(t)
		if ev.Type != "post" || text(t, ev) != want {
			t.Fatalf("backfill: %s %q, want post %q", ev.Type, ev.Data, want)
		}
	}
	if s.Retry() != 1500 {
		t.Errorf("retry = %d, want 1500", s.Retry())
	}
	live := e.post("live one")
	ev := s.next(t)
	if ev.Type != "post" || text(t, ev) != "live one" || ev.ID != fmt.Sprint(live.Seq) {
		t.Fatalf("live: %+v, want id %d", ev, live.Seq)
	}
}

// TestBackfillEndsWithReady: the backfill ends with a "ready" event whose
// id is the wall's head, so that a client parser that takes ids only with
// data resumes after the backfill too; on an empty wall as well.
func TestBackfillEndsWithReady(t *testing.T) {
	e := newEnv(t, 0)
	for _, dataOnly := range []bool{false, true} {
		s := e.open("/walls/devconf/events")
		s.IDOnlyWithData = dataOnly
		ev, err := s.Next()
		if err != nil || ev.Type != "ready" || ev.ID != "0" || s.LastEventID() != "0" {
			t.Fatalf("empty wall, IDOnlyWithData=%v: %+v %v", dataOnly, ev, err)
		}
	}
	e.post("a")
	head := e.post("b")
	s := e.open("/walls/devconf/events")
	s.IDOnlyWithData = true
	for _, want := range []string{"post", "post", "ready"} {
		if ev, _ := s.Next(); ev.Type != want {
			t.Fatalf("got %s, want %s", ev.Type, want)
		}
	}
	if s.LastEventID() != fmt.Sprint(head.Seq) {
		t.Errorf("resume point = %q, want %d", s.LastEventID(), head.Seq)
	}
}

func TestBackfillSetsResumePoint(t *testing.T) {
	e := newEnv(t, 0)
	e.post("a")
	head := e.post("b")
	s := e.open("/walls/devconf/events")
	s.next(t)
	s.next(t)
	e.post("c") // after this event arrives, the id line before it was read
	s.next(t)
	if s.LastEventID() != fmt.Sprint(head.Seq+1) {
		t.Errorf("last id = %q, want %d", s.LastEventID(), head.Seq+1)
	}
}

func TestReplayFromLastEventID(t *testing.T) {
	e := newEnv(t, 0)
	first := e.post("one")
	e.post("two")
	e.post("three")
	for _, how := range []struct{ path, header string }{
		{"/walls/devconf/events", "Last-Event-ID"},
		{fmt.Sprintf("/walls/devconf/events?lastEventId=%d", first.Seq), ""},
	} {
		var s *stream
		if how.header != "" {
			s = e.open(how.path, how.header, fmt.Sprint(first.Seq))
		} else {
			s = e.open(how.path)
		}
		for i, want := range []string{"two", "three"} {
			ev := s.next(t)
			if text(t, ev) != want || ev.ID != fmt.Sprint(first.Seq+int64(i)+1) {
				t.Errorf("%s: replay %d = id %s %q", how.path, i, ev.ID, ev.Data)
			}
		}
	}
}

func TestRemovedPostNeverReplayed(t *testing.T) {
	e := newEnv(t, 0)
	p := e.post("offensive")
	e.post("fine")
	rm := e.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemDelete, Post: wall.Post{ID: "s:1", NativeID: "1"}}})
	s := e.open("/walls/devconf/events", "Last-Event-ID", fmt.Sprint(p.Seq-1))
	if ev := s.next(t); text(t, ev) != "fine" {
		t.Fatalf("first replayed = %q", ev.Data)
	}
	if ev := s.next(t); ev.Type != "remove" || ev.Data != `{"id":"s:1"}` || ev.ID != fmt.Sprint(rm[0].Seq) {
		t.Fatalf("then = %+v", ev)
	}
	// A fresh screen gets only the visible post.
	s2 := e.open("/walls/devconf/events")
	if ev := s2.next(t); text(t, ev) != "fine" {
		t.Fatalf("backfill = %q", ev.Data)
	}
}

func TestResetOnUnknownID(t *testing.T) {
	e := newEnv(t, 0)
	e.post("kept")
	for _, id := range []string{"999999", "garbage"} {
		s := e.open("/walls/devconf/events", "Last-Event-ID", id)
		if ev := s.next(t); ev.Type != "reset" {
			t.Fatalf("id %s: first event = %s, want reset", id, ev.Type)
		}
		if ev := s.next(t); ev.Type != "post" || text(t, ev) != "kept" {
			t.Fatalf("id %s: after reset = %+v", id, ev)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, 20*time.Millisecond)
	s := e.open("/walls/devconf/events")
	pings := make(chan string, 10)
	s.OnComment = func(c string) {
		select {
		case pings <- c:
		default:
		}
	}
	go func() { // read on (past the backfill's ready) so comments are seen
		for {
			if _, err := s.Next(); err != nil {
				return
			}
		}
	}()
	select {
	case c := <-pings:
		if c != "ping" {
			t.Errorf("comment = %q", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
}

// openStuck opens a stream on a socket with a 4 KiB receive buffer and
// reads only its status line: a screen that then stops reading. The rest
// of the stream is left in the reader it returns.
func (e *env) openStuck() *bufio.Reader {
	e.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /walls/devconf/events HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); !strings.Contains(line, "200") {
		e.t.Fatalf("stuck screen: %q", line)
	}
	return br
}

// onBothPaths runs a test on a server whose screens take the goroutine
// path, then on one whose screens the fan-out engine serves.
func onBothPaths(t *testing.T, yaml string, test func(*testing.T, *env)) {
	for _, engine := range []bool{false, true} {
		name := "goroutine path"
		if engine {
			name = "engine"
		}
		t.Run(name, func(t *testing.T) {
			useEngine = engine
			e := newEnvYAML(t, 0, yaml)
			useEngine = false
			test(t, e)
		})
	}
}

// TestSlowScreenDisconnected: a screen that stops reading is dropped, and
// a fast screen on the same wall receives every event meanwhile.
func TestSlowScreenDisconnected(t *testing.T) {
	e := newEnv(t, 0)
	fast := e.open("/walls/devconf/events")

	e.openStuck()
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Subscribers() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// The slow screen now reads nothing more.
	big := strings.Repeat("x", 64<<10)
	var last int64
	for i := 0; i < 400; i++ {
		last = e.post(fmt.Sprint(i, big)).Seq
		ev := fast.next(t)
		if ev.ID != fmt.Sprint(last) {
			t.Fatalf("fast screen got id %s, want %d", ev.ID, last)
		}
		if e.hub.Subscribers() == 1 {
			break
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for e.hub.Subscribers() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := e.hub.Subscribers(); n != 1 {
		t.Fatalf("subscribers = %d: the slow screen was not dropped", n)
	}
	// The fast one still gets what follows.
	next := e.post("after")
	if ev := fast.next(t); ev.ID != fmt.Sprint(next.Seq) {
		t.Fatalf("fast screen after the drop: %+v", ev)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	e := newEnv(t, 0)
	e.post("x")
	s := e.open("/walls/devconf/events")
	s.next(t)
	e.hub.Close()
	done := make(chan error, 1)
	go func() {
		ev, err := s.Next()
		for err == nil && (ev.Type == string(wall.EventReady) || ev.Type == string(wall.EventScreen)) {
			ev, err = s.Next()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Errorf("after close: %v, want a clean EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end on hub close")
	}
}

func TestStatsStream(t *testing.T) {
	e := newEnv(t, 0)
	s := e.open("/stats")
	got := map[string]string{}
	for len(got) < 5 {
		ev := s.next(t)
		got[ev.Type] = ev.Data
	}
	if got["connections"] != "1" || got["storage"] != "ok" {
		t.Errorf("connections = %q", got["connections"])
	}
	if got["requests"] == "" || got["uptime"] == "" || !strings.Contains(got["sources"], `"state":"connected"`) {
		t.Errorf("stats = %v", got)
	}
}

func TestPagesAPIAndHeaders(t *testing.T) {
	e := newEnv(t, 0)
	e.post("hello")
	for _, path := range []string{"/", "/walls/devconf", "/dashboard"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: %s csp %q", path, resp.Status, csp)
		}
	}
	resp, _ := http.Get(e.url + "/walls/devconf")
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://news.example") {
		t.Errorf("display csp = %q", csp)
	}

	req, _ := http.NewRequest("GET", e.url+"/api/walls/devconf/posts?limit=10", nil)
	req.Header.Set("Origin", "https://news.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Posts []wall.Post `json:"posts"`
		Next  string      `json:"next"`
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Posts) != 1 || page.Posts[0].Text != "hello" || page.Next != "" {
		t.Errorf("page = %+v", page)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://news.example" {
		t.Errorf("CORS = %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?before=-1"} {
		resp, _ := http.Get(e.url + "/api/walls/devconf/posts" + bad)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %s", bad, resp.Status)
		}
	}
	resp, _ = http.Get(e.url + "/healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %s", resp.Status)
	}
	resp, _ = http.Get(e.url + "/metrics")
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wallcast_sse_connections 0", "wallcast_http_requests_total", `wallcast_source_state{source="s",state="connected",type="demo"} 1`, "go_goroutines"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestEmbedQRAndFiles(t *testing.T) {
	e := newEnv(t, 0)
	get := func(path string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get("/walls/devconf/embed")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors https://news.example") ||
		!strings.Contains(body, `class="theme-dark embed"`) {
		t.Errorf("embed: %s %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	if resp.Header.Get("X-Frame-Options") != "" {
		t.Error("X-Frame-Options would block the allowed origins")
	}
	resp, body = get("/walls/devconf/qr.svg")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(body, "<svg") || strings.Count(body, "h1v1h-1z") < 100 {
		t.Errorf("qr: %s %q", resp.Status, body[:min(len(body), 80)])
	}
	resp, body = get("/embed.js")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "wallcast:height") {
		t.Errorf("embed.js: %s", resp.Status)
	}
	// The events stream answers CORS for the embed origins only.
	resp, _ = get("/api/walls/devconf/posts", "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed an origin that is not in embed_origins")
	}
	if resp, _ := get("/walls/devconf/logo"); resp.StatusCode != 404 {
		t.Errorf("logo without one configured: %s", resp.Status)
	}
}

// useEngine makes newEnv serve screens through the fan-out engine.
var useEngine bool

// TestWithEngine runs the SSE contract's tests again with the fan-out
// engine serving the screens.
func TestWithEngine(t *testing.T) {
	useEngine = true
	defer func() { useEngine = false }()
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"BackfillThenLive", TestBackfillThenLive},
		{"BackfillSetsResumePoint", TestBackfillSetsResumePoint},
		{"ReplayFromLastEventID", TestReplayFromLastEventID},
		{"RemovedPostNeverReplayed", TestRemovedPostNeverReplayed},
		{"ResetOnUnknownID", TestResetOnUnknownID},
		{"Heartbeat", TestHeartbeat},
		{"SlowScreenDisconnected", TestSlowScreenDisconnected},
		{"CloseEndsStreams", TestCloseEndsStreams},
		{"UnknownWall404", TestUnknownWall404},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
	// The engine did serve them: a stream opened now is not a hub channel.
	e := newEnv(t, 0)
	s := e.open("/walls/devconf/events")
	e.post("x")
	s.next(t)
	if !s.resp.Close || e.srv.Connections() != 1 {
		t.Errorf("engine stream: close %v, connections %d", s.resp.Close, e.srv.Connections())
	}
}

// TestEngineJoinLeaveStress: under -race, screens join and leave the
// engine while events are published; a screen that stays gets every event
// in order, and every departed screen is forgotten.
func TestEngineJoinLeaveStress(t *testing.T) {
	useEngine = true
	e := newEnv(t, 5*time.Millisecond) // heartbeats interleave too
	useEngine = false
	steady := e.open("/walls/devconf/events")
	addr := strings.TrimPrefix(e.url, "http://")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					continue
				}
				fmt.Fprintf(c, "GET /walls/devconf/events HTTP/1.1\r\nHost: x\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(time.Second))
				c.Read(buf) // some, or none: then leave
				c.Close()
			}
		}()
	}
	// The steady screen reads all along, as a screen does.
	ids := make(chan string, 1000)
	go func() {
		defer close(ids)
		for {
			ev, err := steady.Next()
			if err != nil {
				return
			}
			if ev.Type == "post" {
				ids <- ev.ID
			}
		}
	}()
	var first, last int64
	for i := 0; i < 300; i++ {
		ev := e.post(fmt.Sprint("event ", i))
		if i == 0 {
			first = ev.Seq
		}
		last = ev.Seq
	}
	close(stop)
	wg.Wait()
	// The steady screen has all 300, in order.
	for want := first; want <= last; want++ {
		select {
		case id, ok := <-ids:
			if !ok {
				t.Fatalf("the steady screen's stream ended before id %d", want)
			}
			if id != fmt.Sprint(want) {
				t.Fatalf("steady screen got id %s, want %d", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("steady screen: no id %d within 5s", want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Subscribers() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := e.hub.Subscribers(); n != 1 {
		t.Errorf("subscribers = %d after the others left, want 1", n)
	}
}

// TestEngineLeavesTLSToTheHub: a stream over TLS (HTTP/1.1) is served by
// the ordinary path even with the engine on: the engine writes plain bytes.
func TestEngineLeavesTLSToTheHub(t *testing.T) {
	useEngine = true
	e := newEnv(t, 0)
	useEngine = false
	ts := httptest.NewTLSServer(e.srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL + "/walls/devconf/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 {
		t.Fatalf("GET over TLS: %s %s", resp.Proto, resp.Status)
	}
	s := &stream{Reader: sse.NewReader(resp.Body), resp: resp}
	e.post("over tls")
	for {
		ev := s.next(t)
		if ev.Type == string(wall.EventPost) {
			if got := text(t, ev); got != "over tls" {
				t.Fatalf("post = %q", got)
			}
			break
		}
	}
	if resp.Close {
		t.Error("the TLS stream was taken over by the engine (Connection: close)")
	}
}
