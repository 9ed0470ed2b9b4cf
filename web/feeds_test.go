package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/wallcast/wallcast/wall"
)

// TestFeeds: a wall's visible posts as JSON Feed 1.1 and Atom, read back
// by a feed parser (gofeed) with their HTML, authors, tags and media; a
// removed post is not in them; an unchanged feed answers 304 to its ETag.
func TestFeeds(t *testing.T) {
	e := newEnv(t, 0)
	e.post("first post #devconf")
	p := wall.Post{ID: "s:media", Source: "s", NativeID: "media", Network: "mastodon", URL: "https://m.example/@ana/1",
		Text: "a photo from the hall", HTML: `<p>a photo from <a href="https://m.example/tags/hall" rel="nofollow noopener" target="_blank">#hall</a></p>`,
		Author: wall.Author{Name: "Ana", Handle: "@ana@m.example", URL: "https://m.example/@ana"}, Tags: []string{"devconf", "hall"},
		Media:     []wall.Media{{Type: "image", URL: "https://m.example/media/hall.png", Alt: "the hall"}, {Type: "image", URL: "https://m.example/media/hidden.jpg", Hidden: true}},
		CreatedAt: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	e.apply(wall.Write{Source: "s", Item: wall.Item{Kind: wall.ItemPost, Post: p}, Targets: []wall.Target{{Wall: "devconf", Status: wall.StatusVisible}}})
	e.post("gone soon")
	if _, err := e.db.Moderate(context.Background(), "devconf", "s:2", wall.ActRemove, "mod"); err != nil {
		t.Fatal(err)
	}
	etags := map[string]string{}
	for _, path := range []string{"/walls/devconf/feed.json", "/walls/devconf/feed.atom"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(e.url + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || etag == "" {
				t.Fatalf("%s: %s, ETag %q", path, resp.Status, etag)
			}
			etags[path] = etag
			f, err := gofeed.NewParser().ParseString(string(body))
			if err != nil {
				t.Fatalf("not a feed: %v\n%s", err, body)
			}
			if len(f.Items) != 2 {
				t.Fatalf("%d items, want 2 (the removed post left out):\n%s", len(f.Items), body)
			}
			var photo *gofeed.Item
			for _, it := range f.Items {
				if strings.Contains(it.Content, "a photo from") {
					photo = it
				}
				if strings.Contains(it.Content, "gone soon") {
					t.Error("a removed post is in the feed")
				}
			}
			if photo == nil || photo.Link != "https://m.example/@ana/1" || len(photo.Authors) == 0 || photo.Authors[0].Name != "Ana" ||
				!strings.Contains(photo.Content, `href="https://m.example/tags/hall"`) || photo.PublishedParsed == nil || !photo.PublishedParsed.Equal(p.CreatedAt) {
				t.Errorf("the photo post: %+v", photo)
			}
			if photo != nil && (len(photo.Enclosures) != 1 || photo.Enclosures[0].URL != "https://m.example/media/hall.png" || photo.Enclosures[0].Type != "image/png") {
				t.Errorf("media: %+v (a hidden one stays out)", photo.Enclosures)
			}
			if photo != nil && !(len(photo.Categories) == 2 && photo.Categories[1] == "hall") {
				t.Errorf("tags: %v", photo.Categories)
			}
			req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
			req.Header.Set("If-None-Match", etag)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match with the ETag: %s", resp.Status)
			}
		})
	}
	e.post("a new one")
	req, _ := http.NewRequest(http.MethodGet, e.url+"/walls/devconf/feed.json", nil)
	req.Header.Set("If-None-Match", etags["/walls/devconf/feed.json"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etags["/walls/devconf/feed.json"] {
		t.Errorf("after a new post: %s, ETag %s", resp.Status, resp.Header.Get("ETag"))
	}
	if resp, _ := http.Get(e.url + "/walls/nope/feed.atom"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown wall: %s", resp.Status)
	}
}
