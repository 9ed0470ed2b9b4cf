package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/wall"
)

const classifierYAML = `
moderation:
  classifier: {url: %q, timeout: 200ms, hold_above: 0.8, reject_above: 0.97, on_error: %s}
sources:
  - {name: masto, type: demo}
walls:
  - slug: auto
    hashtags: [devconf]
    sources: [masto]
    filters: {hold_if: [classifier]}
  - slug: manual
    hashtags: [devconf]
    sources: [masto]
    moderation: manual
    filters: {hold_if: [classifier]}
`

// fakeClassifier scores a post by the word its text starts with: "score
// 0.91 …", "slow" (answers after the timeout), "fail" (500), "garbage"
// (not JSON), "outside" (a score of 7).
func fakeClassifier(t *testing.T) *httptest.Server {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the classifier client followed a redirect")
		io.WriteString(w, `{"score": 0.01}`)
	}))
	t.Cleanup(elsewhere.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p wall.Post
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		word := strings.Fields(p.Text + " x")[0]
		switch word {
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		case "fail":
			http.Error(w, "model crashed", 500)
			return
		case "redirect":
			http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
			return
		case "garbage":
			io.WriteString(w, "<html>")
			return
		case "outside":
			io.WriteString(w, `{"score": 7}`)
			return
		case "score":
			fmt.Fprintf(w, `{"score": %s, "labels": ["insult", "toxicity"]}`, strings.Fields(p.Text)[1])
			return
		}
		io.WriteString(w, `{"score": 0.05, "labels": []}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// classified is a pipeline on a real database with a classifier asking
// the fake one, its verdicts committed as the server commits them; with
// workers false, none runs (every post overflows the queue). All of it
// stops when the test ends.
func classified(t *testing.T, onError string, workers bool) (*Pipeline, *storage.DB, context.Context) {
	srv := fakeClassifier(t)
	cfg := testConfig(t, fmt.Sprintf(classifierYAML, srv.URL, onError))
	db := testDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := New(db, publishFunc(func([]wall.Event) {}), NewRouter(cfg), log)
	ctx, cancel := context.WithCancel(context.Background())
	c := NewClassifier(*cfg.Moderation.Classifier, func(slug, id, status, reason string) error {
		return p.Do(func() ([]wall.Event, error) { return db.Verdict(ctx, slug, id, status, reason, "classifier") })
	}, p.Manual, log)
	if workers {
		c.Start(ctx)
	} else {
		c.jobs = make(chan job) // no room and no worker: every post overflows
	}
	p.SetClassifier(c)
	t.Cleanup(func() { cancel(); c.Wait(); p.Close() })
	return p, db, ctx
}

// TestClassifier: posts wait as pending for the verdict, which shows,
// holds or rejects them with the score and labels in the reason; a slow,
// failing or nonsensical classifier gets the on_error fate; a manual wall
// keeps everything for a moderator, score in view.
func TestClassifier(t *testing.T) {
	for _, onError := range []string{"hold", "pass"} {
		t.Run("on_error "+onError, func(t *testing.T) {
			p, db, ctx := classified(t, onError, true)

			texts := map[string]string{"ok": "hello #devconf", "hold": "score 0.91 #devconf", "reject": "score 0.99 #devconf",
				"slow": "slow #devconf", "fail": "fail #devconf", "redirect": "redirect #devconf", "garbage": "garbage #devconf", "outside": "outside #devconf"}
			for id, text := range texts {
				post := wall.Post{NativeID: id, Text: text, Author: wall.Author{Name: "A", Handle: "@a@m.example"}}
				if err := p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: post}); err != nil {
					t.Fatal(err)
				}
			}
			failed := func(why string) string {
				if onError == "hold" {
					return "pending: held: classifier failed (" + why + ")"
				}
				return "visible: "
			}
			want := map[string]string{
				"ok":       "visible: ",
				"hold":     "pending: held: classifier 0.91 (insult, toxicity)",
				"reject":   "rejected: classifier 0.99 (insult, toxicity)",
				"slow":     failed("no answer within 200ms"),
				"fail":     failed("HTTP 500"),
				"redirect": failed("it redirected the post elsewhere"),
				"garbage":  failed(`not {"score": 0..1, "labels": [...]}`),
				"outside":  failed(`not {"score": 0..1, "labels": [...]}`),
			}
			fates := func(slug string) map[string]string {
				q, err := db.Queue(ctx, slug, 100)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, list := range [][]wall.QueueItem{q.Pending, q.Visible, q.Rejected} {
					for _, it := range list {
						out[strings.TrimPrefix(it.ID, "masto:")] = it.Status + ": " + it.Reason
					}
				}
				return out
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := fates("auto")
				done := true
				for id, w := range want {
					done = done && got[id] == w
				}
				if done {
					break
				}
				if time.Now().After(deadline) {
					for id, w := range want {
						if got[id] != w {
							t.Errorf("auto wall, %s: %q, want %q", id, got[id], w)
						}
					}
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			// On the manual wall nothing shows by itself; the score is in view.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				got := fates("manual")
				if got["ok"] == "pending: classifier 0.05" && got["reject"] == "rejected: classifier 0.99 (insult, toxicity)" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("manual wall: %v", got)
				}
			}
		})
	}
}

// TestClassifierQueueFull: with the queue full, the on_error rule decides
// at once, without waiting on the writer that holds the commit lock.
func TestClassifierQueueFull(t *testing.T) {
	p, db, ctx := classified(t, "hold", false)
	if err := p.Emit(ctx, "masto", wall.Item{Kind: wall.ItemPost, Post: wall.Post{NativeID: "1", Text: "hello #devconf", Author: wall.Author{Name: "A"}}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		q, _ := db.Queue(ctx, "auto", 10)
		if len(q.Pending) == 1 && strings.Contains(q.Pending[0].Reason, "too many posts waiting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending = %+v (a deadlock would end here)", q.Pending)
		}
	}
}

// TestClassifierSeesUploadedPictures: a picture of Wallcast's media store
// (a phone's photo) goes to the classifier as an absolute URL under the
// server's address, to fetch; other media as they are.
func TestClassifierSeesUploadedPictures(t *testing.T) {
	got := make(chan wall.Post, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p wall.Post
		json.NewDecoder(r.Body).Decode(&p)
		got <- p
		io.WriteString(w, `{"score": 0.1}`)
	}))
	defer srv.Close()
	c := NewClassifier(config.Classifier{URL: srv.URL, Timeout: config.Duration(time.Second)}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c.MediaBase = "https://wall.example/"
	pic := "/media/" + strings.Repeat("ab", 32) + ".jpg"
	p := wall.Post{ID: "phones:1", Media: []wall.Media{{Type: "image", URL: pic}, {Type: "image", URL: "https://cdn.example/x.png"}}}
	if _, err := c.ask(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	sent := <-got
	if sent.Media[0].URL != "https://wall.example"+pic || sent.Media[1].URL != "https://cdn.example/x.png" {
		t.Fatalf("sent %+v", sent.Media)
	}
	if p.Media[0].URL != pic {
		t.Fatal("the post itself was changed")
	}
}
