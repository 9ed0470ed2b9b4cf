// Package outbound tells the event's other systems what happens on the
// walls: every event an endpoint asked for is POSTed to it as JSON, signed
// as Wallcast's own webhooks are, in the order of the walls' log. The log
// in SQLite is the durable queue: each endpoint keeps how far it got, and
// moves on only once an event was taken (2xx) or given up on after a day
// of retries. A crash between the answer and the record sends that event
// again with the same delivery id, so a receiver that keeps the ids it
// saw takes each event once.
package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/wall"
)

// Store is the log and the endpoints' places in it (storage.DB).
type Store interface {
	OutboundCursor(ctx context.Context, name string) (int64, error)
	SetOutboundCursor(ctx context.Context, name string, id int64, failed string) error
	OutboundFailed(ctx context.Context, name string) (int, error)
	Log(ctx context.Context, after int64, limit int) ([]wall.Event, int64, bool, error)
	Head(ctx context.Context) (int64, error)
}

// Delivery is the JSON body of one delivery.
type Delivery struct {
	// ID names the delivery: the same event to the same endpoint always
	// has the same id, retried or sent again after a crash.
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Wall  string          `json:"wall"`
	Seq   int64           `json:"seq"` // the event's id in the wall's log (its SSE id)
	Data  json.RawMessage `json:"data"`
}

// Name is the outbound name of a wall event ("" for one not sent).
func Name(e wall.Event) string {
	switch e.Type {
	case wall.EventPost:
		return "shown"
	case wall.EventUpdate:
		return "updated"
	case wall.EventRemove:
		return "removed"
	case wall.EventPin:
		return "pinned"
	case wall.EventUnpin:
		return "unpinned"
	case wall.EventPending:
		return "pending"
	case wall.EventApproved:
		return "approved"
	case wall.EventRejected:
		return "rejected"
	case wall.EventAnnounce:
		return "announced"
	case wall.EventShow:
		return "show"
	case wall.EventPoll:
		var p wall.Poll
		if json.Unmarshal(e.Data, &p) != nil {
			return ""
		}
		if p.Closed {
			return "poll_closed"
		}
		for _, o := range p.Options {
			if o.Votes > 0 {
				return "" // a count: the poll closes with the result
			}
		}
		return "poll_opened"
	}
	return ""
}

// Dispatcher runs one sender per endpoint.
type Dispatcher struct {
	store Store
	log   *slog.Logger
	// GiveUpAfter is how long an event is retried (a day); MaxBackoff
	// the longest wait between tries (5 min).
	GiveUpAfter, MaxBackoff time.Duration
	// Every is how often a sender looks at the log when nothing woke it
	// (commits of other processes, such as wallcast forget).
	Every time.Duration

	mu      sync.Mutex
	senders map[string]*sender
	wg      sync.WaitGroup
}

// New returns a dispatcher with no endpoints.
func New(store Store, log *slog.Logger) *Dispatcher {
	return &Dispatcher{store: store, log: log, GiveUpAfter: 24 * time.Hour, MaxBackoff: 5 * time.Minute, Every: time.Second,
		senders: map[string]*sender{}}
}

// sender delivers to one endpoint.
type sender struct {
	cfg    config.Outbound
	client *http.Client
	wake   chan struct{}
	stop   context.CancelFunc

	mu    sync.Mutex
	state wall.EndpointHealth
}

