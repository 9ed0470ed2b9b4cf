package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sse"
)

var crashRounds = flag.Int("rounds", 5, "SIGKILL rounds of TestCrashRounds (the README reports a long run)")

// liveMastodon publishes a #devconf status every 20 ms once the first
// stream opens: the hashtag stream sends what comes after it opened, the
// timeline pages from min_id, as Mastodon does.
type liveMastodon struct {
	mu      sync.Mutex
	n       int
	started bool
	added   chan struct{}
}

func (m *liveMastodon) publish(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.mu.Lock()
			if m.started {
				m.n++
				close(m.added)
				m.added = make(chan struct{})
			}
			m.mu.Unlock()
		}
	}
}

func (m *liveMastodon) status(i int) string {
	return fmt.Sprintf(`{"id":"%d","created_at":"2026-11-25T10:00:00.000Z","content":"<p>status %d <a href=\"https://m.example/tags/devconf\" class=\"mention hashtag\">#<span>devconf</span></a></p>","url":"https://m.example/@ana/%d","account":{"acct":"ana","username":"ana","display_name":"Ana","url":"https://m.example/@ana","avatar_static":"https://m.example/a.png"},"tags":[{"name":"devconf"}],"media_attachments":[],"emojis":[]}`, 100000+i, i, 100000+i)
}

func (m *liveMastodon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	n := m.n
	m.mu.Unlock()
	if r.URL.Path == "/api/v1/timelines/tag/devconf" {
		from := max(1, n-39)
		if id, err := strconv.Atoi(r.URL.Query().Get("min_id")); err == nil {
			from = id - 100000 + 1
		}
		var page []string
		for i := min(n, from+39); i >= from; i-- {
			page = append(page, m.status(i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "["+strings.Join(page, ",")+"]")
		return
	}
	if r.URL.Path != "/api/v1/streaming/hashtag" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, ":)\n")
	w.(http.Flusher).Flush()
	m.mu.Lock()
	m.started = true
	sent := m.n
	m.mu.Unlock()
	for {
		m.mu.Lock()
		n, added := m.n, m.added
		m.mu.Unlock()
		for ; sent < n; sent++ {
			fmt.Fprintf(w, "event: update\ndata: %s\n\n", m.status(sent+1))
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-added:
		}
	}
}

// screen follows a wall's stream across server deaths, resuming from its
// Last-Event-ID, and records the ids of the events it was given.
type screen struct {
	mu       sync.Mutex
	ids      []int64
	repeats  int // an id not above the one before it
	resets   int
	connects int
	readies  int // backfills ended
}

func (s *screen) last() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) == 0 {
		return 0
	}
	return s.ids[len(s.ids)-1]
}

