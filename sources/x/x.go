// Package x is the source for X (Twitter) through its API v2: the filtered
// stream, with one rule per wall reconciled from the config at start, and
// recent search to fill gaps after a reconnect or to poll when the account
// cannot stream.
package x

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is an x source's settings.
type Config struct {
	Name         string
	BearerToken  string
	APIBase      string // https://api.x.com
	Stream       bool   // false: poll recent search only
	PollInterval time.Duration
	UserAgent    string
	// Accounts (handles, without @) make the source follow people: each
	// wall's rule is from: them instead of its hashtags.
	Accounts []string
}

// Source follows X.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	sinceID string
	fails   map[string]int   // consecutive failures per class, for X's schedule
	polling bool             // the account cannot stream: poll search
	recent  *upstream.Recent // tweets emitted lately, by stream or search
}

// New returns an x source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), fails: map[string]int{}, polling: !cfg.Stream, recent: upstream.NewRecent(4096)}
}

// The fields every tweet is asked with.
var fields = url.Values{
	"tweet.fields": {"created_at,lang,possibly_sensitive,entities,referenced_tweets,attachments,author_id"},
	"expansions":   {"author_id,attachments.media_keys"},
	"user.fields":  {"name,username,profile_image_url"},
	"media.fields": {"url,preview_image_url,type,alt_text,variants"},
}

type cursor struct {
	SinceID string `json:"since_id"`
}

// Classes of failure, each with X's own reconnection schedule.
const (
	classNetwork   = "network"
	classHTTP      = "http"
	classRateLimit = "ratelimit"
)

// Backoff is X's reconnection schedule for the n-th consecutive failure
// (n from 1): network errors back off linearly by 250 ms up to 16 s, HTTP
// errors exponentially from 5 s up to 320 s, rate limits exponentially
// from a minute.
func Backoff(class string, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	switch class {
	case classNetwork:
		return min(time.Duration(n)*250*time.Millisecond, 16*time.Second)
	case classRateLimit:
		return time.Minute << min(n-1, 6)
	default:
		return min(5*time.Second<<min(n-1, 10), 320*time.Second)
	}
}

// retry records a failure of a class and returns the error that tells the
// supervisor exactly when to come back; atLeast raises the wait (a
// rate-limit reset time).
func (s *Source) retry(class string, err error, atLeast time.Duration) error {
	s.mu.Lock()
	s.fails[class]++
	d := Backoff(class, s.fails[class])
	s.mu.Unlock()
	return upstream.RetryExactly(err, max(d, atLeast))
}

func (s *Source) connected() {
	s.mu.Lock()
	clear(s.fails)
	s.mu.Unlock()
}

// Run reconciles the rules, fills the gap since the last stored tweet, and
// follows the stream; or polls recent search when the account cannot stream.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	if sub.Cursor != "" {
		var c cursor
		if json.Unmarshal([]byte(sub.Cursor), &c) == nil && upstream.NewerID(c.SinceID, s.since()) {
			s.mu.Lock()
			s.sinceID = c.SinceID
			s.mu.Unlock()
		}
	}
	rules := Rules(sub.Walls, s.cfg.Accounts...)
	if len(rules) == 0 {
		return upstream.Permanent(fmt.Errorf("x %s: no wall gives hashtags or keywords to follow", s.cfg.Name))
	}
	s.mu.Lock()
	polling := s.polling
	s.mu.Unlock()
	if !polling {
		if err := s.reconcile(ctx, rules); err != nil {
			return err
		}
	}
	if err := s.fill(ctx, rules, emit); err != nil {
		return err
	}
	if !polling {
		err := s.stream(ctx, rules, emit)
		var se *upstream.StatusError
		if errors.As(err, &se) && se.Code == http.StatusForbidden && strings.Contains(se.Body, "client-not-enrolled") {
			s.log.Warn("x: this account cannot use the filtered stream (plan or credits); polling recent search instead", "every", s.cfg.PollInterval)
			s.mu.Lock()
			s.polling = true
			s.mu.Unlock()
		} else {
			return err
		}
	}
	return upstream.Poll(ctx, s.cfg.PollInterval, func() error { return s.fill(ctx, rules, emit) })
}

// Rule is one filtered-stream rule: one per wall, tagged with its slug.
type Rule struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
	Tag   string `json:"tag"`
}

const tagPrefix = "wallcast:"

