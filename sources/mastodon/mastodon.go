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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
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
	// Lists and Accounts make the source follow people instead of
	// hashtags: the list timelines of the token's user (by list id), and
	// the statuses of accounts ("user@instance").
	Lists    []string
	Accounts []string
	// Ping is how often a WebSocket stream is pinged (default 20s).
	Ping time.Duration
}

// Source follows hashtags on one server.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	host   string

	mu     sync.Mutex
	since  map[string]string           // timeline key -> newest status id stored
	seen   map[string]*upstream.Window // polled timeline key -> its newest statuses, for edits and deletes
	ids    map[string]string           // account "user@instance" -> its id on this server
	recent *upstream.Recent            // ids emitted lately, across reconnects
}

// timeline is one thing the source follows: a hashtag, a list, an account.
type timeline struct {
	key    string     // in the cursor: the tag, "list:ID" or "@user@instance"
	label  string     // for logs and errors
	path   string     // the REST timeline, newest first
	query  url.Values // what the REST timeline and the stream add
	stream string     // the streaming endpoint ("": none, poll)
	ws     string     // the stream's name on the WebSocket API
}

// timelines are what the source follows: its people, else the hashtags.
func (s *Source) timelines(ctx context.Context, hashtags []string) ([]timeline, error) {
	var out []timeline
	for _, id := range s.cfg.Lists {
		out = append(out, timeline{key: "list:" + id, label: "list " + id, path: "/api/v1/timelines/list/" + url.PathEscape(id),
			query: url.Values{"list": {id}}, stream: "/api/v1/streaming/list", ws: "list"})
	}
	for _, acct := range s.cfg.Accounts {
		acct = strings.TrimPrefix(acct, "@")
		id, err := s.lookup(ctx, acct)
		if err != nil {
			return nil, err
		}
		out = append(out, timeline{key: "@" + acct, label: "@" + acct, path: "/api/v1/accounts/" + url.PathEscape(id) + "/statuses",
			query: url.Values{"exclude_reblogs": {strconv.FormatBool(!s.cfg.IncludeBoosts)}}})
	}
	if len(s.cfg.Lists)+len(s.cfg.Accounts) > 0 {
		return out, nil
	}
	for _, tag := range hashtags {
		tl := timeline{key: tag, label: "#" + tag, path: "/api/v1/timelines/tag/" + url.PathEscape(tag),
			query: url.Values{"tag": {tag}}, stream: "/api/v1/streaming/hashtag", ws: "hashtag"}
		if s.cfg.LocalOnly {
			tl.query.Set("local", "true")
			tl.stream += "/local"
			tl.ws += ":local"
		}
		out = append(out, tl)
	}
	return out, nil
}

// lookup finds an account's id on this server, once.
func (s *Source) lookup(ctx context.Context, acct string) (string, error) {
	s.mu.Lock()
	id, ok := s.ids[acct]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	var a struct {
		ID string `json:"id"`
	}
	u := s.cfg.Instance + "/api/v1/accounts/lookup?" + url.Values{"acct": {acct}}.Encode()
	body, _, err := s.getJSON(ctx, u, "@"+acct)
	var se *upstream.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return "", upstream.Permanent(fmt.Errorf("mastodon %s: no account @%s on %s: check accounts", s.cfg.Name, acct, s.host))
	}
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
		return "", fmt.Errorf("mastodon %s: account @%s: not an account: %v", s.cfg.Name, acct, err)
	}
	s.mu.Lock()
	if s.ids == nil {
		s.ids = map[string]string{}
	}
	s.ids[acct] = a.ID
	s.mu.Unlock()
	return a.ID, nil
}

// getJSON fetches one REST answer with a deadline and stall detection.
func (s *Source) getJSON(ctx context.Context, u, what string) ([]byte, http.Header, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mastodon %s: %w", s.cfg.Name, err)
	}
	s.authorize(req)
	defer upstream.Arm(ctx)()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("mastodon %s: %s: %w", s.cfg.Name, what, err)
	}
	defer resp.Body.Close()
	if err := s.checkStatus(resp); err != nil {
		return nil, nil, fmt.Errorf("mastodon %s: %s: %w", s.cfg.Name, what, err)
	}
	body, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	if err != nil {
		return nil, nil, fmt.Errorf("mastodon %s: %s: %w", s.cfg.Name, what, err)
	}
	return body, resp.Header, nil
}

