// Package rss is the source for RSS 2.0, Atom and JSON Feed. It polls with
// conditional GET and keeps the validators (ETag, Last-Modified) in its
// cursor, so a restart neither refetches an unchanged feed nor shows an
// item twice (ingest deduplicates by item id).
package rss

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is an rss source's settings.
type Config struct {
	Name      string
	URL       string
	Interval  time.Duration
	UserAgent string
}

// Source polls one feed.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	recent *upstream.Recent // items emitted lately
}

// New returns an rss source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), recent: upstream.NewRecent(4096)}
}

// cursor is what the source saves between polls and restarts.
type cursor struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Run polls the feed every interval until ctx ends. A failed poll returns
// its error, and the supervisor retries with backoff.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	var cur cursor
	if sub.Cursor != "" {
		if err := json.Unmarshal([]byte(sub.Cursor), &cur); err != nil {
			s.log.Warn("rss: ignoring unreadable cursor", "err", err)
		}
	}
	upstream.SetState(ctx, wall.StatePolling)
	for {
		if err := s.poll(ctx, &cur, emit); err != nil {
			return err
		}
		if err := upstream.Sleep(ctx, s.cfg.Interval); err != nil {
			return nil
		}
	}
}

func (s *Source) poll(ctx context.Context, cur *cursor, emit wall.Emit) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("rss %s: %w", s.cfg.Name, err)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
	if cur.ETag != "" {
		req.Header.Set("If-None-Match", cur.ETag)
	}
	if cur.LastModified != "" {
		req.Header.Set("If-Modified-Since", cur.LastModified)
	}
	disarm := upstream.Arm(ctx)
	defer disarm()
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("rss %s: fetch: %w", s.cfg.Name, err)
	}
	if resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		return nil
	}
	if err := upstream.CheckResponse(resp); err != nil {
		return fmt.Errorf("rss %s: fetch: %w", s.cfg.Name, err)
	}
	body, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	resp.Body.Close()
	disarm()
	if err != nil {
		return fmt.Errorf("rss %s: read: %w", s.cfg.Name, err)
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rss %s: parse: %w", s.cfg.Name, err)
	}
	// Validators are stored verbatim and sent back as they came.
	next := cursor{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	// A changed feed still holds the items of the last poll: emit only
	// those not emitted lately.
	var posts []wall.Post
	for _, p := range Posts(feed) {
		if !s.recent.Has(p.NativeID) {
			posts = append(posts, p)
		}
	}
	c, _ := json.Marshal(next)
	for i, p := range posts {
		item := wall.Item{Kind: wall.ItemPost, Post: p}
		if i == len(posts)-1 {
			item.Cursor = string(c)
		}
		if err := emit(ctx, item); err != nil {
			return err
		}
		s.recent.Add(p.NativeID)
	}
	if len(posts) == 0 {
		if err := emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: string(c)}); err != nil {
			return err
		}
	}
	*cur = next
	return nil
}

// Posts maps a parsed feed's items, oldest first (the order they were
// written). WebSub deliveries, which carry the feed itself, use it too.
func Posts(feed *gofeed.Feed) []wall.Post {
	posts := make([]wall.Post, 0, len(feed.Items))
	for _, it := range feed.Items {
		if it != nil {
			posts = append(posts, post(feed, it))
		}
	}
	sort.SliceStable(posts, func(i, j int) bool { return posts[i].CreatedAt.Before(posts[j].CreatedAt) })
	return posts
}

// post maps a feed item. The HTML is the feed's own; ingest sanitises it.
func post(feed *gofeed.Feed, it *gofeed.Item) wall.Post {
	p := wall.Post{
		NativeID: itemID(it),
		Network:  "rss",
		URL:      resolve(feed.Link, it.Link),
		Lang:     feed.Language,
	}
	switch {
	case it.PublishedParsed != nil:
		p.CreatedAt = *it.PublishedParsed
	case it.UpdatedParsed != nil:
		p.CreatedAt = *it.UpdatedParsed
	default:
		p.CreatedAt = time.Now()
	}
	p.Author.Name = feed.Title
	if a := firstAuthor(it); a != "" {
		p.Author.Name = a
	}
	if u, err := url.Parse(feed.Link); err == nil && u.Host != "" {
		p.Author.Handle = u.Host
		p.Author.URL = feed.Link
	}
	if feed.Image != nil {
		p.Author.Avatar = feed.Image.URL
	}
	body := it.Content
	if strings.TrimSpace(body) == "" {
		body = it.Description
	}
	if t := strings.TrimSpace(it.Title); t != "" && !strings.HasPrefix(match.Plain(body), t) {
		body = "<p><strong>" + html.EscapeString(t) + "</strong></p>" + body
	}
	p.HTML = body
	p.Tags = append(p.Tags, it.Categories...)
	for _, e := range it.Enclosures {
		if e == nil {
			continue
		}
		switch {
		case strings.HasPrefix(e.Type, "image/"):
			p.Media = append(p.Media, wall.Media{Type: "image", URL: e.URL})
		case strings.HasPrefix(e.Type, "video/"):
			p.Media = append(p.Media, wall.Media{Type: "video", URL: e.URL})
		}
	}
	if it.Image != nil && it.Image.URL != "" && len(p.Media) == 0 {
		p.Media = append(p.Media, wall.Media{Type: "image", URL: it.Image.URL, Alt: it.Image.Title})
	}
	return p
}

// itemID is the item's stable identity: its GUID, else its link, else a
// hash of its title and date.
func itemID(it *gofeed.Item) string {
	if id := strings.TrimSpace(it.GUID); id != "" {
		return id
	}
	if l := strings.TrimSpace(it.Link); l != "" {
		return l
	}
	h := sha256.Sum256([]byte(it.Title + "\x00" + it.Published + "\x00" + it.Description))
	return "sha256-" + hex.EncodeToString(h[:12])
}

func firstAuthor(it *gofeed.Item) string {
	if it.Author != nil && it.Author.Name != "" {
		return it.Author.Name
	}
	for _, a := range it.Authors {
		if a != nil && a.Name != "" {
			return a.Name
		}
	}
	return ""
}

func resolve(base, ref string) string {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return ""
	}
	b, err := url.Parse(base)
	if err != nil || r.IsAbs() {
		return r.String()
	}
	return b.ResolveReference(r).String()
}