// Rules builds the rules the walls want: their hashtags and keywords ORed
// (or, for a source that follows accounts, from: each of them; which of
// their posts a wall shows is its match), without retweets or replies
// when the wall hides them.
func Rules(walls []wall.WallWants, accounts ...string) []Rule {
	var out []Rule
	for _, w := range walls {
		var terms []string
		for _, a := range accounts {
			terms = append(terms, "from:"+strings.TrimPrefix(a, "@"))
		}
		if len(accounts) == 0 {
			for _, h := range w.Hashtags {
				terms = append(terms, "#"+h)
			}
			for _, k := range w.Keywords {
				terms = append(terms, strconv.Quote(k))
			}
		}
		if len(terms) == 0 {
			continue
		}
		sort.Strings(terms)
		v := strings.Join(terms, " OR ")
		if len(terms) > 1 {
			v = "(" + v + ")"
		}
		if w.HideReposts {
			v += " -is:retweet"
		}
		if w.HideReplies {
			v += " -is:reply"
		}
		out = append(out, Rule{Value: v, Tag: tagPrefix + w.Slug})
	}
	return out
}

// reconcile makes the stream's rules the ones the config wants: it deletes
// our rules that are no longer wanted and adds those missing. Rules that
// another tool created (other tags) are left alone.
func (s *Source) reconcile(ctx context.Context, want []Rule) error {
	var cur struct {
		Data []Rule `json:"data"`
	}
	if err := s.call(ctx, http.MethodGet, "/2/tweets/search/stream/rules", nil, nil, &cur); err != nil {
		return err
	}
	have := map[string]bool{}
	var del []string
	for _, r := range cur.Data {
		if !strings.HasPrefix(r.Tag, tagPrefix) {
			continue
		}
		keep := false
		for _, w := range want {
			keep = keep || (w.Value == r.Value && w.Tag == r.Tag)
		}
		if keep && !have[r.Tag+"\x00"+r.Value] {
			have[r.Tag+"\x00"+r.Value] = true
		} else {
			del = append(del, r.ID)
		}
	}
	if len(del) > 0 {
		body := map[string]any{"delete": map[string]any{"ids": del}}
		if err := s.call(ctx, http.MethodPost, "/2/tweets/search/stream/rules", nil, body, nil); err != nil {
			return err
		}
	}
	var add []Rule
	for _, w := range want {
		if !have[w.Tag+"\x00"+w.Value] {
			add = append(add, Rule{Value: w.Value, Tag: w.Tag})
		}
	}
	if len(add) > 0 {
		var res struct {
			Errors []struct {
				Value, Title, Detail string
			} `json:"errors"`
		}
		if err := s.call(ctx, http.MethodPost, "/2/tweets/search/stream/rules", nil, map[string]any{"add": add}, &res); err != nil {
			return err
		}
		for _, e := range res.Errors {
			s.log.Error("x: rule refused", "rule", e.Value, "title", e.Title, "detail", e.Detail)
		}
	}
	s.log.Info("x: rules reconciled", "kept", len(have), "added", len(add), "deleted", len(del))
	return nil
}

// call does one REST request and decodes the answer, honouring X's
// rate-limit headers.
func (s *Source) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := s.cfg.APIBase + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("x %s: %w", s.cfg.Name, err)
	}
	s.authorize(req)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	disarm := upstream.Arm(ctx)
	defer disarm()
	resp, err := s.client.Do(req)
	if err != nil {
		return s.retry(classNetwork, fmt.Errorf("x %s: %s %s: %w", s.cfg.Name, method, path, err), 0)
	}
	defer resp.Body.Close()
	if err := s.check(resp, method+" "+path); err != nil {
		return err
	}
	b, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	disarm()
	if err != nil {
		return s.retry(classNetwork, fmt.Errorf("x %s: %s: %w", s.cfg.Name, path, err), 0)
	}
	if rem, err := strconv.Atoi(resp.Header.Get("x-rate-limit-remaining")); err == nil && rem == 0 {
		if d := untilReset(resp.Header.Get("x-rate-limit-reset")); d > 0 {
			s.log.Info("x: rate limit spent, waiting for the reset", "in", d.Round(time.Second))
			if err := upstream.Sleep(ctx, d); err != nil {
				return err
			}
		}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("x %s: %s: bad answer: %w", s.cfg.Name, path, err)
	}
	return nil
}

func (s *Source) authorize(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	req.Header.Set("User-Agent", s.cfg.UserAgent)
}

func untilReset(v string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0
	}
	return max(time.Until(time.Unix(n, 0)), 0)
}

// check classifies a non-2xx answer: 401 is permanent (a bad token), 429
// and other errors follow X's schedule. The body stays in the error.
func (s *Source) check(resp *http.Response, what string) error {
	if resp.StatusCode < 300 {
		return nil
	}
	code := resp.StatusCode
	reset := untilReset(resp.Header.Get("x-rate-limit-reset"))
	err := upstream.CheckResponse(resp)
	var se *upstream.StatusError
	errors.As(err, &se)
	wrapped := fmt.Errorf("x %s: %s: %w", s.cfg.Name, what, se)
	switch {
	case code == http.StatusUnauthorized:
		return upstream.Permanent(fmt.Errorf("%w: the bearer token was refused; use the app's Bearer Token from the developer portal", wrapped))
	case code == http.StatusForbidden && strings.Contains(se.Body, "client-not-enrolled"):
		return wrapped
	case code == http.StatusTooManyRequests:
		return s.retry(classRateLimit, wrapped, reset)
	default:
		return s.retry(classHTTP, wrapped, 0)
	}
}