// New returns a mastodon source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	cfg.Instance = strings.TrimRight(cfg.Instance, "/")
	if cfg.Ping <= 0 {
		cfg.Ping = 20 * time.Second
	}
	host := cfg.Instance
	if u, err := url.Parse(cfg.Instance); err == nil {
		host = u.Host
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), host: host, recent: upstream.NewRecent(4096)}
}

// cursor is the newest status id seen per timeline and, for a polled
// one, the newest statuses emitted with their versions.
type cursor struct {
	Since map[string]string           `json:"since"`
	Seen  map[string]*upstream.Window `json:"seen,omitempty"`
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
	if s.seen == nil {
		s.seen = map[string]*upstream.Window{}
	}
	for k, w := range cur.Seen {
		if s.seen[k] == nil && w != nil {
			s.seen[k] = upstream.NewWindow(40)
			s.seen[k].Take(w)
		}
	}
	s.mu.Unlock()
	tls, err := s.timelines(ctx, sub.Hashtags)
	if err != nil {
		return err
	}
	if len(tls) == 0 {
		return upstream.Permanent(fmt.Errorf("mastodon %s: no hashtags to follow", s.cfg.Name))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, tl := range tls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.follow(ctx, tl, emit); err != nil {
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

// follow fills the gap for one timeline, then streams it (or polls it).
func (s *Source) follow(ctx context.Context, tl timeline, emit wall.Emit) error {
	if !s.cfg.Stream || tl.stream == "" {
		s.watch(tl.key) // from the first status, for its edits and deletes
	}
	if err := s.fill(ctx, tl, emit); err != nil {
		return err
	}
	if s.cfg.Stream && tl.stream != "" {
		err := s.stream(ctx, tl, emit)
		var se *upstream.StatusError
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case errors.As(err, &se) && s.cfg.AccessToken == "" && (se.Code == 401 || se.Code == 403):
			s.log.Warn("mastodon: the server refuses streaming without a user token; polling instead", "timeline", tl.label, "every", s.cfg.PollInterval)
		case errors.As(err, &se) && (se.Code == 404 || se.Code == 410 || se.Code == 501):
			// Akkoma, Pleroma, GoToSocial and the Misskey family stream
			// over the WebSocket API only.
			err = s.wsStream(ctx, tl, emit)
			switch {
			case err == nil || ctx.Err() != nil:
				return nil
			case errors.As(err, &se):
				s.log.Warn("mastodon: streaming is not available on this server; polling instead", "timeline", tl.label, "status", se.Code)
			default:
				return err
			}
		default:
			return err
		}
	}
	s.watch(tl.key)
	return upstream.Poll(ctx, s.cfg.PollInterval, func() error { return s.poll(ctx, tl, emit) })
}

// watch keeps a window of a polled timeline's newest statuses.
func (s *Source) watch(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[key] == nil {
		s.seen[key] = upstream.NewWindow(40)
	}
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
	if errors.As(err, &pe) && resp.StatusCode == http.StatusUnauthorized {
		return upstream.Permanent(fmt.Errorf("%w: this server shows its timelines only to its users (GoToSocial does): add access_token of an account there, scope read", err))
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

// fill fetches the statuses newer than the last one stored for this
// timeline, page by page (40 each), and emits them oldest first. With
// nothing stored yet it fetches the newest page, so a new wall starts with
// recent posts.
func (s *Source) fill(ctx context.Context, tl timeline, emit wall.Emit) error {
	for page := 0; page < 25; page++ {
		since := s.sinceOf(tl.key)
		statuses, header, err := s.page(ctx, tl, since)
		if err != nil {
			return err
		}
		if since != "" {
			statuses = newerThan(statuses, since)
		}
		// The page comes newest first.
		for i := len(statuses) - 1; i >= 0; i-- {
			if err := s.emitStatus(ctx, tl.key, wall.ItemPost, statuses[i], emit); err != nil {
				return err
			}
		}
		// Slow down before the budget is spent, not after.
		if rem, err := strconv.Atoi(header.Get("X-RateLimit-Remaining")); err == nil && rem <= 1 {
			if d, ok := untilReset(header.Get("X-RateLimit-Reset")); ok {
				s.log.Info("mastodon: rate limit nearly spent, waiting for reset", "in", d.Round(time.Second))
				if err := upstream.Sleep(ctx, d); err != nil {
					return nil
				}
			}
		}
		if since == "" || len(statuses) < 40 {
			return nil // the last page; or a server that ignores min_id (older Pixelfed) gave nothing new
		}
	}
	return nil
}

// page reads one page of the timeline (40 statuses, newest first): the
// newest, or with since the oldest ones after it.
func (s *Source) page(ctx context.Context, tl timeline, since string) ([]json.RawMessage, http.Header, error) {
	q := url.Values{"limit": {"40"}}
	if since != "" {
		q.Set("min_id", since)
	}
	for k, v := range tl.query {
		if k != "tag" && k != "list" {
			q[k] = v
		}
	}
	body, header, err := s.getJSON(ctx, s.cfg.Instance+tl.path+"?"+q.Encode(), "timeline "+tl.label)
	if err != nil {
		return nil, nil, err
	}
	var statuses []json.RawMessage
	if err := json.Unmarshal(body, &statuses); err != nil {
		return nil, nil, fmt.Errorf("mastodon %s: timeline %s: not a list of statuses: %w", s.cfg.Name, tl.label, err)
	}
	return statuses, header, nil
}

// poll reads the timeline's newest page, which a timeline without a
// stream has in place of its events: what is newer than the cursor is
// new (a gap longer than the page is filled from the cursor on), and the
// statuses the source emitted before are compared with it, so an edit
// becomes an update and a status missing from the span the page covers a
// delete.
func (s *Source) poll(ctx context.Context, tl timeline, emit wall.Emit) error {
	since := s.sinceOf(tl.key)
	statuses, _, err := s.page(ctx, tl, "")
	if err != nil {
		return err
	}
	parsed := make([]status, 0, len(statuses))
	byID := map[string]json.RawMessage{}
	page := make([]upstream.Seen, 0, len(statuses))
	for _, raw := range statuses {
		var st status
		if json.Unmarshal(raw, &st) != nil || st.ID == "" {
			continue // logged by emitStatus if it is new
		}
		parsed = append(parsed, st)
		seen := seenOf(st)
		byID[seen.ID] = raw
		page = append(page, seen)
	}
	if since == "" || (len(statuses) == 40 && len(parsed) > 0 && upstream.NewerID(parsed[len(parsed)-1].ID, since)) {
		return s.fill(ctx, tl, emit)
	}
	fresh := newerThan(slices.Clone(statuses), since)
	for i := len(fresh) - 1; i >= 0; i-- {
		if err := s.emitStatus(ctx, tl.key, wall.ItemPost, fresh[i], emit); err != nil {
			return err
		}
	}
	s.mu.Lock()
	w := s.seen[tl.key]
	edited, gone := w.Compare(page, len(statuses) < 40)
	// What was emitted before the timeline was polled (by its stream) is
	// compared from now on.
	for i, st := range parsed {
		if _, ok := s.post(st); ok && !upstream.NewerID(st.ID, since) && !w.Has(page[i].ID) {
			w.Add(page[i])
		}
	}
	c, _ := json.Marshal(cursor{Since: s.since, Seen: s.seen})
	s.mu.Unlock()
	for _, id := range gone {
		if err := emit(ctx, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: id}, Cursor: string(c)}); err != nil {
			return err
		}
	}
	for _, e := range edited {
		if err := s.emitStatus(ctx, tl.key, wall.ItemUpdate, byID[e.ID], emit); err != nil {
			return err
		}
	}
	return nil
}

// seenOf is a status as a polled timeline's window keeps it: the post's
// id (a boost's is the boosted status's), its place, its last edit.
func seenOf(st status) upstream.Seen {
	rank := st.ID
	if st.Reblog != nil {
		st = *st.Reblog
	}
	return upstream.Seen{ID: st.ID, Rank: rank, Version: st.EditedAt}
}

// stream follows the timeline's stream until it ends.
func (s *Source) stream(ctx context.Context, tl timeline, emit wall.Emit) error {
	q := url.Values{}
	for k, v := range tl.query {
		if k == "tag" || k == "list" {
			q[k] = v
		}
	}
	u := s.cfg.Instance + tl.stream + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("mastodon %s: %w", s.cfg.Name, err)
	}
	s.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mastodon %s: stream %s: %w", s.cfg.Name, tl.label, err)
	}
	defer resp.Body.Close()
	if err := s.checkStatus(resp); err != nil {
		return fmt.Errorf("mastodon %s: stream %s: %w", s.cfg.Name, tl.label, err)
	}
	upstream.SetState(ctx, wall.StateConnected)
	defer upstream.Arm(ctx)() // Mastodon sends ":thump" every 15 s
	// The stream sends only what comes after it opened: fill what was
	// posted between the last fill and now (repeats are skipped).
	if err := s.fill(ctx, tl, emit); err != nil {
		return err
	}
	r := sse.NewReader(upstream.AliveReader(ctx, resp.Body))
	for {
		ev, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mastodon %s: stream %s ended: %w", s.cfg.Name, tl.label, err)
		}
		switch ev.Type {
		case "update":
			err = s.emitStatus(ctx, tl.key, wall.ItemPost, json.RawMessage(ev.Data), emit)
		case "status.update":
			err = s.emitStatus(ctx, tl.key, wall.ItemUpdate, json.RawMessage(ev.Data), emit)
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

// advance records a status id as seen (and, for a polled timeline, the
// status emitted) and returns the cursor to save.
func (s *Source) advance(tag, id string, emitted *upstream.Seen) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if upstream.NewerID(id, s.since[tag]) {
		s.since[tag] = id
	}
	if w := s.seen[tag]; w != nil && emitted != nil {
		w.Add(*emitted)
	}
	c, _ := json.Marshal(cursor{Since: s.since, Seen: s.seen})
	return string(c)
}

// emitStatus maps and emits one status; a malformed one is logged and skipped.
func (s *Source) emitStatus(ctx context.Context, tag string, kind wall.ItemKind, raw json.RawMessage, emit wall.Emit) error {
	var st status
	if err := json.Unmarshal(raw, &st); err != nil || st.ID == "" {
		s.log.Warn("mastodon: malformed status skipped", "tag", tag, "err", err, "bytes", len(raw))
		return nil
	}
	p, ok := s.post(st)
	if kind == wall.ItemPost && s.recent.Has(st.ID) {
		ok = false // the stream and a gap fill both had it
	}
	if !ok {
		return emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: s.advance(tag, st.ID, nil)})
	}
	seen := seenOf(st)
	cur := s.advance(tag, st.ID, &seen)
	if err := emit(ctx, wall.Item{Kind: kind, Post: p, Cursor: cur}); err != nil {
		return err
	}
	s.recent.Add(st.ID)
	return nil
}

