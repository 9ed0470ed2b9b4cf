package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wallcast/wallcast/internal/app"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// fakeFeed is an RSS publisher whose items the test adds as it goes.
type fakeFeed struct {
	mu    sync.Mutex
	items []string
	tags  []string
}

func (f *fakeFeed) add(n int) { f.addTagged(n, "devconf") }

func (f *fakeFeed) addTagged(n int, tag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < n; i++ {
		f.items = append(f.items, fmt.Sprintf("item-%03d", len(f.items)))
		f.tags = append(f.tags, tag)
	}
}

func (f *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Fake</title><link>https://fake.example/</link>`)
	base := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for i, id := range f.items {
		fmt.Fprintf(&b, `<item><guid>%s</guid><title>Post %s</title><description>&lt;p&gt;Hello from %s #%s&lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</description><pubDate>%s</pubDate></item>`,
			id, id, id, f.tags[i], base.Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
	}
	b.WriteString(`</channel></rss>`)
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, b.String())
}

func writeConfig(t *testing.T, dir, feedURL, listen string) string {
	return writeConfigTags(t, dir, feedURL, listen, "DevConf")
}

func writeConfigTags(t *testing.T, dir, feedURL, listen, tags string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`server: {listen: %q, heartbeat: 1s}
storage: {path: %q}
sources:
  - {name: feed, type: rss, url: %q, interval: 1s}
walls:
  - slug: devconf
    hashtags: [%s]
    sources: [feed]
    display: {max_posts: 500}
`, listen, filepath.Join(dir, "wallcast.db"), feedURL, tags)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readPosts(t *testing.T, r *sse.Reader, n int) []wall.Post {
	t.Helper()
	var out []wall.Post
	done := make(chan error, 1)
	go func() {
		for len(out) < n {
			ev, err := r.Next()
			if err != nil {
				done <- err
				return
			}
			if ev.Type != "post" {
				continue
			}
			var p wall.Post
			if err := json.Unmarshal([]byte(ev.Data), &p); err != nil {
				done <- err
				return
			}
			out = append(out, p)
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after %d posts: %v", len(out), err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d of %d posts arrived", len(out), n)
	}
	return out
}

func openStream(t testing.TB, url, lastID string) *sse.Reader {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return sse.NewReader(resp.Body)
}

// TestEndToEnd runs the server in-process on a random port with a fake
// feed: a post appears on the wall's stream, sanitised, with its payload.
func TestEndToEnd(t *testing.T) {
	feed := &fakeFeed{}
	feed.add(1)
	fs := httptest.NewServer(feed)
	defer fs.Close()
	dir := t.TempDir()
	a := startFile(t, writeConfig(t, dir, fs.URL, "127.0.0.1:0"))
	r := openStream(t, "http://"+a.Addr()+"/walls/devconf/events", "")
	p := readPosts(t, r, 1)[0]
	if p.ID != "feed:item-000" || p.Source != "feed" || p.Network != "rss" || p.Author.Name != "Fake" ||
		p.HTML != "<p><strong>Post item-000</strong></p><p>Hello from item-000 #devconf</p>" ||
		p.Text != "Post item-000\n\nHello from item-000 #devconf" || len(p.Tags) != 1 || p.Tags[0] != "devconf" {
		t.Errorf("post = %+v", p)
	}
	feed.add(1)
	if p := readPosts(t, r, 1)[0]; p.ID != "feed:item-001" {
		t.Errorf("live post = %s", p.ID)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("stream after shutdown: %v, want EOF", err)
	}
}

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wallcast-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wallcast")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/wallcast").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building wallcast: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	exited chan error
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startBinary runs the real binary and waits for its listen address.
func startBinary(t *testing.T, cfgPath string) *proc {
	t.Helper()
	return startCommand(t, exec.Command(binary, "-config", cfgPath))
}

// startCommand runs a command that starts wallcast and waits for its
// listen address.
func startCommand(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); pw.Close() }()
	addr := make(chan string, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case p.addr = <-addr:
	case err := <-p.exited:
		t.Fatalf("wallcast exited: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("wallcast did not start")
	}
	return p
}