// stream reads the filtered stream: one JSON object per line, "\r\n"
// keep-alives at least every 20 s.
func (s *Source) stream(ctx context.Context, rules []Rule, emit wall.Emit) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.APIBase+"/2/tweets/search/stream?"+fields.Encode(), nil)
	if err != nil {
		return fmt.Errorf("x %s: %w", s.cfg.Name, err)
	}
	s.authorize(req)
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return s.retry(classNetwork, fmt.Errorf("x %s: stream: %w", s.cfg.Name, err), 0)
	}
	defer resp.Body.Close()
	if err := s.check(resp, "stream"); err != nil {
		return err
	}
	upstream.SetState(ctx, wall.StateConnected)
	defer upstream.Arm(ctx)()
	s.connected()
	// The stream sends only what comes after it opened: search again for
	// what was posted since the fill before it (repeats are skipped).
	if err := s.fill(ctx, rules, emit); err != nil {
		return err
	}
	sc := bufio.NewScanner(upstream.AliveReader(ctx, resp.Body))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue // keep-alive
		}
		var msg message
		if err := json.Unmarshal(line, &msg); err != nil {
			s.log.Warn("x: malformed stream message skipped", "err", err, "bytes", len(line))
			continue
		}
		if msg.Data == nil {
			for _, e := range msg.Errors {
				s.log.Warn("x: stream error", "title", e.Title, "detail", e.Detail)
				if e.Title == "operational-disconnect" || strings.Contains(e.Type, "operational-disconnect") {
					return s.retry(classNetwork, fmt.Errorf("x %s: operational disconnect: %s", s.cfg.Name, e.Detail), 0)
				}
			}
			continue
		}
		var walls []string
		for _, r := range msg.MatchingRules {
			if slug, ok := strings.CutPrefix(r.Tag, tagPrefix); ok {
				walls = append(walls, slug)
			}
		}
		if len(walls) == 0 {
			continue // a rule some other tool added
		}
		if err := s.emit(ctx, *msg.Data, msg.Includes, walls, emit); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	err = sc.Err()
	if err == nil {
		err = errors.New("the stream ended")
	}
	return s.retry(classNetwork, fmt.Errorf("x %s: stream: %w", s.cfg.Name, err), 0)
}

// fill runs recent search for each wall's rule from the newest stored
// tweet, so a reconnect loses nothing (dedup absorbs the overlap). On a
// first run it only learns where "now" is.
func (s *Source) fill(ctx context.Context, rules []Rule, emit wall.Emit) error {
	since := s.since()
	for _, r := range rules {
		slug := strings.TrimPrefix(r.Tag, tagPrefix)
		q := url.Values{}
		for k, v := range fields {
			q[k] = v
		}
		q.Set("query", r.Value)
		q.Set("max_results", "100")
		if since != "" {
			q.Set("since_id", since)
		} else {
			q.Set("max_results", "10") // a new wall starts with a few recent posts
		}
		for page := 0; page < 10; page++ {
			var res struct {
				Data     []tweet  `json:"data"`
				Includes includes `json:"includes"`
				Meta     struct {
					NewestID  string `json:"newest_id"`
					NextToken string `json:"next_token"`
				} `json:"meta"`
			}
			if err := s.call(ctx, http.MethodGet, "/2/tweets/search/recent", q, nil, &res); err != nil {
				return err
			}
			for i := len(res.Data) - 1; i >= 0; i-- { // oldest first
				if err := s.emit(ctx, res.Data[i], res.Includes, []string{slug}, emit); err != nil {
					return err
				}
			}
			if res.Meta.NextToken == "" || since == "" {
				break
			}
			q.Set("next_token", res.Meta.NextToken)
		}
	}
	return nil
}

func (s *Source) since() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sinceID
}

func (s *Source) emit(ctx context.Context, t tweet, inc includes, walls []string, emit wall.Emit) error {
	if t.ID == "" {
		return nil
	}
	s.mu.Lock()
	if upstream.NewerID(t.ID, s.sinceID) {
		s.sinceID = t.ID
	}
	c, _ := json.Marshal(cursor{SinceID: s.sinceID})
	s.mu.Unlock()
	if s.recent.Has(t.ID) {
		return emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: string(c)}) // the stream and a fill both had it
	}
	if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: post(t, inc), Cursor: string(c), Walls: walls}); err != nil {
		return err
	}
	s.recent.Add(t.ID)
	return nil
}
