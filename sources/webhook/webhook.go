// Package webhook is the source that other systems push posts to:
// POST /hooks/{source}, signed with HMAC-SHA256. Three flavours: Wallcast's
// own JSON posts, Meta's webhooks (Instagram, Facebook pages) and WebSub
// (feeds that announce a hub).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is a webhook source's settings.
type Config struct {
	Name              string
	Flavor            string // wallcast, meta or websub
	Secret            string
	VerifyToken       string
	Hub, Topic        string
	Callback          string // the public URL of this hook (base_url + /hooks/name)
	MaxBody           int64
	MaxPostsPerMinute int
	// Poll is how websub polls the topic when there is no public callback.
	Poll      wall.Source
	UserAgent string
	Client    *http.Client
}

// Hooks routes POST /hooks/{source} to the running webhook sources.
type Hooks struct {
	mu       sync.RWMutex
	m        map[string]*entry
	expected map[string]bool // configured webhook sources, running or not
}

// entry is one registration (a handler may not be comparable).
type entry struct{ http.Handler }

// NewHooks returns an empty router.
func NewHooks() *Hooks { return &Hooks{m: map[string]*entry{}, expected: map[string]bool{}} }

// Expect says a webhook source of that name is configured: while it is
// not taking pushes (starting, or restarting after a failure) a push is
// answered 503 with Retry-After, which senders retry, not 404, which
// they take as final.
func (h *Hooks) Expect(name string) {
	h.mu.Lock()
	h.expected[name] = true
	h.mu.Unlock()
}

// Forget says the source is no longer configured.
func (h *Hooks) Forget(name string) {
	h.mu.Lock()
	delete(h.expected, name)
	h.mu.Unlock()
}

// Register makes h answer /hooks/{name} until unregister is called.
func (h *Hooks) Register(name string, handler http.Handler) (unregister func()) {
	mine := &entry{handler}
	h.mu.Lock()
	h.m[name] = mine
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if h.m[name] == mine {
			delete(h.m, name)
		}
		h.mu.Unlock()
	}
}

// ServeHTTP answers /hooks/{name}.
func (h *Hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/hooks/")
	h.mu.RLock()
	s, expected := h.m[name], h.expected[name]
	h.mu.RUnlock()
	switch {
	case s != nil:
		s.ServeHTTP(w, r)
	case expected:
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("webhook source %q is starting; send again", name), http.StatusServiceUnavailable)
	default:
		http.Error(w, fmt.Sprintf("no running webhook source named %q", name), http.StatusNotFound)
	}
}

// Source receives pushed posts.
type Source struct {
	cfg   Config
	hooks upstream.HookRouter
	log   *slog.Logger
	now   func() time.Time
	// public tells whether a hub on the internet can reach the callback.
	public func(string) bool

	mu     sync.Mutex
	emit   wall.Emit
	seen   map[string]*taken  // MACs of the requests taken in the replay window
	window []time.Time        // times of the posts accepted in the last minute
	lease  chan time.Duration // websub: a verified subscription's lease
	// pending is a websub subscription Wallcast asked for and the hub has
	// not verified yet; until is when the verified one ends.
	pending bool
	until   time.Time

	oldScheme  atomic.Bool // the old-signature warning was logged
	commitWait time.Duration
}

// New returns a webhook source that registers itself with hooks while it runs.
func New(cfg Config, hooks upstream.HookRouter, log *slog.Logger) *Source {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Source{cfg: cfg, hooks: hooks, log: log.With("source", cfg.Name), now: time.Now, public: public,
		seen: map[string]*taken{}, lease: make(chan time.Duration, 1), commitWait: CommitWait}
}

// Run accepts pushes until ctx ends. For websub it also keeps the
// subscription alive, or polls the topic when no public callback exists.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	s.mu.Lock()
	s.emit = emit
	s.mu.Unlock()
	defer s.hooks.Register(s.cfg.Name, s)()
	if s.cfg.Flavor == "websub" {
		return s.websub(ctx, sub, emit)
	}
	<-ctx.Done()
	return nil
}