func (s *screen) follow(ctx context.Context, url string) {
	for ctx.Err() == nil {
		s.once(ctx, url)
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *screen) once(ctx context.Context, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if last := s.last(); last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	s.mu.Lock()
	s.connects++
	s.mu.Unlock()
	r := sse.NewReader(resp.Body)
	for {
		ev, err := r.Next()
		if err != nil {
			return
		}
		if ev.Type == "reset" {
			s.mu.Lock()
			s.resets++
			s.mu.Unlock()
		}
		if ev.Type == "ready" {
			s.mu.Lock()
			s.readies++
			s.mu.Unlock()
			continue // the ready event repeats the resume id
		}
		if ev.Type == "screen" {
			continue // the stream's token: no id of its own
		}
		if ev.ID == "" {
			continue
		}
		id, err := strconv.ParseInt(ev.ID, 10, 64)
		if err != nil {
			continue
		}
		s.mu.Lock()
		if n := len(s.ids); n > 0 && id <= s.ids[n-1] {
			s.repeats++
		} else {
			s.ids = append(s.ids, id)
		}
		s.mu.Unlock()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrashRounds kills the server with SIGKILL at random moments while a
// webhook and a Mastodon stream feed it and screens watch, round after
// round on one database (-rounds N; the README reports a long run). After
// every kill the database passes integrity_check; at the end every post
// answered 2xx is stored once, every status up to the stored Mastodon
// cursor is stored, no post was announced twice, and every screen saw the
// wall's log without a gap or a repeat.
func TestCrashRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	masto := &liveMastodon{added: make(chan struct{})}
	go masto.publish(ctx)
	ms := httptest.NewServer(masto)
	defer ms.Close()

	dir := t.TempDir()
	addr := freePort(t)
	dbPath := filepath.Join(dir, "wallcast.db")
	cfgPath := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`server: {listen: %q, heartbeat: 1s}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
  - {name: masto, type: mastodon, instance: %q, mode: stream}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook, masto], display: {max_posts: 500}}
`, addr, dbPath, ms.URL)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	var accepted sync.Map // webhook id → true
	var nAccepted atomic.Int64
	var round atomic.Int32
	for s := 0; s < 2; s++ {
		go func() {
			c := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("s%d-%d", s, i)
				if code, err := push(c, addr, id); err == nil && code == 200 {
					accepted.Store(id, true)
					nAccepted.Add(1)
				}
				time.Sleep(40 * time.Millisecond)
			}
		}()
	}
	screens := make([]*screen, 3)
	for i := range screens {
		screens[i] = &screen{}
		go screens[i].follow(ctx, "http://"+addr+"/walls/devconf/events")
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for r := 0; r < *crashRounds; r++ {
		round.Store(int32(r))
		p := startBinary(t, cfgPath)
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		if msg := integrity(t, dbPath); msg != "ok" {
			t.Fatalf("round %d: integrity_check: %s", r, msg)
		}
	}

	// A last start, to let every screen catch up with the log.
	p := startBinary(t, cfgPath)
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var head int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := db.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM wall_events WHERE wall = 'devconf'`).Scan(&head); err != nil {
			t.Fatal(err)
		}
		behind := 0
		for _, s := range screens {
			if s.last() < head {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d screens never caught up with event %d", behind, head)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // senders, screens and the publisher stop
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited

	// Every webhook post answered 2xx is stored, once.
	stored := map[string]bool{}
	rows, err := db.Query(`SELECT native_id FROM posts WHERE source = 'hook'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	lost := 0
	accepted.Range(func(k, _ any) bool {
		if !stored[k.(string)] {
			lost++
		}
		return true
	})
	if lost > 0 || nAccepted.Load() == 0 {
		t.Errorf("%d of %d webhook posts answered 2xx are not stored", lost, nAccepted.Load())
	}
	// No cursor ahead of its posts: every status up to the cursor is stored.
	var raw string
	if err := db.QueryRow(`SELECT value FROM cursors WHERE source = 'masto'`).Scan(&raw); err != nil {
		t.Fatalf("mastodon cursor: %v", err)
	}
	var cur struct {
		Since map[string]string `json:"since"`
	}
	json.Unmarshal([]byte(raw), &cur)
	upTo, _ := strconv.Atoi(cur.Since["devconf"])
	var have int
	db.QueryRow(`SELECT COUNT(*) FROM posts WHERE source = 'masto' AND CAST(native_id AS INTEGER) <= ?`, upTo).Scan(&have)
	if want := upTo - 100000; have != want || want <= 0 {
		t.Errorf("mastodon cursor at status %d, but %d of its %d statuses are stored", upTo-100000, have, want)
	}
	// No post announced twice.
	var twice int
	db.QueryRow(`SELECT COUNT(*) FROM (SELECT post_id FROM wall_events WHERE wall = 'devconf' AND type = 'post' GROUP BY post_id HAVING COUNT(*) > 1)`).Scan(&twice)
	if twice > 0 {
		t.Errorf("%d posts announced more than once", twice)
	}
	// Every screen saw the log from its first event on, without a gap.
	var logIDs []int64
	rows, err = db.Query(`SELECT id FROM wall_events WHERE wall = 'devconf' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		logIDs = append(logIDs, id)
	}
	rows.Close()
	for i, s := range screens {
		s.mu.Lock()
		var want []int64
		for _, id := range logIDs {
			if len(s.ids) > 0 && id >= s.ids[0] && id <= head {
				want = append(want, id)
			}
		}
		got := s.ids
		if len(got) > len(want) {
			got = got[:len(want)]
		}
		gap := len(got) != len(want)
		for j := range got {
			gap = gap || got[j] != want[j]
		}
		if gap || s.repeats > 0 || s.resets > 0 {
			t.Errorf("screen %d: %d events of %d in the log, %d repeats, %d resets, gap=%v", i, len(got), len(want), s.repeats, s.resets, gap)
		}
		s.mu.Unlock()
	}
	t.Logf("crash rounds: %d SIGKILLs survived; %d webhook posts accepted, %d Mastodon statuses up to the cursor, %d wall events, screens reconnected %d/%d/%d times",
		*crashRounds, nAccepted.Load(), upTo-100000, len(logIDs), screens[0].connects, screens[1].connects, screens[2].connects)
}

// integrity runs PRAGMA integrity_check on a database nobody has open.
func integrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msg string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&msg); err != nil {
		t.Fatal(err)
	}
	return msg
}
