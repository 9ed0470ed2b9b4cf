// Package reddit is the source for Reddit: application-only OAuth2
// (client credentials), polling the newest posts of subreddits (and
// optionally a search in them) with a "before" cursor, within Reddit's
// rate-limit budget.
package reddit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is a reddit source's settings.
type Config struct {
	Name         string
	ClientID     string
	ClientSecret string
	UserAgent    string // Reddit blocks generic agents
	Subreddits   []string
	Query        string
	TokenURL     string
	APIBase      string
	Interval     time.Duration
}

// Source polls Reddit.
type Source struct {
	cfg  Config
	base *http.Client // carries the User-Agent, for the token and the API
	log  *slog.Logger

	mu     sync.Mutex
	client *http.Client // with the token
	before map[string]string
	empty  map[string]int // polls in a row that found nothing after the anchor
}

// New returns a reddit source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	base := *client
	base.Transport = userAgent{ua: cfg.UserAgent, next: transportOf(client)}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	s := &Source{cfg: cfg, base: &base, log: log.With("source", cfg.Name), before: map[string]string{}, empty: map[string]int{}}
	s.resetToken()
	return s
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// resetToken starts a new token source: the next request fetches a fresh
// token (after a 401, when the cached one was revoked).
func (s *Source) resetToken() {
	cc := clientcredentials.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, TokenURL: s.cfg.TokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.base)
	s.mu.Lock()
	s.client = oauth2.NewClient(ctx, cc.TokenSource(ctx))
	s.mu.Unlock()
}

type cursor struct {
	Before map[string]string `json:"before"`
}

// Run polls every interval until ctx ends.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	if sub.Cursor != "" {
		var c cursor
		if err := json.Unmarshal([]byte(sub.Cursor), &c); err == nil {
			s.mu.Lock()
			for k, v := range c.Before {
				s.before[k] = v
			}
			s.mu.Unlock()
		}
	}
	upstream.SetState(ctx, wall.StatePolling)
	subs := make([]string, len(s.cfg.Subreddits))
	for i, r := range s.cfg.Subreddits {
		subs[i] = strings.TrimPrefix(r, "r/")
	}
	path := "/r/" + strings.Join(subs, "+")
	for {
		wait := s.cfg.Interval
		d, err := s.poll(ctx, "new", path+"/new", url.Values{}, emit)
		if err != nil {
			return stopped(ctx, err)
		}
		wait = max(wait, d)
		if s.cfg.Query != "" {
			d, err := s.poll(ctx, "search", path+"/search", url.Values{"q": {s.cfg.Query}, "sort": {"new"}, "restrict_sr": {"1"}}, emit)
			if err != nil {
				return stopped(ctx, err)
			}
			wait = max(wait, d)
		}
		if err := upstream.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

// reanchorAfter is how many empty polls make the anchor suspect.
const reanchorAfter = 5

// stopped hides the error of a request cut short by the end of ctx.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type listing struct {
	Data struct {
		Children []struct {
			Kind string `json:"kind"`
			Data post   `json:"data"`
		} `json:"children"`
	} `json:"data"`
}

// poll reads one listing newer than the last seen, and returns how long
// the rate limit asks to wait before the next request.
func (s *Source) poll(ctx context.Context, key, path string, q url.Values, emit wall.Emit) (time.Duration, error) {
	s.mu.Lock()
	before := s.before[key]
	// Reddit answers "nothing newer" forever when the anchor post was
	// deleted: after a few empty polls, anchor again on the newest posts
	// (dedup absorbs the ones already shown).
	if before != "" && s.empty[key] >= reanchorAfter {
		s.log.Info("reddit: nothing after the anchor for a while; anchoring on the newest posts", "listing", key, "anchor", before)
		before = ""
		s.empty[key] = 0
	}
	s.mu.Unlock()
	q.Set("limit", "100")
	q.Set("raw_json", "1")
	if before != "" {
		q.Set("before", before)
	} else {
		q.Set("limit", "25") // a new wall starts with the latest posts
	}
	var l listing
	wait, err := s.get(ctx, path, q, &l, true)
	if err != nil {
		return 0, err
	}
	kids := l.Data.Children
	s.mu.Lock()
	if before != "" && len(kids) == 0 {
		s.empty[key]++
	} else {
		s.empty[key] = 0
	}
	s.mu.Unlock()
	for i := len(kids) - 1; i >= 0; i-- { // oldest first
		if kids[i].Kind != "t3" || kids[i].Data.Name == "" {
			continue
		}
		p := kids[i].Data
		s.mu.Lock()
		s.before[key] = p.Name
		c, _ := json.Marshal(cursor{Before: s.before})
		s.mu.Unlock()
		if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p.toPost(), Cursor: string(c)}); err != nil {
			return 0, err
		}
	}
	return wait, nil
}