// refuse answers a 4xx with its reason, and logs it.
func (s *Source) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	s.log.Warn("webhook: refused", "status", code, "reason", reason, "addr", r.RemoteAddr)
	http.Error(w, reason, code)
}

// Limits of a push request.
const (
	// ReadTimeout bounds reading a request's body: a sender trickling a
	// byte every few seconds does not hold a connection for ever.
	ReadTimeout = 15 * time.Second
	// CommitWait is how long a push waits for its posts to reach the
	// disk before it is answered 503 (the sender retries; dedup absorbs
	// a post that made it after all).
	CommitWait = 10 * time.Second
	// retryAfter is what a 503 asks the sender to wait, in seconds.
	retryAfter = "5"
)

// ServeHTTP handles one push (and, for meta and websub, the GET handshakes).
// A push is answered 2xx only once its posts are committed.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	emit := s.emit
	s.mu.Unlock()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(ReadTimeout))
	if r.Method == http.MethodGet {
		s.verify(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.refuse(w, r, http.StatusMethodNotAllowed, "POST posts to this address")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxBody))
			return
		}
		s.refuse(w, r, http.StatusBadRequest, "cannot read the body")
		return
	}
	rc.SetReadDeadline(time.Time{})
	mac, prior, reason := s.authentic(r, body)
	if reason != "" {
		s.refuse(w, r, http.StatusUnauthorized, reason)
		return
	}
	switch {
	case prior != nil && prior.done:
		// The same signed request again: a sender whose 2xx the network
		// lost retries it. It was stored; say so, and store nothing.
		s.log.Info("webhook: repeat of an accepted request", "items", prior.items)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"accepted":%d,"repeat":true}`+"\n", prior.items)
		return
	case prior != nil:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the same request is being stored: try again in a second", http.StatusServiceUnavailable)
		return
	}
	// From here on a refusal gives the request back: the sender's honest
	// retry must not be taken for a replay.
	accepted := false
	defer func() {
		if !accepted {
			s.forget(mac)
		}
	}()
	var items []wall.Item
	switch s.cfg.Flavor {
	case "meta":
		items, err = parseMeta(body)
	case "websub":
		items, err = parseFeed(body)
	default:
		items, err = parseWallcast(body)
	}
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if wait, ok := s.allow(len(items)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.refuse(w, r, http.StatusTooManyRequests, fmt.Sprintf("more than %d posts per minute", s.cfg.MaxPostsPerMinute))
		return
	}
	// Every item was checked before the first is handed over: a bad batch
	// writes nothing.
	if err := upstream.Deliver(r.Context(), emit, items, s.commitWait); err != nil {
		s.log.Warn("webhook: not committed", "items", len(items), "err", err)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "not stored: try again later", http.StatusServiceUnavailable)
		return
	}
	accepted = true
	s.done(mac, len(items))
	s.log.Info("webhook: accepted", "items", len(items))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"accepted":%d}`+"\n", len(items))
}

// ReplayWindow is how old a signed request may be.
const ReplayWindow = 5 * time.Minute

// taken is a signed request in the replay memory.
type taken struct {
	at    time.Time
	done  bool // accepted: its posts are stored
	items int
}

