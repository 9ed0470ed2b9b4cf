// Package uploads is the source the room posts to from their phones: a
// photo and a line through the form at /walls/{slug}/post, with no app
// and no account. The web side reads the form; this package checks what
// was sent (consent, room code, limits per phone and per address, text,
// the photo by its bytes), turns the photo into a clean picture in the
// media store, and hands the post to ingest, where the wall's rules
// apply as to any other.
package uploads

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Config is an uploads source's settings.
type Config struct {
	Name     string
	Settings Settings
	BaseURL  string
}

// Source takes the posts of the room.
type Source struct {
	cfg   Config
	key   []byte
	media *media.Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	emit    wall.Emit
	worker  *media.Worker // processes the photos, at a low priority
	devices *window
	addrs   *window

	// CommitWait is how long an upload waits for its post to reach the
	// disk before the phone is told to try again.
	CommitWait time.Duration
}

// New returns an uploads source.
func New(cfg Config, key []byte, store *media.Store, log *slog.Logger) *Source {
	return &Source{cfg: cfg, key: key, media: store, log: log.With("source", cfg.Name), now: time.Now,
		devices:    newWindow(cfg.Settings.PerDevice.N, cfg.Settings.PerDevice.Per),
		addrs:      newWindow(cfg.Settings.PerAddress.N, cfg.Settings.PerAddress.Per),
		CommitWait: 10 * time.Second}
}

// Run takes uploads until ctx ends.
func (s *Source) Run(ctx context.Context, _ wall.Subscription, emit wall.Emit) error {
	s.mu.Lock()
	s.emit, s.worker = emit, media.NewWorker(ctx)
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.emit, s.worker = nil, nil
	s.mu.Unlock()
	return nil
}

// Settings are the source's settings, for the form.
func (s *Source) Settings() Settings { return s.cfg.Settings }

// Upload is what a phone sent.
type Upload struct {
	Wall    string
	Code    string // the room code (from the QR code's link)
	Name    string
	Text    string
	Consent bool
	Trap    string // the honeypot field: people leave it empty
	Photo   []byte // nil: a text-only post
	Device  string // the phone's cookie
	Addr    string // the client's address
}

// Receipt is what the sender keeps: the post's id and the link that
// deletes it.
type Receipt struct {
	ID        string `json:"id"`
	DeleteURL string `json:"delete_url"`
}

// Why an upload is refused: the form says each in the page's language.
const (
	WhyConsent  = "consent"
	WhyEmpty    = "empty"
	WhyTextLong = "text_too_long"
	WhyCode     = "wrong_code"
	WhyTooMany  = "too_many"
	WhyTooBig   = "too_big"
	WhyNotImage = "not_image"
	WhyHEIC     = "heic"
	WhyPixels   = "too_many_pixels"
	WhyBusy     = "busy"
)

// Refusal is an upload that was not taken: the status to answer, why
// (one of the Why constants), and how long to wait before another try.
type Refusal struct {
	Status     int
	Why        string
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return "upload refused: " + r.Why }

func refuse(status int, why string) *Refusal { return &Refusal{Status: status, Why: why} }

// Take checks an upload and, when it is good, stores its picture and
// hands its post to ingest; it returns once the post is on disk.
func (s *Source) Take(ctx context.Context, u Upload) (Receipt, error) {
	if !u.Consent {
		return Receipt{}, refuse(http.StatusBadRequest, WhyConsent)
	}
	text := cleanText(u.Text)
	if utf8.RuneCountInString(text) > s.cfg.Settings.MaxText {
		return Receipt{}, refuse(http.StatusBadRequest, WhyTextLong)
	}
	if text == "" && len(u.Photo) == 0 {
		return Receipt{}, refuse(http.StatusBadRequest, WhyEmpty)
	}
	if *s.cfg.Settings.RoomCode && !s.ValidCode(u.Wall, u.Code) {
		return Receipt{}, refuse(http.StatusForbidden, WhyCode)
	}
	device := s.Phone(u.Device)
	now := s.now()
	for _, w := range []struct {
		win *window
		key string
	}{{s.devices, device}, {s.addrs, u.Addr}} {
		if wait, ok := w.win.take(w.key, now); !ok {
			return Receipt{}, &Refusal{Status: http.StatusTooManyRequests, Why: WhyTooMany, RetryAfter: wait}
		}
	}
	if u.Trap != "" {
		// A bot filled the field people never see: it is told "thanks"
		// and nothing is stored.
		s.log.Info("uploads: honeypot filled; dropped", "addr", u.Addr)
		id := wall.PostID(s.cfg.Name, newID())
		return Receipt{ID: id, DeleteURL: s.deleteURL(u.Wall, id)}, nil
	}
	taken := false
	defer func() {
		if !taken { // refused after the count: the phone keeps its turn
			s.devices.giveBack(device, now)
			s.addrs.giveBack(u.Addr, now)
		}
	}()
	post := wall.Post{
		NativeID: newID(), Network: "upload", Text: text, HTML: toHTML(text), CreatedAt: now.UTC(),
		Author: wall.Author{Handle: device},
	}
	if *s.cfg.Settings.AskName {
		post.Author.Name = cleanName(u.Name)
	}
	post.ID = wall.PostID(s.cfg.Name, post.NativeID)
	if len(u.Photo) > 0 {
		name, release, err := s.picture(ctx, u.Photo)
		if err != nil {
			return Receipt{}, err
		}
		defer release()
		post.Media = []wall.Media{{Type: "image", URL: media.URL(name)}}
	}
	if err := s.deliver(ctx, wall.Item{Kind: wall.ItemPost, Post: post, Walls: []string{u.Wall}}); err != nil {
		s.log.Warn("uploads: not stored", "err", err)
		if len(post.Media) > 0 {
			s.sweepSoon()
		}
		return Receipt{}, &Refusal{Status: http.StatusServiceUnavailable, Why: WhyBusy, RetryAfter: 5 * time.Second}
	}
	taken = true
	s.log.Info("uploads: taken", "post", post.ID, "photo", len(post.Media) > 0)
	return Receipt{ID: post.ID, DeleteURL: s.deleteURL(u.Wall, post.ID)}, nil
}

