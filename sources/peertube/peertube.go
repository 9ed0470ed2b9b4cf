// Package peertube is the source for PeerTube videos by tag. It polls an
// instance's video list (its own videos and those it federates) for the
// walls' hashtags, newest first, back to the newest video it stored, and
// reads each new video's details for its tags, full description and a
// file to play.
package peertube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is a peertube source's settings.
type Config struct {
	Name         string
	Instance     string // base URL
	LocalOnly    bool
	PollInterval time.Duration
	UserAgent    string
}

// Source polls one instance.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	recent *upstream.Recent

	mu    sync.Mutex
	after time.Time        // the newest publishedAt stored
	seen  *upstream.Window // the newest videos emitted, for edits and deletes
}

// New returns a peertube source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	cfg.Instance = strings.TrimRight(cfg.Instance, "/")
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), recent: upstream.NewRecent(4096), seen: upstream.NewWindow(pageSize)}
}

// pageSize is how many videos a list request asks for.
const pageSize = 50

type cursor struct {
	After time.Time        `json:"after"`
	Seen  *upstream.Window `json:"seen,omitempty"`
}

// video is the part of PeerTube's Video (and VideoDetails) a wall uses.
type video struct {
	UUID        string    `json:"uuid"`
	UpdatedAt   string    `json:"updatedAt"`
	ShortUUID   string    `json:"shortUUID"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	URL         string    `json:"url"`
	PublishedAt time.Time `json:"publishedAt"`
	PreviewPath string    `json:"previewPath"`
	Thumbnail   string    `json:"thumbnailPath"`
	NSFW        bool      `json:"nsfw"`
	Language    struct {
		ID string `json:"id"`
	} `json:"language"`
	Tags    []string `json:"tags"`
	Account struct {
		Name        string `json:"name"`
		Host        string `json:"host"`
		DisplayName string `json:"displayName"`
		URL         string `json:"url"`
		Avatars     []struct {
			Path  string `json:"path"`
			Width int    `json:"width"`
		} `json:"avatars"`
	} `json:"account"`
	Files              []file `json:"files"`
	StreamingPlaylists []struct {
		PlaylistURL string `json:"playlistUrl"`
		Files       []file `json:"files"`
	} `json:"streamingPlaylists"`
}

type file struct {
	Resolution struct {
		ID int `json:"id"`
	} `json:"resolution"`
	FileURL string `json:"fileUrl"`
}

// Run polls the walls' hashtags until ctx ends or a poll fails.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	if sub.Cursor != "" {
		var c cursor
		if err := json.Unmarshal([]byte(sub.Cursor), &c); err != nil {
			s.log.Warn("peertube: ignoring unreadable cursor", "err", err)
		}
		s.mu.Lock()
		if c.After.After(s.after) {
			s.after = c.After
		}
		if s.seen.Len() == 0 {
			s.seen.Take(c.Seen)
		}
		s.mu.Unlock()
	}
	if len(sub.Hashtags) == 0 {
		return upstream.Permanent(fmt.Errorf("peertube %s: no hashtags to follow", s.cfg.Name))
	}
	upstream.SetState(ctx, wall.StatePolling)
	return upstream.Poll(ctx, s.cfg.PollInterval, func() error { return s.poll(ctx, sub.Hashtags, emit) })
}

// poll reads the list newest first until it reaches what was stored, then
// emits the new videos oldest first. The newest page is also compared
// with the videos emitted before: a video updated since is read again
// and updated, one missing from the span the page covers (deleted, made
// private, its tag removed) is deleted.
func (s *Source) poll(ctx context.Context, tags []string, emit wall.Emit) error {
	s.mu.Lock()
	after := s.after
	s.mu.Unlock()
	var fresh, newest []video
	complete := false
	for start := 0; start < 500; start += pageSize {
		q := url.Values{"tagsOneOf": tags, "sort": {"-publishedAt"}, "count": {strconv.Itoa(pageSize)}, "start": {strconv.Itoa(start)}, "nsfw": {"both"}}
		if s.cfg.LocalOnly {
			q.Set("isLocal", "true")
		}
		var page struct {
			Total int     `json:"total"`
			Data  []video `json:"data"`
		}
		if err := s.get(ctx, "/api/v1/videos?"+q.Encode(), &page); err != nil {
			return err
		}
		if start == 0 {
			newest, complete = page.Data, len(page.Data) < pageSize
		}
		older := false
		for _, v := range page.Data {
			if v.PublishedAt.Before(after) {
				older = true
				break
			}
			fresh = append(fresh, v)
		}
		// A first run starts with the newest page only.
		if older || after.IsZero() || len(page.Data) < pageSize {
			break
		}
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		v := fresh[i]
		s.mu.Lock()
		known := s.seen.Has(v.UUID) // the newest stored, again: its edits are compared below
		s.mu.Unlock()
		if v.UUID == "" || known || s.recent.Has(v.UUID) {
			continue
		}
		if err := s.emitVideo(ctx, wall.ItemPost, v, emit); err != nil {
			return err
		}
		s.recent.Add(v.UUID)
	}
	page := make([]upstream.Seen, 0, len(newest))
	byID := map[string]video{}
	for _, v := range newest {
		if v.UUID != "" {
			page = append(page, seenOf(v))
			byID[v.UUID] = v
		}
	}
	s.mu.Lock()
	edited, gone := s.seen.Compare(page, complete)
	c, _ := json.Marshal(cursor{After: s.after, Seen: s.seen})
	s.mu.Unlock()
	for _, id := range gone {
		if err := emit(ctx, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: id}, Cursor: string(c)}); err != nil {
			return err
		}
	}
	for _, e := range edited {
		if err := s.emitVideo(ctx, wall.ItemUpdate, byID[e.ID], emit); err != nil {
			return err
		}
	}
	return nil
}

// emitVideo reads a listed video's details and emits it as a post or an
// update; one gone since the list (deleted, made private) is skipped.
func (s *Source) emitVideo(ctx context.Context, kind wall.ItemKind, v video, emit wall.Emit) error {
	var d video
	if err := s.get(ctx, "/api/v1/videos/"+url.PathEscape(v.UUID), &d); err != nil {
		var se *upstream.StatusError
		if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusForbidden) {
			return nil // the next look at the list deletes it
		}
		return err
	}
	s.mu.Lock()
	if v.PublishedAt.After(s.after) {
		s.after = v.PublishedAt
	}
	s.seen.Add(seenOf(v))
	c, _ := json.Marshal(cursor{After: s.after, Seen: s.seen})
	s.mu.Unlock()
	return emit(ctx, wall.Item{Kind: kind, Post: s.post(d), Cursor: string(c)})
}

// seenOf is a listed video as the window keeps it: its place is when it
// was published, its version when it was last updated.
func seenOf(v video) upstream.Seen {
	return upstream.Seen{ID: v.UUID, Rank: v.PublishedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"), Version: v.UpdatedAt}
}

// get reads one answer of the REST API.
func (s *Source) get(ctx context.Context, path string, out any) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.cfg.Instance+path, nil)
	if err != nil {
		return fmt.Errorf("peertube %s: %w", s.cfg.Name, err)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	defer upstream.Arm(ctx)()
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("peertube %s: %w", s.cfg.Name, err)
	}
	defer resp.Body.Close()
	if err := upstream.CheckResponse(resp); err != nil {
		return fmt.Errorf("peertube %s: %s: %w", s.cfg.Name, strings.SplitN(path, "?", 2)[0], err)
	}
	body, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	if err != nil {
		return fmt.Errorf("peertube %s: %w", s.cfg.Name, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("peertube %s: %s: not the API's JSON: %w", s.cfg.Name, strings.SplitN(path, "?", 2)[0], err)
	}
	return nil
}

// abs makes an instance path absolute.
func (s *Source) abs(p string) string {
	if p == "" || strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://") {
		return p
	}
	return s.cfg.Instance + p
}

// post maps a video's details: its title and description, its preview,
// and an MP4 to play (the smallest at 480p or more), else its HLS playlist.
func (s *Source) post(v video) wall.Post {
	var b strings.Builder
	b.WriteString("<p><strong>" + html.EscapeString(v.Name) + "</strong></p>")
	for _, para := range strings.Split(strings.TrimSpace(v.Description), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			b.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(para), "\n", "<br>") + "</p>")
		}
	}
	a := v.Account
	p := wall.Post{
		NativeID: v.UUID, Network: "peertube", URL: v.URL, HTML: b.String(),
		Tags: v.Tags, Sensitive: v.NSFW, Lang: v.Language.ID, CreatedAt: v.PublishedAt,
		Author: wall.Author{Name: a.DisplayName, Handle: "@" + a.Name + "@" + a.Host, URL: a.URL},
	}
	if p.URL == "" {
		p.URL = s.cfg.Instance + "/w/" + v.ShortUUID
	}
	if p.Author.Name == "" {
		p.Author.Name = a.Name
	}
	if av := a.Avatars; len(av) > 0 {
		best := slices.MaxFunc(av, func(x, y struct {
			Path  string `json:"path"`
			Width int    `json:"width"`
		}) int {
			return x.Width - y.Width
		})
		p.Author.Avatar = s.abs(best.Path)
	}
	preview := s.abs(v.PreviewPath)
	if preview == "" {
		preview = s.abs(v.Thumbnail)
	}
	files := v.Files
	hls := ""
	for _, sp := range v.StreamingPlaylists {
		files = append(files, sp.Files...)
		if hls == "" {
			hls = sp.PlaylistURL
		}
	}
	var pick *file
	for i := range files {
		f := &files[i]
		if f.FileURL == "" || f.Resolution.ID == 0 {
			continue // audio only
		}
		if pick == nil || (pick.Resolution.ID < 480 && f.Resolution.ID > pick.Resolution.ID) || (f.Resolution.ID >= 480 && f.Resolution.ID < pick.Resolution.ID) {
			pick = f
		}
	}
	switch {
	case pick != nil:
		p.Media = []wall.Media{{Type: "video", URL: pick.FileURL, Preview: preview, Alt: v.Name}}
	case hls != "":
		p.Media = []wall.Media{{Type: "video", URL: hls, Preview: preview, Alt: v.Name}}
	case preview != "":
		p.Media = []wall.Media{{Type: "image", URL: preview, Alt: v.Name}}
	}
	return p
}
