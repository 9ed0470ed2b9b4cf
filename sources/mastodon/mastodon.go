// Package mastodon is the source for Mastodon and compatible servers
// (GoToSocial, Akkoma). It follows each hashtag over the streaming API and,
// when streaming is refused or down, polls the hashtag timeline. After every
// (re)connect it fills the gap from the last status it stored, so a dropped
// connection loses nothing; ingest absorbs the overlap.
package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// Config is a mastodon source's settings.
type Config struct {
	Name           string
	Instance       string // base URL
	AccessToken    string
	Stream         bool // false: poll only
	PollInterval   time.Duration
	LocalOnly      bool
	IncludeReplies bool
	IncludeBoosts  bool
	UserAgent      string
}

// Source follows hashtags on one server.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	host   string

	mu     sync.Mutex
	since  map[string]string // tag -> newest status id stored
	recent *upstream.Recent  // ids emitted lately, across reconnects
}

// New returns a mastodon source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	cfg.Instance = strings.TrimRight(cfg.Instance, "/")
	host := cfg.Instance
	if u, err := url.Parse(cfg.Instance); err == nil {
		host = u.Host
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), host: host, recent: upstream.NewRecent(4096)}
}

// cursor is the newest status id seen per hashtag.
type cursor struct {
	Since map[string]string `json:"since"`
}

// Run follows every hashtag of the subscription until ctx ends or one of
// them fails; the supervisor then restarts all of them, gap fill first.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	var cur cursor
	if sub.Cursor != "" {
		if err := json.Unmarshal([]byte(sub.Cursor), &cur); err != nil {
			s.log.Warn("mastodon: ignoring unreadable cursor", "err", err)
		}
	}
	// The saved cursor may lag what this source saw before a restart (its
	// last items may still be on their way to disk): keep the newer.
	s.mu.Lock()
	if s.since == nil {
		s.since = map[string]string{}
	}
	for k, v := range cur.Since {
		if upstream.NewerID(v, s.since[k]) {
			s.since[k] = v
		}
	}
	s.mu.Unlock()
	if len(sub.Hashtags) == 0 {
		return upstream.Permanent(fmt.Errorf("mastodon %s: no hashtags to follow", s.cfg.Name))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, tag := range sub.Hashtags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.follow(ctx, tag, emit); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// follow fills the gap for one tag, then streams it (or polls it).
func (s *Source) follow(ctx context.Context, tag string, emit wall.Emit) error {
	if err := s.fill(ctx, tag, emit); err != nil {
		return err
	}
	if s.cfg.Stream {
		err := s.stream(ctx, tag, emit)
		var se *upstream.StatusError
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.As(err, &se) && s.cfg.AccessToken == "" && (se.Code == 401 || se.Code == 403):
			s.log.Warn("mastodon: the server refuses streaming without a user token; polling instead", "tag", tag, "every", s.cfg.PollInterval)
		case errors.As(err, &se) && (se.Code == 404 || se.Code == 410 || se.Code == 501):
			s.log.Warn("mastodon: streaming is not available on this server; polling instead", "tag", tag, "status", se.Code)
		default:
			return err
		}
	}
	return upstream.Poll(ctx, s.cfg.PollInterval, func() error { return s.fill(ctx, tag, emit) })
}

func (s *Source) authorize(req *http.Request) {
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	if s.cfg.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.AccessToken)
	}
}

// checkStatus adds Mastodon's own rate-limit headers and the scope hint to
// the common checks.
func (s *Source) checkStatus(resp *http.Response) error {
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		if d, ok := untilReset(resp.Header.Get("X-RateLimit-Reset")); ok {
			resp.Header.Set("Retry-After", strconv.Itoa(int(d.Seconds())+1))
		}
	}
	err := upstream.CheckResponse(resp)
	var pe *upstream.PermanentError
	if errors.As(err, &pe) && s.cfg.AccessToken != "" {
		return upstream.Permanent(fmt.Errorf("%w: the access token was refused; it needs the read:statuses scope (Preferences → Development → your application)", err))
	}
	return err
}

// untilReset reads X-RateLimit-Reset, an ISO 8601 time.
func untilReset(v string) (time.Duration, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return 0, false
	}
	return max(time.Until(t), 0), true
}