// picture turns a photo into a stored picture: one photo at a time, at
// a priority below the screens' (what waits longer than its request is
// refused).
func (s *Source) picture(ctx context.Context, photo []byte) (string, func(), error) {
	s.mu.Lock()
	worker := s.worker
	s.mu.Unlock()
	if worker == nil {
		return "", nil, &Refusal{Status: http.StatusServiceUnavailable, Why: WhyBusy, RetryAfter: 5 * time.Second}
	}
	img, err := worker.Process(ctx, photo, s.cfg.Settings.MaxPixels)
	switch {
	case ctx.Err() != nil:
		return "", nil, &Refusal{Status: http.StatusServiceUnavailable, Why: WhyBusy, RetryAfter: 5 * time.Second}
	case errors.Is(err, media.ErrHEIC):
		return "", nil, refuse(http.StatusUnsupportedMediaType, WhyHEIC)
	case errors.Is(err, media.ErrTooLarge):
		return "", nil, refuse(http.StatusRequestEntityTooLarge, WhyPixels)
	case err != nil:
		return "", nil, refuse(http.StatusUnsupportedMediaType, WhyNotImage)
	}
	name, release, err := s.media.Put(img)
	if err != nil {
		s.log.Error("uploads: cannot store the picture", "err", err)
		return "", nil, &Refusal{Status: http.StatusServiceUnavailable, Why: WhyBusy, RetryAfter: 5 * time.Second}
	}
	return name, release, nil
}

// Delete takes back a post its sender sent, with the token of its delete
// link: it leaves every screen, and nothing of it is kept (its picture
// goes too).
func (s *Source) Delete(ctx context.Context, id, token string) error {
	native, ok := strings.CutPrefix(id, s.cfg.Name+":")
	if !ok || native == "" || !hmac.Equal([]byte(token), []byte(s.token(id))) {
		return refuse(http.StatusForbidden, "bad_link")
	}
	item := wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: native}, Erase: true}
	if err := s.deliver(ctx, item); err != nil {
		return &Refusal{Status: http.StatusServiceUnavailable, Why: WhyBusy, RetryAfter: 5 * time.Second}
	}
	if _, err := s.media.Sweep(ctx); err != nil {
		s.log.Error("uploads: sweep after a delete", "err", err)
	}
	s.log.Info("uploads: deleted by its sender", "post", id)
	return nil
}

// sweepSoon deletes the picture of an upload that was not stored.
func (s *Source) sweepSoon() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.media.Sweep(ctx)
	}()
}

// deliver hands an item to ingest and waits until it is committed.
func (s *Source) deliver(ctx context.Context, it wall.Item) error {
	s.mu.Lock()
	emit := s.emit
	s.mu.Unlock()
	return upstream.Deliver(ctx, emit, []wall.Item{it}, s.CommitWait)
}

// mac is the HMAC-SHA256 of msg under the install's key, in hex.
func (s *Source) mac(msg string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Phone is the handle of a phone's uploads: a name made from its cookie
// that the cookie cannot be told from ("phone-3fa94c021b"). Bans, forget
// and the per-author limits catch a phone by it.
func (s *Source) Phone(cookie string) string {
	return "phone-" + s.mac("device:" + cookie)[:10]
}

// token is the secret of a post's delete link.
func (s *Source) token(id string) string { return s.mac("delete:" + id)[:32] }

func (s *Source) deleteURL(slug, id string) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + "/walls/" + url.PathEscape(slug) + "/post/delete?id=" +
		url.QueryEscape(id) + "&t=" + s.token(id)
}

// newID is a random post id.
func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// cleanText keeps a post's text as typed, without control characters
// (line breaks stay) and without space around it.
func cleanText(t string) string {
	t = strings.ReplaceAll(t, "\r\n", "\n")
	t = strings.Map(func(r rune) rune {
		if r == '\n' || !unicode.IsControl(r) && r != utf8.RuneError {
			return r
		}
		return -1
	}, t)
	return strings.TrimSpace(t)
}

// cleanName is a sender's name on one line, at most 40 characters.
func cleanName(n string) string {
	n = cleanText(strings.Join(strings.Fields(n), " "))
	if r := []rune(n); len(r) > 40 {
		n = string(r[:40])
	}
	return n
}

// toHTML is the text as HTML: escaped, lines kept.
func toHTML(t string) string {
	if t == "" {
		return ""
	}
	return "<p>" + strings.ReplaceAll(html.EscapeString(t), "\n", "<br>") + "</p>"
}

// String names the source in logs.
func (s *Source) String() string { return fmt.Sprintf("uploads %s", s.cfg.Name) }
