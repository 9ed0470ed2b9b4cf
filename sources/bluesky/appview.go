package bluesky

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// profile is the part of app.bsky.actor.defs#profileViewDetailed we use.
type profile struct {
	DID         string `json:"did"`
	Handle      string `json:"handle"`
	DisplayName string `json:"displayName"`
	Avatar      string `json:"avatar"`
}

type cachedProfile struct {
	p   profile
	exp time.Time
}

// profileCache keeps profiles for a while: the same people post many times
// during an event.
type profileCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedProfile
}

func newProfileCache(ttl time.Duration) *profileCache {
	return &profileCache{ttl: ttl, m: map[string]cachedProfile{}}
}

func (c *profileCache) get(did string) (profile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[did]
	if !ok || time.Now().After(e.exp) {
		return profile{}, false
	}
	return e.p, true
}

func (c *profileCache) put(p profile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 50000 {
		clear(c.m)
	}
	c.m[p.DID] = cachedProfile{p: p, exp: time.Now().Add(c.ttl)}
}

// pending is an item waiting for its author's profile.
type pending struct {
	item wall.Item
	did  string // "" when no profile is needed
}

// enricher batches matched posts, resolves their authors with one
// getProfiles call per batch (up to 25 actors), and emits them in order.
// It runs beside the read loop so the firehose never waits for the AppView.
type enricher struct {
	s    *Source
	in   chan pending
	emit wall.Emit
}

func (e *enricher) add(ctx context.Context, p pending) error {
	select {
	case e.in <- p:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (e *enricher) run(ctx context.Context) error {
	for {
		p, ok := <-e.in
		if !ok {
			return nil
		}
		batch := []pending{p}
		// Take what else is waiting, up to a batch.
	more:
		for len(batch) < 25 {
			select {
			case p, ok := <-e.in:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		e.s.resolve(ctx, batch)
		for _, p := range batch {
			if err := e.emit(ctx, p.item); err != nil {
				return err
			}
			if p.item.Kind == wall.ItemPost {
				e.s.recent.Add(p.item.Post.NativeID)
			}
		}
	}
}

// resolve fills in the authors of a batch from the cache and the AppView.
// If the AppView fails, posts go out with the DID as the author.
func (s *Source) resolve(ctx context.Context, batch []pending) {
	var missing []string
	seen := map[string]bool{}
	for _, p := range batch {
		if p.did == "" || seen[p.did] {
			continue
		}
		seen[p.did] = true
		if _, ok := s.profiles.get(p.did); !ok {
			missing = append(missing, p.did)
		}
	}
	if len(missing) > 0 {
		if err := s.fetchProfiles(ctx, missing); err != nil {
			s.log.Warn("bluesky: profiles unavailable; showing DIDs", "err", err)
		}
	}
	for i := range batch {
		p := &batch[i]
		if pr, ok := s.profiles.get(p.did); ok {
			applyProfile(&p.item.Post, pr)
		}
	}
}

func applyProfile(post *wall.Post, pr profile) {
	post.Author.Handle = "@" + pr.Handle
	post.Author.Name = pr.DisplayName
	if strings.TrimSpace(post.Author.Name) == "" {
		post.Author.Name = pr.Handle
	}
	post.Author.Avatar = pr.Avatar
	post.Author.URL = "https://bsky.app/profile/" + pr.Handle
}

func (s *Source) fetchProfiles(ctx context.Context, dids []string) error {
	q := url.Values{}
	for _, d := range dids {
		q.Add("actors", d)
	}
	var out struct {
		Profiles []profile `json:"profiles"`
	}
	if err := s.xrpc(ctx, http.MethodGet, s.cfg.AppView, "app.bsky.actor.getProfiles", q, nil, "", &out); err != nil {
		return err
	}
	for _, p := range out.Profiles {
		if p.DID != "" && p.Handle != "" {
			s.profiles.put(p)
		}
	}
	return nil
}

// xrpc calls one XRPC method and decodes its JSON answer.
func (s *Source) xrpc(ctx context.Context, method, base, nsid string, q url.Values, body any, token string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	u := base + "/xrpc/" + nsid
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return fmt.Errorf("bluesky %s: %s: %w", s.cfg.Name, nsid, err)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("bluesky %s: %s: %w", s.cfg.Name, nsid, err)
	}
	defer resp.Body.Close()
	// Bluesky's rate-limit headers: ratelimit-reset is a unix time.
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		if n, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil {
			resp.Header.Set("Retry-After", strconv.FormatInt(max(n-time.Now().Unix(), 0)+1, 10))
		}
	}
	if err := upstream.CheckResponse(resp); err != nil {
		return fmt.Errorf("bluesky %s: %s: %w", s.cfg.Name, nsid, err)
	}
	b, err := upstream.ReadBody(resp.Body)
	if err != nil {
		return fmt.Errorf("bluesky %s: %s: %w", s.cfg.Name, nsid, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("bluesky %s: %s: bad answer: %w", s.cfg.Name, nsid, err)
	}
	return nil
}

// session is an authenticated PDS session, kept across reconnects so the
// source does not spend its login budget (createSession is tightly rate
// limited) and refreshed before the access token expires.
type session struct {
	mu      sync.Mutex
	access  string
	refresh string
	exp     time.Time
}

type sessionAnswer struct {
	AccessJwt  string `json:"accessJwt"`
	RefreshJwt string `json:"refreshJwt"`
}

// token returns a valid access token, refreshing or logging in as needed.
func (s *Source) token(ctx context.Context) (string, error) {
	ss := &s.session
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.access != "" && time.Until(ss.exp) > 5*time.Minute {
		return ss.access, nil
	}
	var ans sessionAnswer
	var err error
	if ss.refresh != "" {
		err = s.xrpc(ctx, http.MethodPost, s.cfg.PDS, "com.atproto.server.refreshSession", nil, nil, ss.refresh, &ans)
		if err != nil {
			s.log.Info("bluesky: session refresh failed; logging in again", "err", err)
		}
	}
	if ss.refresh == "" || err != nil {
		body := map[string]string{"identifier": s.cfg.Identifier, "password": s.cfg.AppPassword}
		if err := s.xrpc(ctx, http.MethodPost, s.cfg.PDS, "com.atproto.server.createSession", nil, body, "", &ans); err != nil {
			return "", err
		}
	}
	ss.access, ss.refresh = ans.AccessJwt, ans.RefreshJwt
	ss.exp = jwtExpiry(ans.AccessJwt)
	return ss.access, nil
}

// jwtExpiry reads the exp claim of a JWT without verifying it (the PDS
// verifies; we only plan the refresh). Unknown: assume 15 minutes.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var c struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(b, &c) == nil && c.Exp > 0 {
				return time.Unix(c.Exp, 0)
			}
		}
	}
	return time.Now().Add(15 * time.Minute)
}