// Set starts the endpoints of a config, stops those it no longer has and
// restarts those it changed (a reload); each goes on from where it was.
func (d *Dispatcher) Set(ctx context.Context, endpoints []config.Outbound) {
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := map[string]bool{}
	for _, o := range endpoints {
		keep[o.Name] = true
		if s := d.senders[o.Name]; s != nil && sameEndpoint(s.cfg, o) {
			continue
		} else if s != nil {
			s.stop()
		}
		host := ""
		if u, err := url.Parse(o.URL); err == nil {
			host = u.Host
		}
		s := &sender{cfg: o, wake: make(chan struct{}, 1), state: wall.EndpointHealth{Name: o.Name, Host: host, State: "idle"},
			client: &http.Client{Timeout: o.Timeout.D(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		sctx, cancel := context.WithCancel(ctx)
		s.stop = cancel
		d.senders[o.Name] = s
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.run(sctx, s)
		}()
	}
	for name, s := range d.senders {
		if !keep[name] {
			s.stop()
			delete(d.senders, name)
		}
	}
}

func sameEndpoint(a, b config.Outbound) bool {
	return a.URL == b.URL && a.Secret == b.Secret && a.Timeout == b.Timeout && slices.Equal(a.Events, b.Events) && slices.Equal(a.Walls, b.Walls)
}

// Publish wakes the senders: events were committed.
func (d *Dispatcher) Publish([]wall.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.senders {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Wait waits for the senders to end (after their context).
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Health is the state of each endpoint, by name.
func (d *Dispatcher) Health() []wall.EndpointHealth {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]wall.EndpointHealth, 0, len(d.senders))
	for _, s := range d.senders {
		s.mu.Lock()
		out = append(out, s.state)
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b wall.EndpointHealth) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *sender) update(f func(*wall.EndpointHealth)) {
	s.mu.Lock()
	f(&s.state)
	s.mu.Unlock()
}

// wants reports whether the endpoint takes an event of that name on that
// wall.
func (s *sender) wants(name, slug string) bool {
	return name != "" && (len(s.cfg.Events) == 0 || slices.Contains(s.cfg.Events, name)) &&
		(len(s.cfg.Walls) == 0 || slices.Contains(s.cfg.Walls, slug))
}

// page is how many events of the log a sender reads at a time.
const page = 256

// run follows the log for one endpoint until ctx ends.
func (d *Dispatcher) run(ctx context.Context, s *sender) {
	log := d.log.With("outbound", s.cfg.Name)
	var cursor int64
	for {
		var err error
		if cursor, err = d.store.OutboundCursor(ctx, s.cfg.Name); err == nil {
			break
		}
		log.Error("outbound: cannot read where the endpoint got to", "err", err)
		if !sleep(ctx, d.Every) {
			return
		}
	}
	if n, err := d.store.OutboundFailed(ctx, s.cfg.Name); err == nil {
		s.update(func(h *wall.EndpointHealth) { h.Failed = n })
	}
	tick := time.NewTicker(d.Every)
	defer tick.Stop()
	for {
		events, through, more, err := d.store.Log(ctx, cursor, page)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("outbound: cannot read the log", "err", err)
			if !sleep(ctx, d.Every) {
				return
			}
			continue
		}
		for _, e := range events {
			name := Name(e)
			if !s.wants(name, e.Wall) {
				continue
			}
			failed, ok := d.deliver(ctx, s, log, e, name)
			if !ok {
				return // stopping: the event is sent again next time
			}
			// Recorded even when stopping: what the endpoint took is not
			// sent again.
			if err := d.store.SetOutboundCursor(context.WithoutCancel(ctx), s.cfg.Name, e.Seq, failed); err != nil {
				log.Error("outbound: cannot record the delivery; it is sent again after a restart", "seq", e.Seq, "err", err)
			}
			cursor = e.Seq
		}
		if through > cursor {
			// The events it does not take: moved past in one write.
			if err := d.store.SetOutboundCursor(ctx, s.cfg.Name, through, ""); err != nil {
				log.Error("outbound: cannot record the cursor", "err", err)
			}
			cursor = through
		}
		if head, err := d.store.Head(ctx); err == nil {
			s.update(func(h *wall.EndpointHealth) { h.Behind = max(head-cursor, 0) })
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// deliver sends one event until the endpoint takes it (failed is "") or
// GiveUpAfter has passed (failed says why); ok is false when ctx ended
// first.
func (d *Dispatcher) deliver(ctx context.Context, s *sender, log *slog.Logger, e wall.Event, name string) (failed string, ok bool) {
	body, _ := json.Marshal(Delivery{ID: fmt.Sprintf("%s-%d", s.cfg.Name, e.Seq), Event: name, Wall: e.Wall, Seq: e.Seq, Data: e.Data})
	first := time.Now()
	for attempt := 1; ; attempt++ {
		wait, err := s.post(ctx, body, name)
		if ctx.Err() != nil {
			return "", false
		}
		if err == nil {
			s.update(func(h *wall.EndpointHealth) {
				h.State, h.Delivered, h.Attempts, h.LastSuccess, h.NextRetry = "ok", h.Delivered+1, 0, time.Now().UTC(), time.Time{}
			})
			return "", true
		}
		if time.Since(first) >= d.GiveUpAfter {
			log.Error("outbound: given up on an event after retrying it", "seq", e.Seq, "event", name, "attempts", attempt, "err", err)
			s.update(func(h *wall.EndpointHealth) { h.Failed++; h.Attempts = 0; h.LastError = err.Error() })
			return err.Error(), true
		}
		// Full jitter over an exponential backoff; the receiver's
		// Retry-After when it gives one.
		back := upstream.Backoff(time.Second, d.MaxBackoff, attempt-1) + time.Millisecond
		if wait > 0 {
			back = min(wait, time.Hour)
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Warn("outbound: delivery refused; retrying", "seq", e.Seq, "event", name, "attempt", attempt, "err", err, "in", back)
		}
		s.update(func(h *wall.EndpointHealth) {
			h.State, h.Attempts, h.LastError, h.NextRetry = "retrying", attempt, err.Error(), time.Now().Add(back).UTC()
		})
		if !sleep(ctx, back) {
			return "", false
		}
	}
}

// post makes one delivery, signed with a timestamp of now; wait is the
// receiver's Retry-After, if any.
func (s *sender) post(ctx context.Context, body []byte, name string) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", config.DefaultUserAgent)
	req.Header.Set("X-Wallcast-Event", name)
	req.Header.Set("X-Wallcast-Timestamp", ts)
	req.Header.Set("X-Wallcast-Signature", webhook.Sign(s.cfg.Secret, ts, body))
	var d Delivery
	json.Unmarshal(body, &d)
	req.Header.Set("X-Wallcast-Delivery", d.ID)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return 0, fmt.Errorf("no answer within %s", s.cfg.Timeout.D())
		}
		return 0, errors.New("cannot reach it")
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		wait = time.Duration(secs) * time.Second
	}
	return wait, fmt.Errorf("HTTP %d", resp.StatusCode)
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