// wsStream follows the timeline over the WebSocket streaming API, which
// every Mastodon-compatible server has: each message names its event and
// carries the payload as a JSON string. A refused handshake is a
// StatusError, so the caller can poll instead.
func (s *Source) wsStream(ctx context.Context, tl timeline, emit wall.Emit) error {
	q := url.Values{"stream": {tl.ws}}
	for k, v := range tl.query {
		if k == "tag" || k == "list" {
			q[k] = v
		}
	}
	if s.cfg.AccessToken != "" {
		q.Set("access_token", s.cfg.AccessToken) // how the WebSocket API takes it; logs drop query strings
	}
	u := "ws" + strings.TrimPrefix(s.cfg.Instance, "http") + "/api/v1/streaming?" + q.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: s.client, HTTPHeader: http.Header{"User-Agent": {s.cfg.UserAgent}}})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return &upstream.StatusError{Code: resp.StatusCode}
		}
		return fmt.Errorf("mastodon %s: websocket stream %s: %w", s.cfg.Name, tl.label, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	upstream.SetState(ctx, wall.StateConnected, "WebSocket streaming")
	defer upstream.Arm(ctx)()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go upstream.Ping(ctx, s.cfg.Ping, conn.Ping)
	if err := s.fill(ctx, tl, emit); err != nil {
		return err
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mastodon %s: websocket stream %s ended: %w", s.cfg.Name, tl.label, err)
		}
		upstream.Alive(ctx)
		var m struct {
			Event   string `json:"event"`
			Payload string `json:"payload"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			s.log.Warn("mastodon: malformed stream message skipped", "bytes", len(data))
			continue
		}
		switch {
		case m.Error != "":
			// GoToSocial answers a stream it does not have with an error.
			return &upstream.StatusError{Code: http.StatusNotImplemented, Body: m.Error}
		case m.Event == "update":
			err = s.emitStatus(ctx, tl.key, wall.ItemPost, json.RawMessage(m.Payload), emit)
		case m.Event == "status.update":
			err = s.emitStatus(ctx, tl.key, wall.ItemUpdate, json.RawMessage(m.Payload), emit)
		case m.Event == "delete" && m.Payload != "":
			err = emit(ctx, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: m.Payload}})
		}
		if err != nil {
			return err
		}
	}
}

// newerThan keeps the statuses newer than since: a server that ignores
// min_id answers with its newest page, and what was read before is not
// read again.
func newerThan(statuses []json.RawMessage, since string) []json.RawMessage {
	out := statuses[:0]
	for _, raw := range statuses {
		var st struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &st) != nil || st.ID == "" || upstream.NewerID(st.ID, since) {
			out = append(out, raw) // a malformed one is logged by emitStatus
		}
	}
	return out
}
