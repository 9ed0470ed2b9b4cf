package web

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sse"
)

// streams counts the event streams open, in all and per client key.
type streams struct {
	mu    sync.Mutex
	total int
	per   map[string]int
}

// take opens a stream for key within the limits; release closes it (call
// it once).
func (s *streams) take(key string, max, maxPer int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= max || s.per[key] >= maxPer {
		return nil, false
	}
	if s.per == nil {
		s.per = map[string]int{}
	}
	s.total++
	s.per[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.per[key]--; s.per[key] <= 0 {
				delete(s.per, key)
			}
		})
	}, true
}

// bucket is one client's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// rates limits requests per client key with token buckets, keeping at
// most size keys (the fullest buckets go first: they are the clients
// nearest to not being limited at all).
type rates struct {
	mu   sync.Mutex
	m    map[string]*bucket
	size int
	now  func() time.Time
}

func newRates(size int) *rates { return &rates{m: map[string]*bucket{}, size: size, now: time.Now} }

// allow takes a token from key's bucket (perMinute tokens a minute, up to
// burst); if there is none, it says how long until there is.
func (l *rates) allow(key string, perMinute, burst int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	rate := float64(perMinute) / 60 // tokens a second
	b := l.m[key]
	if b == nil {
		if len(l.m) >= l.size {
			l.evict(now, rate, float64(burst))
		}
		b = &bucket{tokens: float64(burst), at: now}
		l.m[key] = b
	}
	b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// evict forgets the buckets that are full again; if none is, a random
// tenth. Under mu.
func (l *rates) evict(now time.Time, rate, burst float64) {
	for k, b := range l.m {
		if b.tokens+now.Sub(b.at).Seconds()*rate >= burst {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.size*9/10 {
			break
		}
		delete(l.m, k) // map order is random enough
	}
}

// slots are the open event streams (screens and /stats), limited in all
// and per client; refused counts the streams turned away.
type slots struct {
	streams streams
	refused atomic.Int64
}

// openSlot takes a stream slot for the request's client. When the limits
// are reached it answers for the stream and returns ok false: 200 with a
// retry of a few seconds plus jitter and an immediate end, because a
// browser's EventSource gives up for good on any other status, and the
// screen would stay dark.
func (s *slots) open(w http.ResponseWriter, r *http.Request, cfg config.Server, relieve func() int) (release func(), ok bool) {
	release, ok = s.streams.take(limitKey(ClientAddr(r)), cfg.MaxStreams, cfg.MaxStreamsPerClient)
	if !ok && relieve != nil && relieve() > 0 {
		// Screens that are gone make room: their slots come back as the
		// engine closes them, within a few milliseconds.
		for i := 0; i < 25 && !ok; i++ {
			time.Sleep(20 * time.Millisecond)
			release, ok = s.streams.take(limitKey(ClientAddr(r)), cfg.MaxStreams, cfg.MaxStreamsPerClient)
		}
	}
	if ok {
		return release, true
	}
	s.refused.Add(1)
	retry := 5*time.Second + rand.N(5*time.Second)
	sse.SetHeaders(w.Header())
	w.Header().Set("Connection", "close")
	fmt.Fprintf(w, ": too many event streams now; come back later\nretry: %d\n\n", retry.Milliseconds())
	return nil, false
}