// authentic checks the signature of a push; it returns the request's MAC
// (the key of the replay memory) and, if the same request came before,
// what became of it; or why it is refused.
func (s *Source) authentic(r *http.Request, body []byte) (mac []byte, prior *taken, reason string) {
	switch s.cfg.Flavor {
	case "meta":
		mac = validMAC(sha256.New, s.cfg.Secret, body, strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
		if mac == nil {
			return nil, nil, "missing or wrong X-Hub-Signature-256"
		}
		return mac, nil, ""
	case "websub":
		if !s.subscribed() {
			return nil, nil, "no verified subscription: not taking deliveries"
		}
		algo, sig, _ := strings.Cut(r.Header.Get("X-Hub-Signature"), "=")
		h := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New}[algo]
		if h == nil {
			return nil, nil, "missing or wrong X-Hub-Signature"
		}
		if mac = validMAC(h, s.cfg.Secret, body, sig); mac == nil {
			return nil, nil, "missing or wrong X-Hub-Signature"
		}
		return mac, nil, ""
	}
	tsText := r.Header.Get("X-Wallcast-Timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, nil, "missing X-Wallcast-Timestamp (unix seconds)"
	}
	header := r.Header.Get("X-Wallcast-Signature")
	if v1, ok := strings.CutPrefix(header, "v1="); ok {
		mac = validMAC(sha256.New, s.cfg.Secret, signed(tsText, body), v1)
	} else if old, ok := strings.CutPrefix(header, "sha256="); ok {
		// The scheme before v1 signs the body only, so its timestamp can
		// be changed by anyone: read for one release, with a warning.
		if mac = validMAC(sha256.New, s.cfg.Secret, body, old); mac != nil && s.oldScheme.CompareAndSwap(false, true) {
			s.log.Warn("webhook: sender uses the old body-only signature (sha256=); switch to v1=HMAC(timestamp.body), the old scheme goes in the next release")
		}
	}
	if mac == nil {
		return nil, nil, "missing or wrong X-Wallcast-Signature (v1=hex HMAC-SHA256 of timestamp.body)"
	}
	now := s.now()
	if d := now.Sub(time.Unix(ts, 0)); d > ReplayWindow || d < -ReplayWindow {
		return nil, nil, "X-Wallcast-Timestamp is outside the 5-minute window"
	}
	return mac, s.remember(mac, now), ""
}

// remember notes a request's MAC in the replay memory; if it was already
// there, it returns what became of that request. A replay is harmless: it
// stores nothing, and its answer is the one the first request got.
func (s *Source) remember(mac []byte, now time.Time) *taken {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.seen {
		if now.Sub(t.at) > 2*ReplayWindow {
			delete(s.seen, k)
		}
	}
	if t, dup := s.seen[string(mac)]; dup {
		c := *t
		return &c
	}
	s.seen[string(mac)] = &taken{at: now}
	return nil
}

// done marks a remembered request as accepted, with how many items.
func (s *Source) done(mac []byte, items int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.seen[string(mac)]; t != nil {
		t.done, t.items = true, items
	}
}

// forget takes a refused request out of the replay memory.
func (s *Source) forget(mac []byte) {
	s.mu.Lock()
	delete(s.seen, string(mac))
	s.mu.Unlock()
}

// validMAC returns the decoded MAC when sigHex is the HMAC of msg under
// secret, nil otherwise. An empty secret never verifies: anyone could
// compute its MAC.
func validMAC(h func() hash.Hash, secret string, msg []byte, sigHex string) []byte {
	got, err := hex.DecodeString(sigHex)
	if err != nil || len(got) == 0 || secret == "" {
		return nil
	}
	m := hmac.New(h, []byte(secret))
	m.Write(msg)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil
	}
	return got
}

// signed is what the v1 signature covers: the timestamp, a dot, the body.
func signed(ts string, body []byte) []byte {
	return append([]byte(ts+"."), body...)
}

// Sign returns the X-Wallcast-Signature value for a body sent with the
// X-Wallcast-Timestamp ts (unix seconds).
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(signed(ts, body))
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// allow counts n posts against the per-minute limit.
func (s *Source) allow(n int) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	recent := s.window[:0]
	for _, t := range s.window {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	s.window = recent
	if len(recent)+n > s.cfg.MaxPostsPerMinute {
		if len(recent) == 0 {
			return time.Minute, false
		}
		return time.Minute - now.Sub(recent[0]), false
	}
	for i := 0; i < n; i++ {
		s.window = append(s.window, now)
	}
	return 0, true
}

