package translate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/storage"
	"github.com/wallcast/wallcast/translate/translatetest"
	"github.com/wallcast/wallcast/wall"
)

// BenchmarkTranslatedPosts is translated posts per second through the
// workers: a request to a LibreTranslate on loopback that answers at once
// (the fake; a real model takes 50–500 ms a post, so it sets the pace),
// the answer cleaned, stored with the post in SQLite, the update event
// made. It shows what Wallcast adds to the translation server's time.
func BenchmarkTranslatedPosts(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			_, lt := translatetest.Start(b, "")
			db, err := storage.Open(filepath.Join(b.TempDir(), "w.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			cfg := &config.Config{
				Translation: &config.Translation{URL: lt.URL, Timeout: config.Duration(10 * time.Second), PerMinute: 1 << 30, Concurrency: workers},
				Walls:       []config.Wall{{Slug: "hall", Display: config.Display{TranslateTo: []string{"en"}}}},
			}
			ugc, strict := bluemonday.UGCPolicy(), bluemonday.StrictPolicy()
			tr := New(cfg, func(h string) (string, string) { s := ugc.Sanitize(h); return s, strings.TrimSpace(strict.Sanitize(s)) },
				func(id, source, lang string, x wall.Translation) error {
					_, err := db.Translated(context.Background(), id, source, lang, x)
					return err
				}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			tr.client.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 16}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); tr.Wait() }()
			posts := make([]wall.Post, b.N)
			var writes []wall.Write
			for i := range posts {
				id := fmt.Sprint(i)
				posts[i] = wall.Post{ID: wall.PostID("m", id), Source: "m", NativeID: id, Network: "mastodon", Lang: "es",
					HTML: fmt.Sprintf("<p>es: ¡Hola desde la sala número %d! Qué charla tan buena sobre bases de datos.</p>", i), CreatedAt: time.Now()}
				writes = append(writes, wall.Write{Source: "m", Item: wall.Item{Kind: wall.ItemPost, Post: posts[i]}, Targets: []wall.Target{{Wall: "hall", Status: wall.StatusVisible}}})
			}
			if _, err := db.Apply(ctx, writes); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			tr.Start(ctx)
			for i := range posts {
				for {
					before := tr.Dropped.Load()
					tr.Submit(posts[i], []string{"hall"})
					if tr.Dropped.Load() == before {
						break
					}
					tr.Dropped.Add(-1)
					delete(tr.done, posts[i].ID+"|en")
					time.Sleep(time.Millisecond) // the queue is full: let the workers take some
				}
			}
			for tr.Translated.Load()+tr.Failed.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			if f := tr.Failed.Load(); f > 0 {
				b.Fatalf("%d failed", f)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
		})
	}
}
