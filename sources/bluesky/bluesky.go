// Package bluesky is the source for Bluesky. It follows the network in real
// time through Jetstream (the firehose as JSON over a WebSocket), keeps only
// the posts whose hashtags or text a wall wants, enriches them with the
// author's profile from the AppView, and resumes after a drop from the
// time_us cursor, a few seconds early. With an app password it also
// backfills a new wall from post search.
package bluesky

import (
	"bytes"
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
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// DefaultJetstreams are Bluesky's public Jetstream instances, tried in order.
var DefaultJetstreams = []string{
	"wss://jetstream1.us-east.bsky.network/subscribe",
	"wss://jetstream2.us-east.bsky.network/subscribe",
	"wss://jetstream1.us-west.bsky.network/subscribe",
	"wss://jetstream2.us-west.bsky.network/subscribe",
}

// Config is a bluesky source's settings.
type Config struct {
	Name        string
	Jetstream   []string
	AppView     string // https://public.api.bsky.app
	PDS         string // https://bsky.social
	Identifier  string
	AppPassword string
	UserAgent   string
	CDN         string // https://cdn.bsky.app
	Video       string // https://video.bsky.app
	// Rewind is how far before the saved cursor a reconnect starts.
	Rewind time.Duration
	// CursorEvery is how often the position is saved when nothing matches.
	CursorEvery time.Duration
	// Accounts (handles or DIDs) make the source follow people: Jetstream
	// sends only their posts (wantedDids). Handles are resolved to DIDs
	// at the start and again every ResolveEvery, or at once when one of
	// the accounts changes its handle.
	Accounts     []string
	ResolveEvery time.Duration
}

// Source follows Jetstream.
type Source struct {
	cfg      Config
	client   *http.Client
	log      *slog.Logger
	host     atomic.Int32 // index of the Jetstream host to try next
	profiles *profileCache
	session  session
	recent   *upstream.Recent // posts emitted lately, across reconnects
	moved    chan struct{}    // an account of ours changed its handle
}

// New returns a bluesky source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	if len(cfg.Jetstream) == 0 {
		cfg.Jetstream = DefaultJetstreams
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.AppView, "https://public.api.bsky.app")
	def(&cfg.PDS, "https://bsky.social")
	def(&cfg.CDN, "https://cdn.bsky.app")
	def(&cfg.Video, "https://video.bsky.app")
	for _, p := range []*string{&cfg.AppView, &cfg.PDS, &cfg.CDN, &cfg.Video} {
		*p = strings.TrimRight(*p, "/")
	}
	if cfg.Rewind == 0 {
		cfg.Rewind = 5 * time.Second
	}
	if cfg.CursorEvery == 0 {
		cfg.CursorEvery = 5 * time.Second
	}
	if cfg.ResolveEvery == 0 {
		cfg.ResolveEvery = 10 * time.Minute
	}
	s := &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), recent: upstream.NewRecent(4096), moved: make(chan struct{}, 1)}
	s.profiles = newProfileCache(time.Hour)
	return s
}

type cursor struct {
	TimeUS int64 `json:"time_us"`
}

