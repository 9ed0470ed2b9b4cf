package app

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/sources/uploads"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/web"
)

// phones is what the audience's posts from their phones need: the
// running uploads sources, the media store their pictures go to, the
// install's key, and each wall's room code as its screens last got it.
type phones struct {
	key []byte

	mu      sync.Mutex
	running map[string]*uploads.Source // by source name
	store   *media.Store               // opened when a first uploads source starts
	rooms   map[string]wall.Room       // by wall, as last recorded (none yet: not checked since the start)
}

// mediaStore returns the media store, opened on first use.
func (a *App) mediaStore(c *config.Config) (*media.Store, error) {
	a.phones.mu.Lock()
	defer a.phones.mu.Unlock()
	if a.phones.store != nil {
		return a.phones.store, nil
	}
	st, err := media.Open(c.Storage.MediaDir)
	if err != nil {
		return nil, err
	}
	st.SetLive(a.db.MediaInUse)
	a.phones.store = st
	return st, nil
}

// running notes an uploads source as running (nil: stopped).
func (a *App) running(name string, src *uploads.Source) {
	a.phones.mu.Lock()
	defer a.phones.mu.Unlock()
	if src == nil {
		delete(a.phones.running, name)
		return
	}
	a.phones.running[name] = src
}

// uploader is the running uploads source of a wall (nil: none).
func (a *App) uploader(slug string) web.Uploader {
	c := a.Config()
	wc := c.Wall(slug)
	if wc == nil {
		return nil
	}
	a.phones.mu.Lock()
	defer a.phones.mu.Unlock()
	for _, name := range wc.Sources {
		if src := a.phones.running[name]; src != nil {
			return src
		}
	}
	return nil
}

// serveMedia serves /media/ from the store, once there is one.
func (a *App) serveMedia(w http.ResponseWriter, r *http.Request) {
	a.phones.mu.Lock()
	st := a.phones.store
	a.phones.mu.Unlock()
	if st == nil {
		http.NotFound(w, r)
		return
	}
	st.ServeHTTP(w, r)
}

// sweepMedia deletes the pictures no live post names any more.
func (a *App) sweepMedia(ctx context.Context) {
	a.phones.mu.Lock()
	st := a.phones.store
	a.phones.mu.Unlock()
	if st == nil {
		return
	}
	if n, err := st.Sweep(ctx); err != nil {
		a.log.Error("media: sweep", "err", err)
	} else if n > 0 {
		a.log.Info("media: pictures of deleted posts removed", "files", n)
	}
}

// rooms keeps each wall's room code on its screens: at start and each
// time a code changes, a room event with the form's address and the code.
func (a *App) rooms(ctx context.Context) {
	a.noteRooms(ctx)
	tick(ctx, 2*time.Second, func() { a.noteRooms(ctx) })
}

func (a *App) noteRooms(ctx context.Context) {
	c := a.Config()
	for _, wc := range c.Walls {
		var room wall.Room // none: the wall takes no posts from phones (any more)
		if src, ok := a.uploader(wc.Slug).(*uploads.Source); ok {
			code := src.Code(wc.Slug)
			room = wall.Room{Code: code, URL: web.PostURL(c.Server.BaseURL, wc.Slug, code)}
		}
		a.phones.mu.Lock()
		last, checked := a.phones.rooms[wc.Slug]
		a.phones.mu.Unlock()
		if checked && last == room {
			continue
		}
		err := a.pipe.Do(func() ([]wall.Event, error) { return a.db.SetRoom(ctx, wc.Slug, room) })
		if err != nil {
			a.log.Error("uploads: room code", "wall", wc.Slug, "err", err)
			continue
		}
		a.phones.mu.Lock()
		a.phones.rooms[wc.Slug] = room
		a.phones.mu.Unlock()
	}
}
