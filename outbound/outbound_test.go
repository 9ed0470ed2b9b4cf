package outbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/outbound"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

// receiver is an endpoint that checks signatures and keeps what it took;
// answer decides each request's fate (nil: 204).
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	got    []outbound.Delivery
	tries  map[string]int
	answer func(d outbound.Delivery, try int) int
	slow   time.Duration // the first try of every delivery waits this long
	took   chan outbound.Delivery
}

func newReceiver(t *testing.T) *receiver {
	return &receiver{t: t, tries: map[string]int{}, took: make(chan outbound.Delivery, 1000)}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Wallcast-Timestamp")
	if r.Header.Get("X-Wallcast-Signature") != webhook.Sign("s3cret", ts, body) {
		rc.t.Errorf("a delivery with a wrong signature: %s", body)
		http.Error(w, "bad signature", 401)
		return
	}
	var d outbound.Delivery
	if err := json.Unmarshal(body, &d); err != nil || r.Header.Get("X-Wallcast-Delivery") != d.ID || r.Header.Get("X-Wallcast-Event") != d.Event {
		rc.t.Errorf("delivery %s, headers %v", body, r.Header)
	}
	rc.mu.Lock()
	rc.tries[d.ID]++
	try := rc.tries[d.ID]
	rc.mu.Unlock()
	if rc.slow > 0 && try == 1 {
		select {
		case <-time.After(rc.slow):
		case <-r.Context().Done():
		}
		return
	}
	code := http.StatusNoContent
	if rc.answer != nil {
		code = rc.answer(d, try)
	}
	if code/100 == 2 {
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		rc.took <- d
	}
	w.WriteHeader(code)
}

// wait waits until n deliveries were taken, and returns them all.
func (rc *receiver) wait(n int) []outbound.Delivery {
	rc.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rc.mu.Lock()
		got := slices.Clone(rc.got)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.took:
		case <-deadline:
			rc.t.Fatalf("%d of %d deliveries after 10 s: %+v", len(got), n, got)
		}
	}
}

type env struct {
	db  *storage.DB
	d   *outbound.Dispatcher
	ctx context.Context
	n   int
}