// get does one API call. A 401 gets a fresh token and one more try.
func (s *Source) get(ctx context.Context, path string, q url.Values, out any, retry bool) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.cfg.APIBase+path+"?"+q.Encode(), nil)
	if err != nil {
		return 0, fmt.Errorf("reddit %s: %w", s.cfg.Name, err)
	}
	s.mu.Lock()
	client := s.client
	s.mu.Unlock()
	defer upstream.Arm(ctx)()
	resp, err := client.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.Response.StatusCode == 401 || re.Response.StatusCode == 400) {
			return 0, upstream.Permanent(fmt.Errorf("reddit %s: the token endpoint refused client_id/client_secret: %w", s.cfg.Name, err))
		}
		return 0, fmt.Errorf("reddit %s: %s: %w", s.cfg.Name, path, err)
	}
	defer resp.Body.Close()
	wait := budget(resp.Header)
	if resp.StatusCode == http.StatusUnauthorized && retry {
		s.log.Info("reddit: token refused; fetching a new one")
		s.resetToken()
		return s.get(ctx, path, q, out, false)
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		resp.Header.Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	}
	if err := upstream.CheckResponse(resp); err != nil {
		return 0, fmt.Errorf("reddit %s: %s: %w", s.cfg.Name, path, err)
	}
	b, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	if err != nil {
		return 0, fmt.Errorf("reddit %s: %s: %w", s.cfg.Name, path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return 0, fmt.Errorf("reddit %s: %s: not a listing: %w", s.cfg.Name, path, err)
	}
	return wait, nil
}

// budget reads Reddit's rate-limit headers and returns how long to wait so
// that the remaining requests last until the window resets: nothing while
// plenty are left, the whole reset when almost none are.
func budget(h http.Header) time.Duration {
	rem, err1 := strconv.ParseFloat(h.Get("X-Ratelimit-Remaining"), 64)
	reset, err2 := strconv.ParseFloat(h.Get("X-Ratelimit-Reset"), 64)
	if err1 != nil || err2 != nil || reset <= 0 {
		return 0
	}
	if rem < 1 {
		return time.Duration(reset * float64(time.Second))
	}
	// Spread what is left over the rest of the window.
	per := reset / rem
	if rem > 20 {
		return 0
	}
	return time.Duration(math.Ceil(per)) * time.Second
}

