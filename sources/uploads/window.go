package uploads

import (
	"sync"
	"time"
)

// maxKeys bounds the phones and addresses a window remembers.
const maxKeys = 100_000

// window counts what each key (a phone, an address) did in the last per:
// at most n.
type window struct {
	n   int
	per time.Duration

	mu   sync.Mutex
	seen map[string][]time.Time
}

func newWindow(n int, per time.Duration) *window {
	return &window{n: n, per: per, seen: map[string][]time.Time{}}
}

// take counts one for key at now, or says how long until it may.
func (w *window) take(key string, now time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) >= maxKeys {
		w.expire(now)
	}
	recent := w.seen[key][:0]
	for _, t := range w.seen[key] {
		if now.Sub(t) < w.per {
			recent = append(recent, t)
		}
	}
	if len(recent) >= w.n {
		w.seen[key] = recent
		return w.per - now.Sub(recent[0]), false
	}
	w.seen[key] = append(recent, now)
	return 0, true
}

// giveBack takes back the count take made at now.
func (w *window) giveBack(key string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := w.seen[key]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(now) {
			w.seen[key] = append(ts[:i], ts[i+1:]...)
			return
		}
	}
}

// expire forgets the keys with nothing in the window; if all have some,
// it forgets them all (a flood of addresses must not grow the map).
func (w *window) expire(now time.Time) {
	for k, ts := range w.seen {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= w.per {
			delete(w.seen, k)
		}
	}
	if len(w.seen) >= maxKeys {
		clear(w.seen)
	}
}
