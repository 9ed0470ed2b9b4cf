// Package fanout delivers each wall's committed events to its screens: the
// hub (a bounded queue per subscriber) and, on Linux, the engine that
// serves HTTP/1.1 screens without a goroutine each.
package fanout

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// Frame is one encoded SSE message, shared by every subscriber that gets it.
// Seq is 0 for heartbeats and other frames that carry no id.
type Frame struct {
	Seq   int64
	Bytes []byte
	ping  bool // a heartbeat: may be left out for a stream that is busy
}

// Encode is an event in the text/event-stream format, its seq as the id.
func Encode(e wall.Event) []byte { return sse.Encode(e.Seq, string(e.Type), e.Data) }

var pingFrame = Frame{Bytes: []byte(": ping\n\n"), ping: true}

// Subscriber is one open stream. Frames arrive on C; Done is closed when the
// subscriber is dropped (too slow, or the hub is closing).
type Subscriber struct {
	C    chan Frame
	done chan struct{}
	once sync.Once
	wall string
	all  bool // a moderation queue: it also gets the queue events
	slow atomic.Bool
}

// Done is closed when the hub ends this subscription.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Slow reports whether the subscriber was dropped for falling behind.
func (s *Subscriber) Slow() bool { return s.slow.Load() }

func (s *Subscriber) end() { s.once.Do(func() { close(s.done) }) }

// Hub fans a wall's events out to the subscribers of that wall. Publish never
// blocks: a subscriber whose queue is full is dropped, and resumes from its
// Last-Event-ID when it reconnects.
type Hub struct {
	mu        sync.RWMutex
	walls     map[string]map[*Subscriber]struct{}
	closed    bool
	queueSize int
	count     atomic.Int64
	stop      chan struct{}
	stopOnce  sync.Once
	eng       atomic.Pointer[Engine]
	streams   atomic.Int64 // screens served by a goroutine (Serve)
	relieved  atomic.Int64 // when Relieve last looked (unix ns)
	shed      atomic.Int64 // screens Relieve closed
}

// Streams is how many screens' event streams are open: served by a
// goroutine, or by the engine.
func (h *Hub) Streams() int64 {
	n := h.streams.Load()
	if e := h.Engine(); e != nil {
		n += e.Open()
	}
	return n
}

// EnableEngine turns on the fan-out engine (Linux): HTTP/1.1 screens are
// then served without a goroutine each; a write that cannot proceed for
// timeout closes the screen.
func (h *Hub) EnableEngine(timeout time.Duration) bool {
	e := newEngine(timeout)
	if e == nil {
		return false
	}
	e.setRelief(h.Relieve)
	h.eng.Store(e)
	return true
}

// Engine is the fan-out engine, nil when it does not run.
func (h *Hub) Engine() *Engine { return h.eng.Load() }

// NewHub returns a hub whose subscribers queue at most queueSize frames and
// get a heartbeat comment every heartbeat.
func NewHub(queueSize int, heartbeat time.Duration) *Hub {
	h := &Hub{walls: map[string]map[*Subscriber]struct{}{}, queueSize: queueSize, stop: make(chan struct{})}
	if heartbeat > 0 {
		go h.heartbeats(heartbeat)
	}
	return h
}

// Subscribe adds a screen to a wall. It returns nil when the hub is closed.
func (h *Hub) Subscribe(wall string) *Subscriber { return h.subscribe(wall, false) }

// SubscribeQueue adds a moderation queue: it gets every event of the wall,
// the queue events (pending, approved, rejected) included.
func (h *Hub) SubscribeQueue(wall string) *Subscriber { return h.subscribe(wall, true) }

func (h *Hub) subscribe(wall string, all bool) *Subscriber {
	s := &Subscriber{C: make(chan Frame, h.queueSize), done: make(chan struct{}), wall: wall, all: all}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	m := h.walls[wall]
	if m == nil {
		m = map[*Subscriber]struct{}{}
		h.walls[wall] = m
	}
	m[s] = struct{}{}
	h.count.Add(1)
	return s
}

// Unsubscribe removes a subscriber.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	if m := h.walls[s.wall]; m != nil {
		if _, ok := m[s]; ok {
			delete(m, s)
			h.count.Add(-1)
		}
		if len(m) == 0 {
			delete(h.walls, s.wall)
		}
	}
	h.mu.Unlock()
	s.end()
}

// Closed reports whether the hub is closing: no more screens are taken.
func (h *Hub) Closed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int64 {
	n := h.count.Load()
	if e := h.Engine(); e != nil {
		n += e.Open()
	}
	return n
}

// Publish sends committed events to their walls' subscribers. Each event is
// encoded once and the bytes are shared.
func (h *Hub) Publish(events []wall.Event) {
	var slow []*Subscriber
	var byWall map[string][]Frame
	eng := h.Engine()
	h.mu.RLock()
	for _, e := range events {
		subs := h.walls[e.Wall]
		display := wall.ForDisplay(e.Type)
		if len(subs) == 0 && (eng == nil || !display) {
			continue
		}
		f := Frame{Seq: e.Seq, Bytes: Encode(e)}
		if eng != nil && display {
			if byWall == nil {
				byWall = map[string][]Frame{}
			}
			byWall[e.Wall] = append(byWall[e.Wall], f)
		}
		for s := range subs {
			if !display && !s.all {
				continue
			}
			select {
			case s.C <- f:
			default:
				if s.slow.CompareAndSwap(false, true) {
					slow = append(slow, s)
				}
			}
		}
	}
	h.mu.RUnlock()
	for w, frames := range byWall {
		eng.publish(w, frames)
	}
	for _, s := range slow {
		h.Unsubscribe(s)
	}
}

// heartbeats sends one ping to every subscriber on one shared schedule.
func (h *Hub) heartbeats(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			if e := h.Engine(); e != nil {
				e.pingAll()
			}
			h.mu.RLock()
			for _, subs := range h.walls {
				for s := range subs {
					select {
					case s.C <- pingFrame:
					default: // a full queue is busy enough to keep proxies awake
					}
				}
			}
			h.mu.RUnlock()
		}
	}
}

// CloseWall ends the subscriptions of one wall (a wall removed from the
// config): its screens reconnect and find it gone.
func (h *Hub) CloseWall(wall string) {
	h.mu.Lock()
	subs := h.walls[wall]
	delete(h.walls, wall)
	h.count.Add(-int64(len(subs)))
	h.mu.Unlock()
	for s := range subs {
		s.end()
	}
	if e := h.Engine(); e != nil {
		e.dropWall(wall)
	}
}

// Close ends every subscription and refuses new ones: the streams finish
// cleanly and screens reconnect (to this server once it is back, or another).
func (h *Hub) Close() {
	h.stopOnce.Do(func() { close(h.stop) })
	h.mu.Lock()
	h.closed = true
	walls := h.walls
	h.walls = map[string]map[*Subscriber]struct{}{}
	h.count.Store(0)
	h.mu.Unlock()
	for _, subs := range walls {
		for s := range subs {
			s.end()
		}
	}
	if e := h.Engine(); e != nil {
		e.close()
	}
}