func start(t *testing.T, path string, endpoints ...config.Outbound) *env {
	t.Helper()
	db, err := storage.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := outbound.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d.Every, d.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	e := &env{db: db, d: d, ctx: ctx}
	t.Cleanup(func() { cancel(); d.Wait(); db.Close() })
	d.Set(ctx, endpoints)
	// The endpoints start at the log's head: wait until they are there.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ready := len(d.Health()) == len(endpoints)
		for _, o := range endpoints {
			if _, err := db.OutboundCursor(ctx, o.Name); err != nil {
				ready = false
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the endpoints did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return e
}

// post commits a post shown on a wall (or held, when held).
func (e *env) post(t *testing.T, slug string, held bool) string {
	t.Helper()
	e.n++
	id := fmt.Sprint(e.n)
	p := wall.Post{ID: wall.PostID("src", id), Source: "src", NativeID: id, Network: "rss", HTML: "<p>post " + id + "</p>", Text: "post " + id, CreatedAt: time.Now()}
	status := wall.StatusVisible
	if held {
		status = wall.StatusPending
	}
	ev, err := e.db.Apply(e.ctx, []wall.Write{{Source: "src", Item: wall.Item{Kind: wall.ItemPost, Post: p}, Targets: []wall.Target{{Wall: slug, Status: status}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.d.Publish(ev)
	return p.ID
}

// until waits until the endpoint's health satisfies ok.
func (e *env) until(t *testing.T, ok func(wall.EndpointHealth) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if h := e.d.Health(); len(h) == 1 && ok(h[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v", e.d.Health())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func endpoint(url string, tune ...func(*config.Outbound)) config.Outbound {
	o := config.Outbound{Name: "cms", URL: url, Secret: "s3cret", Timeout: config.Duration(200 * time.Millisecond)}
	for _, f := range tune {
		f(&o)
	}
	return o
}

// TestDeliversInOrder: the events the endpoint asked for, of its walls,
// in the log's order, signed, with stable ids; what came before it was
// configured is not sent.
func TestDeliversInOrder(t *testing.T) {
	rc := newReceiver(t)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "w.db")
	db, _ := storage.Open(path)
	before := &env{db: db, ctx: context.Background(), d: outbound.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	before.post(t, "devconf", false) // before the endpoint: not sent
	db.Close()
	e := start(t, path, endpoint(srv.URL, func(o *config.Outbound) { o.Events = []string{"shown", "pending"}; o.Walls = []string{"devconf"} }))
	e.n = 1
	var want []string
	for i := range 6 {
		slug := []string{"devconf", "other"}[i%2]
		id := e.post(t, slug, i%3 == 0)
		if slug == "devconf" {
			want = append(want, id)
		}
	}
	got := rc.wait(len(want))
	var ids []string
	var last int64
	for _, d := range got {
		var p struct {
			ID   string          `json:"id"`
			Post json.RawMessage `json:"post"`
		}
		json.Unmarshal(d.Data, &p)
		ids = append(ids, p.ID)
		if d.Wall != "devconf" || d.Seq <= last || d.ID != fmt.Sprintf("cms-%d", d.Seq) {
			t.Errorf("delivery %+v", d)
		}
		last = d.Seq
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("delivered %v, want %v", ids, want)
	}
	e.until(t, func(h wall.EndpointHealth) bool {
		return h.State == "ok" && h.Delivered == int64(len(want)) && h.Host != ""
	})
}

// TestRetries: a receiver that fails, one that is slow, one that goes
// away and comes back: every event arrives, in order, each delivery id
// taken once.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*receiver)
	}{
		{"fails", func(rc *receiver) {
			rc.answer = func(_ outbound.Delivery, try int) int {
				if try < 3 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			}
		}},
		{"slow", func(rc *receiver) { rc.slow = time.Second }},
		{"busy", func(rc *receiver) {
			rc.answer = func(_ outbound.Delivery, try int) int {
				if try == 1 {
					return http.StatusTooManyRequests
				}
				return http.StatusAccepted
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			tc.set(rc)
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e := start(t, filepath.Join(t.TempDir(), "w.db"), endpoint(srv.URL))
			var want []string
			for range 3 {
				want = append(want, e.post(t, "devconf", false))
			}
			got := rc.wait(3)
			seen := map[string]bool{}
			for i, d := range got {
				if seen[d.ID] || d.Event != "shown" || !json.Valid(d.Data) {
					t.Fatalf("delivery %d: %+v", i, d)
				}
				seen[d.ID] = true
			}
			if h := e.d.Health()[0]; h.Failed != 0 {
				t.Fatalf("health %+v", h)
			}
		})
	}

	t.Run("goes away", func(t *testing.T) {
		rc := newReceiver(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nobody there
		e := start(t, filepath.Join(t.TempDir(), "w.db"), endpoint("http://"+addr+"/hook"))
		e.post(t, "devconf", false)
		for deadline := time.Now().Add(5 * time.Second); e.d.Health()[0].State != "retrying"; {
			if time.Now().After(deadline) {
				t.Fatalf("not retrying: %+v", e.d.Health())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if h := e.d.Health()[0]; h.LastError != "cannot reach it" || h.Attempts < 1 {
			t.Fatalf("health %+v", h)
		}
		ln, err = net.Listen("tcp", addr) // it comes back
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: rc}
		go srv.Serve(ln)
		defer srv.Close()
		e.post(t, "devconf", false)
		if got := rc.wait(2); got[0].Seq >= got[1].Seq {
			t.Fatalf("out of order: %+v", got)
		}
	})
}

// TestGivesUp: an event refused for longer than GiveUpAfter is recorded
// as given up, and the next ones go.
func TestGivesUp(t *testing.T) {
	rc := newReceiver(t)
	var poison string
	rc.answer = func(d outbound.Delivery, _ int) int {
		if contains(d.Data, poison) {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "w.db")
	e := start(t, path, endpoint(srv.URL))
	e.d.GiveUpAfter = 200 * time.Millisecond
	poison = "post 1"
	e.post(t, "devconf", false)
	e.post(t, "devconf", false)
	got := rc.wait(1)
	if !contains(got[0].Data, "post 2") {
		t.Fatalf("got %+v", got)
	}
	e.until(t, func(h wall.EndpointHealth) bool { return h.Failed == 1 })
	if n, _ := e.db.OutboundFailed(e.ctx, "cms"); n != 1 {
		t.Fatalf("%d given up in the database", n)
	}
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

// TestResumes: a new dispatcher on the same database goes on from where
// the last one got: what was delivered is not sent again, what was
// committed meanwhile is.
func TestResumes(t *testing.T) {
	rc := newReceiver(t)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "w.db")
	e := start(t, path, endpoint(srv.URL))
	e.post(t, "devconf", false)
	rc.wait(1)
	e.until(t, func(h wall.EndpointHealth) bool { return h.Delivered == 1 })
	// Stop it (the test's cleanup order does not matter: a second
	// dispatcher on the same file runs after the first stopped).
	e.d.Set(e.ctx, nil)
	e.d.Wait()
	e.post(t, "devconf", false) // committed while no one sends
	e2 := start(t, path, endpoint(srv.URL))
	e2.n = e.n
	e2.post(t, "devconf", false)
	got := rc.wait(3)
	ids := map[string]int{}
	for _, d := range got {
		ids[d.ID]++
	}
	if len(ids) != 3 || len(got) != 3 {
		t.Fatalf("deliveries %+v", got)
	}
}
