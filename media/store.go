package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Prefix is the path under which the store's files are served.
const Prefix = "/media/"

// names are the file names the store makes: a SHA-256 and an extension.
var names = regexp.MustCompile(`^[0-9a-f]{64}\.jpg$`)

// Store keeps pictures under a folder by the hash of their content and
// serves them. A file lives while a post names it: Sweep deletes the
// others (deleted, forgotten, pruned posts' pictures) once no upload in
// flight holds them.
type Store struct {
	dir string

	mu   sync.Mutex
	held map[string]int // files written for posts not yet committed
	live func(ctx context.Context) (map[string]bool, error)
}

// Open returns the store of dir, made (private to this user) if missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &Store{dir: dir, held: map[string]int{}}, nil
}

// Dir is the folder of the store.
func (s *Store) Dir() string { return s.dir }

// URL is where screens load a stored file.
func URL(name string) string { return Prefix + name }

// NameOf returns the file a URL of the store names, if it is one.
func NameOf(url string) (string, bool) {
	name, ok := strings.CutPrefix(url, Prefix)
	return name, ok && names.MatchString(name)
}

// Put writes a picture and holds it until release is called: a sweep
// leaves it alone until then (its post is on its way to the disk).
func (s *Store) Put(img Image) (name string, release func(), err error) {
	sum := sha256.Sum256(img.Data)
	name = hex.EncodeToString(sum[:]) + "." + img.Ext
	s.mu.Lock()
	s.held[name]++
	s.mu.Unlock()
	release = func() {
		s.mu.Lock()
		if s.held[name]--; s.held[name] <= 0 {
			delete(s.held, name)
		}
		s.mu.Unlock()
	}
	path := filepath.Join(s.dir, name)
	if _, err := os.Stat(path); err == nil {
		return name, release, nil // the same picture, sent before
	}
	tmp, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		release()
		return "", nil, fmt.Errorf("media: %w", err)
	}
	_, werr := tmp.Write(img.Data)
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		release()
		return "", nil, fmt.Errorf("media: %w", werr)
	}
	return name, release, nil
}

// SetLive tells the store which files posts still name (by file name).
func (s *Store) SetLive(live func(ctx context.Context) (map[string]bool, error)) {
	s.mu.Lock()
	s.live = live
	s.mu.Unlock()
}

// Sweep deletes the files no post names and no upload holds, and what an
// interrupted Put left behind; it returns how many went.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	if live == nil {
		return 0, nil
	}
	inUse, err := live(ctx)
	if err != nil {
		return 0, fmt.Errorf("media sweep: %w", err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("media sweep: %w", err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".put-") {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				os.Remove(filepath.Join(s.dir, name))
			}
			continue
		}
		if !names.MatchString(name) || inUse[name] {
			continue
		}
		s.mu.Lock()
		held := s.held[name] > 0
		if !held {
			// Removed under the lock: a Put of the same picture that
			// starts now finds no file and writes it again.
			if os.Remove(filepath.Join(s.dir, name)) == nil {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n, nil
}

// ServeHTTP serves /media/{name}: immutable (the name is the content's
// hash), never sniffed, inert when opened on its own.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if !names.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", info.ModTime(), f)
}