// postView is the part of app.bsky.feed.defs#postView we use.
type postView struct {
	URI    string  `json:"uri"`
	Author profile `json:"author"`
	Record record  `json:"record"`
}

// backfill fills a new wall with recent posts: a people source's from
// their feeds, others' from search, which needs an authenticated session
// (without credentials it does nothing).
func (s *Source) backfill(ctx context.Context, sub wall.Subscription, dids []string, emit wall.Emit) error {
	if len(dids) > 0 {
		return s.authorFeeds(ctx, dids, emit)
	}
	if s.cfg.Identifier == "" || s.cfg.AppPassword == "" {
		s.log.Info("bluesky: no identifier/app_password: the wall starts from live posts only")
		return nil
	}
	var queries []string
	for _, t := range sub.Hashtags {
		queries = append(queries, "#"+t)
	}
	for _, k := range sub.Keywords {
		queries = append(queries, `"`+k+`"`)
	}
	for _, q := range queries {
		tok, err := s.token(ctx)
		if err != nil {
			return err
		}
		var out struct {
			Posts []postView `json:"posts"`
		}
		params := url.Values{"q": {q}, "sort": {"latest"}, "limit": {"50"}}
		if err := s.xrpc(ctx, http.MethodGet, s.cfg.PDS, "app.bsky.feed.searchPosts", params, nil, tok, &out); err != nil {
			return err
		}
		for i := len(out.Posts) - 1; i >= 0; i-- { // oldest first
			pv := out.Posts[i]
			did, rkey, ok := splitURI(pv.URI)
			if !ok {
				continue
			}
			p := s.post(did, rkey, &pv.Record)
			if pv.Author.Handle != "" {
				applyProfile(&p, pv.Author)
			}
			if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p}); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitURI parses at://did/app.bsky.feed.post/rkey.
func splitURI(uri string) (did, rkey string, ok bool) {
	rest, found := strings.CutPrefix(uri, "at://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != "app.bsky.feed.post" || parts[0] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}