// verify answers the GET handshakes: Meta's verification request and
// WebSub's verification of intent.
func (s *Source) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch s.cfg.Flavor {
	case "meta":
		if q.Get("hub.mode") != "subscribe" || !hmac.Equal([]byte(q.Get("hub.verify_token")), []byte(s.cfg.VerifyToken)) {
			s.refuse(w, r, http.StatusForbidden, "wrong hub.verify_token")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, q.Get("hub.challenge"))
	case "websub":
		// Only the verification of a subscription Wallcast itself asked
		// for is echoed: anyone else's (an unsubscribe, a renewal with a
		// tiny lease) would let a stranger steer the subscription.
		if q.Get("hub.mode") != "subscribe" || q.Get("hub.topic") != s.cfg.Topic {
			s.refuse(w, r, http.StatusNotFound, "no pending subscription for this mode and topic")
			return
		}
		secs, _ := strconv.ParseInt(q.Get("hub.lease_seconds"), 10, 64)
		lease := clampLease(time.Duration(secs) * time.Second)
		s.mu.Lock()
		ok := s.pending
		if ok {
			s.pending = false
			s.until = s.now().Add(lease)
		}
		s.mu.Unlock()
		if !ok {
			s.refuse(w, r, http.StatusNotFound, "no pending subscription for this mode and topic")
			return
		}
		select {
		case s.lease <- lease:
		default:
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, q.Get("hub.challenge"))
	default:
		s.refuse(w, r, http.StatusMethodNotAllowed, "POST posts to this address")
	}
}

// websub subscribes to the hub and renews before the lease ends; without
// a public callback it polls the topic instead.
func (s *Source) websub(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	if !s.public(s.cfg.Callback) {
		s.log.Info("websub: no public base_url; polling the topic instead", "topic", s.cfg.Topic)
		return s.cfg.Poll.Run(ctx, sub, emit)
	}
	for {
		if err := s.subscribe(ctx); err != nil {
			return err
		}
		var lease time.Duration
		select {
		case <-ctx.Done():
			return nil
		case lease = <-s.lease:
		case <-time.After(time.Minute):
			return fmt.Errorf("websub %s: the hub did not verify the subscription within a minute", s.cfg.Name)
		}
		s.log.Info("websub: subscribed", "topic", s.cfg.Topic, "lease", lease)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(lease * 8 / 10): // renew before it ends
		}
	}
}

// Bounds of a WebSub lease: a hub's tiny lease must not make Wallcast
// renew every second, nor a huge one keep a dead subscription believed.
const (
	minLease = 10 * time.Minute
	maxLease = 10 * 24 * time.Hour
)

// clampLease bounds the lease a hub grants; none given means a day.
func clampLease(d time.Duration) time.Duration {
	if d <= 0 {
		return 24 * time.Hour
	}
	return min(max(d, minLease), maxLease)
}

// subscribed tells whether a verified subscription is running, so that
// deliveries are taken.
func (s *Source) subscribed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Before(s.until)
}

// subscribe asks the hub for a subscription, which the hub then verifies.
func (s *Source) subscribe(ctx context.Context) (err error) {
	s.mu.Lock()
	s.pending = true
	s.mu.Unlock()
	defer func() {
		if err != nil {
			s.mu.Lock()
			s.pending = false
			s.mu.Unlock()
		}
	}()
	form := strings.NewReader(urlValues(map[string]string{
		"hub.callback": s.cfg.Callback, "hub.mode": "subscribe", "hub.topic": s.cfg.Topic,
		"hub.secret": s.cfg.Secret, "hub.lease_seconds": "864000",
	}))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Hub, form)
	if err != nil {
		return fmt.Errorf("websub %s: %w", s.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("websub %s: subscribe: %w", s.cfg.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("websub %s: subscribe: HTTP %d: %s", s.cfg.Name, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}
