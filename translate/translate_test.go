package translate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/translate/translatetest"
	"github.com/wallcast/wallcast/wall"
)

func TestClientWire(t *testing.T) {
	_, srv := translatetest.Start(t, "k3y")
	c := &Client{URL: srv.URL + "/", APIKey: "k3y", HTTP: http.DefaultClient}
	ctx := context.Background()
	out, from, err := c.Translate(ctx, "<p>sample: ¡Hola desde la sala!</p>", "en")
	if err != nil || from != "es" || !strings.Contains(out, "Hello from the hall!") {
		t.Fatalf("%q %q %v", out, from, err)
	}
	if _, _, err := c.Translate(ctx, "<p>fail: x</p>", "en"); err == nil || !strings.Contains(err.Error(), "HTTP 500: Cannot translate text") {
		t.Fatalf("500: %v", err)
	}
	if _, _, err := c.Translate(ctx, "<p>busy: x</p>", "en"); !errors.Is(err, ErrBusy) {
		t.Fatalf("429: %v", err)
	}
	bad := &Client{URL: srv.URL, APIKey: "wrong", HTTP: http.DefaultClient}
	if _, _, err := bad.Translate(ctx, "<p>es: hola</p>", "en"); err == nil || !strings.Contains(err.Error(), "HTTP 403: Invalid API key") {
		t.Fatalf("403: %v", err)
	}
}

type stored struct {
	id, source, lang string
	tr               wall.Translation
}

func newTranslator(t *testing.T, url string, perMinute int) (*Translator, chan stored) {
	cfg := &config.Config{
		Translation: &config.Translation{URL: url, APIKey: "k3y", Timeout: config.Duration(time.Second), PerMinute: perMinute, Concurrency: 2},
		Walls: []config.Wall{
			{Slug: "hall", Display: config.Display{TranslateTo: []string{"en", "fr"}}},
			{Slug: "quiet"},
		},
	}
	policy := bluemonday.UGCPolicy()
	got := make(chan stored, 100)
	tr := New(cfg, func(h string) (string, string) {
		safe := policy.Sanitize(h)
		return safe, strings.TrimSpace(bluemonday.StrictPolicy().Sanitize(safe))
	}, func(id, source, lang string, x wall.Translation) error {
		got <- stored{id, source, lang, x}
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	tr.Start(ctx)
	t.Cleanup(func() { cancel(); tr.Wait() })
	return tr, got
}

// TestTranslator: a post in another language is translated into each of
// its wall's languages but its own, once, cleaned; a post already in the
// target language, a failure, and walls that do not translate leave the
// original alone.
func TestTranslator(t *testing.T) {
	f, srv := translatetest.Start(t, "k3y")
	tr, got := newTranslator(t, srv.URL, 1000)
	post := wall.Post{ID: "m:1", Lang: "es", HTML: "<p>es: hola</p>"}
	tr.Submit(post, []string{"hall"})
	tr.Submit(post, []string{"hall"}) // an upstream repeat
	tr.Submit(wall.Post{ID: "m:2", Lang: "fr", HTML: "<p>fr: salut</p>"}, []string{"hall"})
	tr.Submit(wall.Post{ID: "m:3", HTML: "<p>evil: x</p>"}, []string{"hall", "quiet"})
	tr.Submit(wall.Post{ID: "m:4", HTML: "<p>en: hello</p>"}, []string{"hall"}) // no language given: detected as en
	tr.Submit(wall.Post{ID: "m:5", HTML: "<p>fail: x</p>"}, []string{"hall"})
	tr.Submit(wall.Post{ID: "m:6", Lang: "de", HTML: "<p>de: hallo</p>"}, []string{"quiet"})
	seen := map[string]stored{}
	for range 6 { // m:1 en fr, m:2 en, m:3 en fr, m:4 fr
		s := <-got
		seen[s.id+"|"+s.lang] = s
	}
	for _, k := range []string{"m:1|en", "m:1|fr", "m:2|en", "m:3|en", "m:3|fr", "m:4|fr"} {
		if _, ok := seen[k]; !ok {
			t.Fatalf("no %s in %v", k, seen)
		}
	}
	if s := seen["m:1|en"]; s.tr.HTML != "<p>[en] hola</p>" || s.tr.Text != "[en] hola" || s.tr.From != "es" || s.source != "<p>es: hola</p>" {
		t.Fatalf("m:1 en: %+v", s)
	}
	if s := seen["m:3|en"]; strings.Contains(s.tr.HTML, "script") || strings.Contains(s.tr.HTML, "onerror") {
		t.Fatalf("not cleaned: %q", s.tr.HTML)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Failed.Load() != 2 || tr.Same.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("failed %d, same %d", tr.Failed.Load(), tr.Same.Load())
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case s := <-got:
		t.Fatalf("more stored: %+v", s)
	default:
	}
	// m:1 into en and fr once each (not again for its repeat), m:2 into
	// en only (fr is its own), m:3, m:4 and m:5 into both; m:6's wall
	// does not translate.
	if asked := f.Asked(); len(asked) != 9 {
		t.Fatalf("%d requests: %v", len(asked), asked)
	}
}

// TestBudget: past per_minute, a translation waits for the budget.
func TestBudget(t *testing.T) {
	b := newBucket(2, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if b.wait(ctx) != nil || b.wait(ctx) != nil {
		t.Fatal("the first two were refused")
	}
	if err := b.wait(ctx); err == nil {
		t.Fatal("a third request went within the minute")
	}
	fast := newBucket(600, time.Minute) // ten a second
	var wg sync.WaitGroup
	start := time.Now()
	for range 610 {
		wg.Add(1)
		go func() { defer wg.Done(); fast.wait(context.Background()) }()
	}
	wg.Wait()
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("610 requests at 600 a minute took %v", d)
	}
}