// fill fetches the statuses newer than the last one stored for this tag,
// page by page (40 each), and emits them oldest first. With nothing stored
// yet it fetches the newest page, so a new wall starts with recent posts.
func (s *Source) fill(ctx context.Context, tag string, emit wall.Emit) error {
	for page := 0; page < 25; page++ {
		since := s.sinceOf(tag)
		q := url.Values{"limit": {"40"}}
		if since != "" {
			q.Set("min_id", since)
		}
		if s.cfg.LocalOnly {
			q.Set("local", "true")
		}
		u := fmt.Sprintf("%s/api/v1/timelines/tag/%s?%s", s.cfg.Instance, url.PathEscape(tag), q.Encode())
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
		if err != nil {
			cancel()
			return fmt.Errorf("mastodon %s: %w", s.cfg.Name, err)
		}
		s.authorize(req)
		disarm := upstream.Arm(ctx)
		resp, err := s.client.Do(req)
		if err != nil {
			disarm()
			cancel()
			return fmt.Errorf("mastodon %s: timeline #%s: %w", s.cfg.Name, tag, err)
		}
		if err := s.checkStatus(resp); err != nil {
			disarm()
			cancel()
			return fmt.Errorf("mastodon %s: timeline #%s: %w", s.cfg.Name, tag, err)
		}
		body, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
		resp.Body.Close()
		disarm()
		cancel()
		if err != nil {
			return fmt.Errorf("mastodon %s: timeline #%s: %w", s.cfg.Name, tag, err)
		}
		var statuses []json.RawMessage
		if err := json.Unmarshal(body, &statuses); err != nil {
			return fmt.Errorf("mastodon %s: timeline #%s: not a list of statuses: %w", s.cfg.Name, tag, err)
		}
		// The page comes newest first.
		for i := len(statuses) - 1; i >= 0; i-- {
			if err := s.emitStatus(ctx, tag, wall.ItemPost, statuses[i], emit); err != nil {
				return err
			}
		}
		// Slow down before the budget is spent, not after.
		if rem, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining")); err == nil && rem <= 1 {
			if d, ok := untilReset(resp.Header.Get("X-RateLimit-Reset")); ok {
				s.log.Info("mastodon: rate limit nearly spent, waiting for reset", "in", d.Round(time.Second))
				if err := upstream.Sleep(ctx, d); err != nil {
					return nil
				}
			}
		}
		if since == "" || len(statuses) < 40 {
			return nil
		}
	}
	return nil
}

// stream follows the hashtag's streaming timeline until it ends.
func (s *Source) stream(ctx context.Context, tag string, emit wall.Emit) error {
	path := "/api/v1/streaming/hashtag"
	if s.cfg.LocalOnly {
		path += "/local"
	}
	u := s.cfg.Instance + path + "?" + url.Values{"tag": {tag}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("mastodon %s: %w", s.cfg.Name, err)
	}
	s.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mastodon %s: stream #%s: %w", s.cfg.Name, tag, err)
	}
	defer resp.Body.Close()
	if err := s.checkStatus(resp); err != nil {
		return fmt.Errorf("mastodon %s: stream #%s: %w", s.cfg.Name, tag, err)
	}
	upstream.SetState(ctx, wall.StateConnected)
	defer upstream.Arm(ctx)() // Mastodon sends ":thump" every 15 s
	// The stream sends only what comes after it opened: fill what was
	// posted between the last fill and now (repeats are skipped).
	if err := s.fill(ctx, tag, emit); err != nil {
		return err
	}
	r := sse.NewReader(upstream.AliveReader(ctx, resp.Body))
	for {
		ev, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mastodon %s: stream #%s ended: %w", s.cfg.Name, tag, err)
		}
		switch ev.Type {
		case "update":
			err = s.emitStatus(ctx, tag, wall.ItemPost, json.RawMessage(ev.Data), emit)
		case "status.update":
			err = s.emitStatus(ctx, tag, wall.ItemUpdate, json.RawMessage(ev.Data), emit)
		case "delete":
			id := strings.Trim(strings.TrimSpace(ev.Data), `"`)
			if id != "" {
				err = emit(ctx, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: id}})
			}
		}
		if err != nil {
			return err
		}
	}
}

func (s *Source) sinceOf(tag string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since[tag]
}

// advance records a status id as seen and returns the cursor to save.
func (s *Source) advance(tag, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if upstream.NewerID(id, s.since[tag]) {
		s.since[tag] = id
	}
	c, _ := json.Marshal(cursor{Since: s.since})
	return string(c)
}

// emitStatus maps and emits one status; a malformed one is logged and skipped.
func (s *Source) emitStatus(ctx context.Context, tag string, kind wall.ItemKind, raw json.RawMessage, emit wall.Emit) error {
	var st status
	if err := json.Unmarshal(raw, &st); err != nil || st.ID == "" {
		s.log.Warn("mastodon: malformed status skipped", "tag", tag, "err", err, "bytes", len(raw))
		return nil
	}
	cur := s.advance(tag, st.ID)
	p, ok := s.post(st)
	if kind == wall.ItemPost && s.recent.Has(st.ID) {
		ok = false // the stream and a gap fill both had it
	}
	if !ok {
		return emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: cur})
	}
	if err := emit(ctx, wall.Item{Kind: kind, Post: p, Cursor: cur}); err != nil {
		return err
	}
	s.recent.Add(st.ID)
	return nil
}
