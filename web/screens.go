package web

import (
	"context"
	"sync"
	"time"
)

// screens counts each wall's connected screens and the most at once since
// they were last noted, for the report.
type screens struct {
	mu sync.Mutex
	m  map[string]*screenCount
}

type screenCount struct{ now, peak int }

// open counts a screen of a wall; the release it returns uncounts it and
// then calls release.
func (c *screens) open(slug string, release func()) func() {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*screenCount{}
	}
	sc := c.m[slug]
	if sc == nil {
		sc = &screenCount{}
		c.m[slug] = sc
	}
	sc.now++
	sc.peak = max(sc.peak, sc.now)
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			sc.now--
			c.mu.Unlock()
			release()
		})
	}
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
func (s *Server) NoteScreens(ctx context.Context, every time.Duration) {
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
