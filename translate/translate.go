// Package translate puts posts into the languages of the walls that show
// them (display.translate_to), through a LibreTranslate server, off the
// ingest path: a bounded queue, a pool of workers, a budget of requests a
// minute. A post is translated once per language, and again when it is
// edited; on any failure the original stays on the screens.
package translate

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// QueueSize is how many translations may wait; past it, new ones are
// dropped (their posts stay in their own language).
const QueueSize = 10000

// Translator translates posts for the walls that want it.
type Translator struct {
	client  *Client
	workers int
	budget  *bucket
	jobs    chan job
	walls   atomic.Pointer[map[string][]string] // wall -> its languages
	// clean sanitises a translation as ingest does the original: safe
	// HTML, and the plain text of it.
	clean func(html string) (string, string)
	// store keeps a translation with its post and tells the screens.
	store func(postID, source, lang string, tr wall.Translation) error
	log   *slog.Logger
	wg    sync.WaitGroup

	mu   sync.Mutex
	done map[string]string // post|lang -> the HTML queued: an upstream repeat is not translated again

	// Figures: translations stored, failed (the original stays), dropped
	// (the queue was full), and skipped (already in that language).
	Translated, Failed, Dropped, Same atomic.Int64
}

type job struct {
	post wall.Post
	lang string
}

// New returns a translator for a config's walls.
func New(c *config.Config, clean func(string) (string, string), store func(postID, source, lang string, tr wall.Translation) error, log *slog.Logger) *Translator {
	tc := c.Translation
	t := &Translator{
		client:  &Client{URL: tc.URL, APIKey: tc.APIKey, HTTP: &http.Client{Timeout: tc.Timeout.D(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}},
		workers: tc.Concurrency, budget: newBucket(tc.PerMinute, time.Minute), jobs: make(chan job, QueueSize),
		clean: clean, store: store, log: log, done: map[string]string{},
	}
	t.SetWalls(c)
	return t
}

// SetWalls takes the walls' languages from a config (at a reload).
func (t *Translator) SetWalls(c *config.Config) {
	m := map[string][]string{}
	for _, w := range c.Walls {
		if len(w.Display.TranslateTo) > 0 {
			m[w.Slug] = w.Display.TranslateTo
		}
	}
	t.walls.Store(&m)
}

// Start runs the workers until ctx ends.
func (t *Translator) Start(ctx context.Context) {
	for range t.workers {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-t.jobs:
					t.translate(ctx, j)
				}
			}
		}()
	}
}

// Wait waits for the workers to end (after ctx).
func (t *Translator) Wait() { t.wg.Wait() }

// Submit queues a committed post (new or edited) for the languages of the
// walls it went to that it is not written in. It never blocks.
func (t *Translator) Submit(p wall.Post, walls []string) {
	langs := map[string]bool{}
	for _, w := range walls {
		for _, l := range (*t.walls.Load())[w] {
			if !sameLanguage(p.Lang, l) {
				langs[l] = true
			}
		}
	}
	keys := make([]string, 0, len(langs))
	for l := range langs {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	for _, l := range keys {
		key := p.ID + "|" + l
		t.mu.Lock()
		seen := t.done[key] == p.HTML
		if !seen {
			if len(t.done) >= QueueSize*10 {
				clear(t.done)
			}
			t.done[key] = p.HTML
		}
		t.mu.Unlock()
		if seen {
			continue
		}
		select {
		case t.jobs <- job{post: p, lang: l}:
		default:
			t.Dropped.Add(1)
		}
	}
}

// Wants reports whether any of these walls translates.
func (t *Translator) Wants(walls []string) bool {
	m := *t.walls.Load()
	return slices.ContainsFunc(walls, func(w string) bool { return len(m[w]) > 0 })
}

// sameLanguage compares primary subtags: "pt-BR" is "pt".
func sameLanguage(a, b string) bool {
	p := func(s string) string { s, _, _ = strings.Cut(strings.ToLower(s), "-"); return s }
	return a != "" && p(a) == p(b)
}

func (t *Translator) translate(ctx context.Context, j job) {
	if err := t.budget.wait(ctx); err != nil {
		return
	}
	out, from, err := t.client.Translate(ctx, j.post.HTML, j.lang)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		t.Failed.Add(1)
		t.log.Warn("translate: the original stays", "post", j.post.ID, "to", j.lang, "err", err)
		return
	}
	if sameLanguage(from, j.lang) {
		t.Same.Add(1) // written in that language after all
		return
	}
	html, text := t.clean(out)
	if strings.TrimSpace(text) == "" {
		t.Failed.Add(1)
		return
	}
	if err := t.store(j.post.ID, j.post.HTML, j.lang, wall.Translation{HTML: html, Text: text, From: from}); err != nil {
		t.Failed.Add(1)
		t.log.Error("translate: cannot store the translation", "post", j.post.ID, "err", err)
		return
	}
	t.Translated.Add(1)
}

// bucket hands out n requests per period, evenly refilled.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	max    float64
	rate   float64 // tokens per second
	last   time.Time
}

func newBucket(n int, per time.Duration) *bucket {
	return &bucket{tokens: float64(n), max: float64(n), rate: float64(n) / per.Seconds(), last: time.Now()}
}

// wait takes a token, waiting for one until ctx ends.
func (b *bucket) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.max, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= 1 {
			b.tokens--
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}
