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
	"time"

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
	mu sync.RWMutex
	m  map[string]*Source
}

// NewHooks returns an empty router.
func NewHooks() *Hooks { return &Hooks{m: map[string]*Source{}} }

// ServeHTTP answers /hooks/{name}.
func (h *Hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/hooks/")
	h.mu.RLock()
	s := h.m[name]
	h.mu.RUnlock()
	if s == nil {
		http.Error(w, fmt.Sprintf("no running webhook source named %q", name), http.StatusNotFound)
		return
	}
	s.ServeHTTP(w, r)
}

// Source receives pushed posts.
type Source struct {
	cfg   Config
	hooks *Hooks
	log   *slog.Logger
	now   func() time.Time
	// public tells whether a hub on the internet can reach the callback.
	public func(string) bool

	mu     sync.Mutex
	emit   wall.Emit
	ctx    context.Context
	seen   map[string]time.Time // signatures seen in the replay window
	window []time.Time          // times of the posts accepted in the last minute
	lease  chan time.Duration   // websub: a verified subscription's lease
}

// New returns a webhook source that registers itself with hooks while it runs.
func New(cfg Config, hooks *Hooks, log *slog.Logger) *Source {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Source{cfg: cfg, hooks: hooks, log: log.With("source", cfg.Name), now: time.Now, public: public,
		seen: map[string]time.Time{}, lease: make(chan time.Duration, 1)}
}

// Run accepts pushes until ctx ends. For websub it also keeps the
// subscription alive, or polls the topic when no public callback exists.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	s.mu.Lock()
	s.emit, s.ctx = emit, ctx
	s.mu.Unlock()
	s.hooks.mu.Lock()
	s.hooks.m[s.cfg.Name] = s
	s.hooks.mu.Unlock()
	defer func() {
		s.hooks.mu.Lock()
		if s.hooks.m[s.cfg.Name] == s {
			delete(s.hooks.m, s.cfg.Name)
		}
		s.hooks.mu.Unlock()
	}()
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

// ServeHTTP handles one push (and, for meta and websub, the GET handshakes).
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	emit, ctx := s.emit, s.ctx
	s.mu.Unlock()
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
	if reason := s.authentic(r, body); reason != "" {
		s.refuse(w, r, http.StatusUnauthorized, reason)
		return
	}
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
	for _, it := range items {
		if err := emit(ctx, it); err != nil {
			s.refuse(w, r, http.StatusServiceUnavailable, "shutting down")
			return
		}
	}
	s.log.Info("webhook: accepted", "items", len(items))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"accepted":%d}`+"\n", len(items))
}

// ReplayWindow is how old a signed request may be.
const ReplayWindow = 5 * time.Minute

// authentic checks the signature of a push; it returns why it is refused.
func (s *Source) authentic(r *http.Request, body []byte) string {
	switch s.cfg.Flavor {
	case "meta":
		if !validMAC(sha256.New, s.cfg.Secret, body, strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")) {
			return "missing or wrong X-Hub-Signature-256"
		}
		return ""
	case "websub":
		algo, sig, _ := strings.Cut(r.Header.Get("X-Hub-Signature"), "=")
		h := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New}[algo]
		if h == nil || !validMAC(h, s.cfg.Secret, body, sig) {
			return "missing or wrong X-Hub-Signature"
		}
		return ""
	}
	sig := strings.TrimPrefix(r.Header.Get("X-Wallcast-Signature"), "sha256=")
	if !validMAC(sha256.New, s.cfg.Secret, body, sig) {
		return "missing or wrong X-Wallcast-Signature (sha256=HMAC-SHA256 of the body, hex)"
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Wallcast-Timestamp"), 10, 64)
	if err != nil {
		return "missing X-Wallcast-Timestamp (unix seconds)"
	}
	now := s.now()
	if d := now.Sub(time.Unix(ts, 0)); d > ReplayWindow || d < -ReplayWindow {
		return "X-Wallcast-Timestamp is outside the 5-minute window"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.seen {
		if now.Sub(t) > 2*ReplayWindow {
			delete(s.seen, k)
		}
	}
	if _, dup := s.seen[sig]; dup {
		return "replayed request (this signature was already used)"
	}
	s.seen[sig] = now
	return ""
}

func validMAC(h func() hash.Hash, secret string, body []byte, sigHex string) bool {
	got, err := hex.DecodeString(sigHex)
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Sign returns the X-Wallcast-Signature value for a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
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
		mode := q.Get("hub.mode")
		if q.Get("hub.topic") != s.cfg.Topic || (mode != "subscribe" && mode != "unsubscribe") {
			s.refuse(w, r, http.StatusNotFound, "no subscription to this topic")
			return
		}
		if mode == "subscribe" {
			lease, _ := strconv.Atoi(q.Get("hub.lease_seconds"))
			select {
			case s.lease <- time.Duration(lease) * time.Second:
			default:
			}
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
		if lease <= 0 {
			lease = 24 * time.Hour
		}
		s.log.Info("websub: subscribed", "topic", s.cfg.Topic, "lease", lease)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(lease * 8 / 10): // renew before it ends
		}
	}
}

func (s *Source) subscribe(ctx context.Context) error {
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