// event is a Jetstream message.
type event struct {
	DID    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"`
	Commit *struct {
		Operation  string          `json:"operation"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
	} `json:"commit"`
}

// Run follows Jetstream until ctx ends or the connection fails. A failed
// connection moves on to the next configured host for the next try.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	var cur cursor
	if sub.Cursor != "" {
		if err := json.Unmarshal([]byte(sub.Cursor), &cur); err != nil {
			s.log.Warn("bluesky: ignoring unreadable cursor", "err", err)
		}
	}
	m := newMatcher(sub.Hashtags, sub.Keywords)
	var dids []string
	if len(s.cfg.Accounts) > 0 {
		var err error
		if dids, err = s.resolveAccounts(ctx); err != nil {
			return err
		}
		m = &matcher{all: true}
	}
	if cur.TimeUS == 0 {
		// A new wall: start from now, and fill in recent posts by search.
		cur.TimeUS = time.Now().UnixMicro()
		c, _ := json.Marshal(cur)
		if err := emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: string(c)}); err != nil {
			return err
		}
		if err := s.backfill(ctx, sub, dids, emit); err != nil {
			s.log.Warn("bluesky: search backfill failed; live posts only", "err", err)
		}
	}

	i := int(s.host.Load()) % len(s.cfg.Jetstream)
	host := s.cfg.Jetstream[i]
	q := url.Values{"wantedCollections": {"app.bsky.feed.post"}}
	if len(dids) > 0 {
		q["wantedDids"] = dids
	}
	q.Set("cursor", strconv.FormatInt(cur.TimeUS-s.cfg.Rewind.Microseconds(), 10))
	u := host + "?" + q.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPClient: s.client,
		HTTPHeader: http.Header{"User-Agent": {s.cfg.UserAgent}},
	})
	cancel()
	if err != nil && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		s.host.Store(int32(i + 1)) // next time, the next host
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			if d, ok := upstream.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				return upstream.RetryAfter(fmt.Errorf("bluesky %s: jetstream %s: %w", s.cfg.Name, host, err), d)
			}
		}
		return fmt.Errorf("bluesky %s: jetstream %s: %w", s.cfg.Name, host, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)
	var note []string
	if s.cfg.AppPassword == "" {
		note = append(note, "live only: no app password for search backfill")
	}
	upstream.SetState(ctx, wall.StateConnected, note...)
	defer upstream.Arm(ctx)()
	s.log.Info("bluesky: following jetstream", "host", host, "tags", sub.Hashtags)

	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	en := &enricher{s: s, in: make(chan pending, 1024), emit: emit}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := en.run(ctx); err != nil {
			cancelRun(err)
		}
	}()
	if dids != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.watchHandles(ctx, dids); err != nil {
				cancelRun(err)
			}
		}()
	}
	go func() {
		defer wg.Done()
		upstream.Ping(ctx, 20*time.Second, conn.Ping) // a pong is a sign of life when the filtered stream is quiet
	}()
	err = s.read(ctx, conn, m, en)
	cancelRun(err)
	close(en.in)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, err) {
		err = cause
	}
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// read is the hot loop: every post of the network passes here.
func (s *Source) read(ctx context.Context, conn *websocket.Conn, m *matcher, en *enricher) error {
	var lastSaved, lastTime int64
	savedAt := time.Now()
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("bluesky %s: jetstream read: %w", s.cfg.Name, err)
		}
		upstream.Alive(ctx)
		it, t, ok := s.handle(data, m)
		if t > lastTime {
			lastTime = t
		}
		if ok && it.item.Kind == wall.ItemPost && s.recent.Has(it.item.Post.NativeID) {
			ok = false // replayed by the rewind after a reconnect
		}
		if ok {
			it.item.Cursor = position(lastTime)
			lastSaved = lastTime
			savedAt = time.Now()
			if err := en.add(ctx, it); err != nil {
				return err
			}
			continue
		}
		if lastTime != lastSaved && time.Since(savedAt) >= s.cfg.CursorEvery {
			lastSaved, savedAt = lastTime, time.Now()
			if err := en.add(ctx, pending{item: wall.Item{Kind: wall.ItemCursor, Cursor: position(lastTime)}}); err != nil {
				return err
			}
		}
	}
}

func position(timeUS int64) string {
	c, _ := json.Marshal(cursor{TimeUS: timeUS})
	return string(c)
}

var (
	identityKind = []byte(`"kind":"identity"`)
	deleteOp     = []byte(`"delete"`)
	postColl     = []byte(`"app.bsky.feed.post"`)
)

// handle looks at one message. Posts no wall wants are dropped before they
// are decoded: the firehose carries hundreds per second.
func (s *Source) handle(data []byte, m *matcher) (pending, int64, bool) {
	isDelete := bytes.Contains(data, deleteOp)
	if m.all && bytes.Contains(data, identityKind) {
		select { // one of our accounts changed its handle: resolve again
		case s.moved <- struct{}{}:
		default:
		}
		return pending{}, timeOf(data), false
	}
	if !isDelete && !m.mayMatch(data) {
		return pending{}, timeOf(data), false
	}
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		s.log.Warn("bluesky: malformed jetstream message skipped", "err", err, "bytes", len(data))
		return pending{}, 0, false
	}
	c := ev.Commit
	if ev.Kind != "commit" || c == nil || c.Collection != "app.bsky.feed.post" || ev.DID == "" || c.RKey == "" {
		return pending{}, ev.TimeUS, false
	}
	id := ev.DID + ":" + c.RKey
	switch c.Operation {
	case "delete":
		return pending{item: wall.Item{Kind: wall.ItemDelete, IfKnown: true, Post: wall.Post{NativeID: id}}}, ev.TimeUS, true
	case "create", "update":
		var r record
		if err := json.Unmarshal(c.Record, &r); err != nil {
			s.log.Warn("bluesky: malformed post record skipped", "post", id, "err", err)
			return pending{}, ev.TimeUS, false
		}
		if !m.match(&r) {
			return pending{}, ev.TimeUS, false
		}
		kind := wall.ItemPost
		if c.Operation == "update" {
			kind = wall.ItemUpdate
		}
		return pending{item: wall.Item{Kind: kind, Post: s.post(ev.DID, c.RKey, &r)}, did: ev.DID}, ev.TimeUS, true
	}
	return pending{}, ev.TimeUS, false
}

var timeKey = []byte(`"time_us":`)

// timeOf reads time_us without decoding the message.
func timeOf(data []byte) int64 {
	i := bytes.Index(data, timeKey)
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range data[i+len(timeKey):] {
		if c == ' ' && n == 0 {
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// matcher decides whether a post is wanted.
type matcher struct {
	tags     map[string]bool
	keywords []string
	needles  [][]byte // lower-case ASCII fragments one of which a wanted post must contain
	exact    bool     // false: some wanted term is not ASCII, so decode everything
	all      bool     // following people: Jetstream sends only theirs, take every post
}

func newMatcher(tags, keywords []string) *matcher {
	m := &matcher{tags: map[string]bool{}, exact: true}
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				m.exact = false
				return
			}
		}
		m.needles = append(m.needles, []byte(strings.ToLower(s)))
	}
	for _, t := range tags {
		t = match.Tag(t)
		m.tags[t] = true
		add(t)
	}
	for _, k := range keywords {
		if p := match.Phrase(k); p != "" {
			m.keywords = append(m.keywords, p)
			for _, w := range strings.Fields(p) {
				add(w)
				break
			}
		}
	}
	return m
}

// mayMatch is the cheap test on raw bytes: a wanted post contains one of
// the needles, in any ASCII case.
func (m *matcher) mayMatch(data []byte) bool {
	if m.all || !m.exact {
		return true
	}
	if !bytes.Contains(data, postColl) {
		return false
	}
	for _, n := range m.needles {
		if containsFold(data, n) {
			return true
		}
	}
	return false
}

// containsFold reports whether data contains the lower-case ASCII needle,
// ignoring ASCII case.
func containsFold(data, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	lo, up := needle[0], needle[0]
	if 'a' <= lo && lo <= 'z' {
		up = lo - 32
	}
	for len(data) >= n {
		d := data[:len(data)-n+1]
		i := bytes.IndexByte(d, lo)
		if up != lo {
			end := len(d)
			if i >= 0 {
				end = i
			}
			if k := bytes.IndexByte(d[:end], up); k >= 0 {
				i = k
			}
		}
		if i < 0 {
			return false
		}
		if equalFold(data[i+1:i+n], needle[1:]) {
			return true
		}
		data = data[i+1:]
	}
	return false
}

func equalFold(a, lower []byte) bool {
	for k := range lower {
		c := a[k]
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		if c != lower[k] {
			return false
		}
	}
	return true
}

// match is the exact test on a decoded record.
func (m *matcher) match(r *record) bool {
	if m.all {
		return true
	}
	for _, t := range r.hashtags() {
		if m.tags[match.Tag(t)] {
			return true
		}
	}
	for _, t := range match.Hashtags(r.Text) {
		if m.tags[t] {
			return true
		}
	}
	if len(m.keywords) > 0 {
		words := match.Words(r.Text)
		for _, k := range m.keywords {
			if strings.Contains(words, k) {
				return true
			}
		}
	}
	return false
}
