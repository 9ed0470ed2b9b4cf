package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// screens counts each wall's connected screens and the most at once since
// they were last noted, for the report; and hands each stream a token
// that its sponsor showings count with while it is connected.
type screens struct {
	mu     sync.Mutex
	m      map[string]*screenCount
	tokens map[[16]byte]showings // by the stream's token, decoded
}

// showings is what a connected stream's sponsor showings counted: when
// each card (by index) last counted (nil until the first: most walls
// have no sponsors, and a screen costs a few hundred bytes less).
type showings struct {
	wall string
	last map[int]time.Time
}

type screenCount struct{ now, peak int }

// open counts a screen of a wall and gives its stream a token; the
// release it returns uncounts it, ends the token and then calls release.
func (c *screens) open(slug string, release func()) (string, func()) {
	var key [16]byte
	rand.Read(key[:])
	token := base64.RawURLEncoding.EncodeToString(key[:])
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*screenCount{}
		c.tokens = map[[16]byte]showings{}
	}
	c.tokens[key] = showings{wall: slug}
	sc := c.m[slug]
	if sc == nil {
		sc = &screenCount{}
		c.m[slug] = sc
	}
	sc.now++
	sc.peak = max(sc.peak, sc.now)
	c.mu.Unlock()
	var once sync.Once
	return token, func() {
		once.Do(func() {
			c.mu.Lock()
			sc.now--
			delete(c.tokens, key)
			c.mu.Unlock()
			release()
		})
	}
}

// showing counts a sponsor card's showing on the stream of token: only a
// stream of the wall connected now, at most once per card per the card's
// length (so never more showings than screens connected).
func (c *screens) showing(token, slug string, card int, length time.Duration, now time.Time) bool {
	var key [16]byte
	if n, err := base64.RawURLEncoding.Decode(key[:], []byte(token)); err != nil || n != len(key) || len(token) != 22 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sh, ok := c.tokens[key]
	if !ok || sh.wall != slug {
		return false
	}
	if last, ok := sh.last[card]; ok && now.Sub(last) < length {
		return false
	}
	if sh.last == nil {
		sh.last = map[int]time.Time{}
		c.tokens[key] = sh
	}
	sh.last[card] = now
	return true
}

// take returns each wall's most screens at once since the last take, and
// starts the next count from the screens connected now.
func (c *screens) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for slug, sc := range c.m {
		out[slug] = sc.peak
		sc.peak = sc.now
		if sc.now == 0 {
			delete(c.m, slug)
		}
	}
	return out
}

// NoteScreens writes each wall's most screens at once to the store every
// interval (a minute: the report's screens are per minute) until ctx
// ends. It does nothing without a tally.
func (s *pages) noteScreens(ctx context.Context, every time.Duration) {
	if s.tally == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for slug, peak := range s.screens.take() {
				if peak == 0 {
					continue
				}
				if err := s.tally.Screens(ctx, slug, now, peak); err != nil && ctx.Err() == nil {
					s.log.Warn("screens not noted", "wall", slug, "err", err)
				}
			}
		}
	}
}