// TestCrashAndResume kills the server without a clean shutdown, starts it
// again on the same database, and checks that a screen resuming from
// Last-Event-ID: 0 receives every post exactly once.
func TestCrashAndResume(t *testing.T) {
	feed := &fakeFeed{}
	feed.add(20)
	fs := httptest.NewServer(feed)
	defer fs.Close()
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fs.URL, "127.0.0.1:0")

	p := startBinary(t, cfgPath)
	r := openStream(t, "http://"+p.addr+"/walls/devconf/events", "")
	readPosts(t, r, 20)
	feed.add(10)
	readPosts(t, r, 3) // some of the second poll is in; then crash
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited

	feed.add(10)
	p = startBinary(t, cfgPath)
	r = openStream(t, "http://"+p.addr+"/walls/devconf/events", "0")
	posts := readPosts(t, r, 40)
	seen := map[string]int{}
	for i, post := range posts {
		seen[post.ID]++
		if want := fmt.Sprintf("feed:item-%03d", i); post.ID != want {
			t.Errorf("post %d = %s, want %s", i, post.ID, want)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	// Nothing more is pending: a new item is the next event.
	feed.add(1)
	if next := readPosts(t, r, 1)[0]; next.ID != "feed:item-040" {
		t.Errorf("after replay: %s", next.ID)
	}

	// SIGTERM shuts down cleanly: the stream ends and the process exits 0.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestReload: a reload that adds a hashtag delivers its posts to a screen
// that stays connected throughout; a broken config is refused and the
// running one kept; saving the file reloads it.
func TestReload(t *testing.T) {
	feed := &fakeFeed{}
	feed.add(1)
	fs := httptest.NewServer(feed)
	defer fs.Close()
	dir := t.TempDir()
	path := writeConfig(t, dir, fs.URL, "127.0.0.1:0")
	a := startFile(t, path)
	defer a.Shutdown()
	r := openStream(t, "http://"+a.Addr()+"/walls/devconf/events", "")
	readPosts(t, r, 1)

	feed.addTagged(1, "extra") // item-001: not wanted yet
	feed.add(1)                // item-002
	if p := readPosts(t, r, 1)[0]; p.ID != "feed:item-002" {
		t.Fatalf("got %s before the reload, want item-002 only", p.ID)
	}
	writeConfigTags(t, dir, fs.URL, "127.0.0.1:0", "DevConf, extra")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	// The rss source restarted with the new subscription and read the
	// feed again: the extra post arrives on the same connection.
	if p := readPosts(t, r, 1)[0]; p.ID != "feed:item-001" {
		t.Fatalf("after the reload: %s, want item-001", p.ID)
	}

	os.WriteFile(path, []byte("walls: [\n"), 0o600)
	if err := a.Reload(); err == nil {
		t.Fatal("a broken config was accepted")
	}
	if w := a.Config().Wall("devconf"); w == nil || len(w.Hashtags) != 2 {
		t.Fatalf("the running config was not kept: %+v", w)
	}
	feed.addTagged(1, "extra")
	if p := readPosts(t, r, 1)[0]; p.ID != "feed:item-003" {
		t.Fatalf("after the refused reload: %s", p.ID)
	}

	// Saving the file is enough.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Watch(ctx, 10*time.Millisecond)
	writeConfigTags(t, dir, fs.URL, "127.0.0.1:0", "DevConf, extra, third")
	feed.addTagged(1, "third")
	if p := readPosts(t, r, 1)[0]; p.ID != "feed:item-004" {
		t.Fatalf("after saving the file: %s", p.ID)
	}
}

// startFile starts Wallcast in-process on a config file, logging nowhere.
func startFile(t testing.TB, path string, tune ...app.Setting) *app.App {
	t.Helper()
	cfg, err := sources.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), tune...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestResumeAcrossRestartForEveryParser: a screen reads the backfill and
// nothing more; the server is killed, posts arrive while it is down, it
// starts again, and the screen reconnects with the id its parser kept.
// With the standard's parser and with one that takes ids only with data
// (as eventsource-parser does), no post is seen twice and none is missed.
func TestResumeAcrossRestartForEveryParser(t *testing.T) {
	for _, dataOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("IDOnlyWithData=%v", dataOnly), func(t *testing.T) {
			feed := &fakeFeed{}
			feed.add(10)
			fs := httptest.NewServer(feed)
			defer fs.Close()
			cfgPath := writeConfig(t, t.TempDir(), fs.URL, "127.0.0.1:0")

			p := startBinary(t, cfgPath)
			// Wait until the posts are stored, then come as a new screen:
			// they arrive as the backfill.
			readPosts(t, openStream(t, "http://"+p.addr+"/walls/devconf/events", ""), 10)
			r := openStream(t, "http://"+p.addr+"/walls/devconf/events", "")
			r.IDOnlyWithData = dataOnly
			seen := map[string]int{}
			for _, post := range readPosts(t, r, 10) {
				seen[post.ID]++
			}
			readUntil(t, r, "ready")
			last := r.LastEventID()
			if last == "" {
				t.Fatal("no resume point after the backfill")
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited

			feed.add(5)
			p = startBinary(t, cfgPath)
			r = openStream(t, "http://"+p.addr+"/walls/devconf/events", last)
			r.IDOnlyWithData = dataOnly
			for _, post := range readPosts(t, r, 5) {
				seen[post.ID]++
			}
			for i := 0; i < 15; i++ {
				if id := fmt.Sprintf("feed:item-%03d", i); seen[id] != 1 {
					t.Errorf("%s seen %d times", id, seen[id])
				}
			}
		})
	}
}

// readUntil reads events until one of type typ, for at most 20 seconds.
func readUntil(t *testing.T, r *sse.Reader, typ string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := r.Next()
			if err != nil || ev.Type == typ {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s event within 20s", typ)
	}
}