// post is the part of a t3 (link) a wall uses.
type post struct {
	Name                  string  `json:"name"`
	Title                 string  `json:"title"`
	SelftextHTML          *string `json:"selftext_html"`
	URL                   string  `json:"url"`
	Permalink             string  `json:"permalink"`
	Author                string  `json:"author"`
	Subreddit             string  `json:"subreddit"`
	CreatedUTC            float64 `json:"created_utc"`
	Over18                bool    `json:"over_18"`
	Spoiler               bool    `json:"spoiler"`
	Score                 int     `json:"score"`
	IsSelf                bool    `json:"is_self"`
	Domain                string  `json:"domain"`
	SubredditNamePrefixed string  `json:"subreddit_name_prefixed"`
	Preview               *struct {
		Images []struct {
			Source struct {
				URL string `json:"url"`
			} `json:"source"`
		} `json:"images"`
	} `json:"preview"`
	// A gallery: its items in order, each a key of media_metadata.
	IsGallery   bool `json:"is_gallery"`
	GalleryData *struct {
		Items []struct {
			MediaID string `json:"media_id"`
			Caption string `json:"caption"`
		} `json:"items"`
	} `json:"gallery_data"`
	MediaMetadata map[string]struct {
		Status string `json:"status"` // valid, or failed/unprocessed
		E      string `json:"e"`      // Image, AnimatedImage
		S      struct {
			U   string `json:"u"`   // an image
			MP4 string `json:"mp4"` // an animated one
		} `json:"s"`
	} `json:"media_metadata"`
	// A video hosted by Reddit: its MP4 without sound (fallback_url) plays
	// everywhere; a wall never plays sound.
	IsVideo     bool `json:"is_video"`
	SecureMedia *struct {
		RedditVideo *struct {
			FallbackURL string `json:"fallback_url"`
			IsGIF       bool   `json:"is_gif"`
		} `json:"reddit_video"`
	} `json:"secure_media"`
}

func (p post) toPost() wall.Post {
	out := wall.Post{
		NativeID:  p.Name,
		Network:   "reddit",
		URL:       "https://www.reddit.com" + p.Permalink,
		Sensitive: p.Over18,
		CreatedAt: time.Unix(int64(p.CreatedUTC), 0).UTC(),
		Author:    wall.Author{Name: "u/" + p.Author, Handle: "u/" + p.Author, URL: "https://www.reddit.com/user/" + url.PathEscape(p.Author)},
		Tags:      []string{p.Subreddit},
	}
	if p.Spoiler {
		out.ContentWarning = "Spoiler"
	}
	var b strings.Builder
	b.WriteString("<p><strong>" + html.EscapeString(p.Title) + "</strong></p>")
	if p.SelftextHTML != nil {
		// Reddit sends the self text's HTML entity-escaped.
		b.WriteString(html.UnescapeString(*p.SelftextHTML))
	}
	if !p.IsSelf && p.URL != "" {
		b.WriteString(`<p><a href="` + html.EscapeString(p.URL) + `">` + html.EscapeString(p.Domain) + `</a></p>`)
	}
	fmt.Fprintf(&b, "<p>%s · %d points</p>", html.EscapeString(p.SubredditNamePrefixed), p.Score)
	out.HTML = b.String()
	preview := ""
	if p.Preview != nil && len(p.Preview.Images) > 0 {
		preview = html.UnescapeString(p.Preview.Images[0].Source.URL)
	}
	switch {
	case p.IsGallery && p.GalleryData != nil:
		for _, it := range p.GalleryData.Items {
			m, ok := p.MediaMetadata[it.MediaID]
			if !ok || m.Status != "valid" {
				continue
			}
			alt := it.Caption
			if alt == "" {
				alt = p.Title
			}
			if m.E == "AnimatedImage" && m.S.MP4 != "" {
				out.Media = append(out.Media, wall.Media{Type: "gifv", URL: html.UnescapeString(m.S.MP4), Alt: alt})
			} else if m.S.U != "" {
				out.Media = append(out.Media, wall.Media{Type: "image", URL: html.UnescapeString(m.S.U), Alt: alt})
			}
		}
	case p.IsVideo && p.SecureMedia != nil && p.SecureMedia.RedditVideo != nil && p.SecureMedia.RedditVideo.FallbackURL != "":
		typ := "video"
		if p.SecureMedia.RedditVideo.IsGIF {
			typ = "gifv"
		}
		out.Media = []wall.Media{{Type: typ, URL: html.UnescapeString(p.SecureMedia.RedditVideo.FallbackURL), Preview: preview, Alt: p.Title}}
	case preview != "":
		out.Media = []wall.Media{{Type: "image", URL: preview, Alt: p.Title}}
	}
	return out
}
