package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/uploads"
)

// Uploader is a running uploads source, as the form sees it.
type Uploader interface {
	Settings() uploads.Settings
	Code(slug string) string
	Take(ctx context.Context, u uploads.Upload) (uploads.Receipt, error)
	Delete(ctx context.Context, id, token string) error
}

// post is the audience's side: the form phones post to the wall with,
// its thank-you page and the delete link.
type post struct {
	*base
	// uploader finds the running uploads source of a wall (nil: none).
	uploader func(slug string) Uploader
	// memory bounds what uploads hold in memory at once (UploadMemory).
	memory *budget
}

// UploadMemory is how many MiB the posts from phones may hold in memory at
// once; past it, a post waits up to UploadWait for its turn, then is
// answered 503 with Retry-After.
const (
	UploadMemory = 256
	UploadWait   = 30 * time.Second
)

func (s *post) routes(r *mux.Router) {
	r.HandleFunc("/walls/{slug}/post", s.form).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/post", s.send).Methods(http.MethodPost)
	r.HandleFunc("/walls/{slug}/post/sent", s.sent).Methods(http.MethodGet)
	r.HandleFunc("/walls/{slug}/post/delete", s.deleteForm).Methods(http.MethodGet)
	r.HandleFunc("/walls/{slug}/post/delete", s.delete).Methods(http.MethodPost)
}

// postPage is what post.html gets.
type postPage struct {
	Wall        *config.Wall
	T           map[string]string
	Settings    uploads.Settings
	Code        string
	AskCode     bool   // no code came with the link: the sender types the one on screen
	Error       string // why the last try was refused
	Name, Text  string
	MaxMB       string // max_photo_bytes in MB, as people read it
	Held        bool   // the post waits for a moderator
	DeleteURL   string // on the thank-you page
	ID, Token   string // on the delete page
	Done        bool   // the post was deleted
	Step        string // form, sent, delete
	StringsJSON string
}

// phoneCookie names a phone across its uploads (per-phone limits, "remove
// everything from this phone"); the handle shown is an HMAC of it.
const phoneCookie = "wallcast_phone"

var phoneID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// phone returns the phone's cookie, setting a new one when it has none.
func phone(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(phoneCookie); err == nil && phoneID.MatchString(c.Value) {
		return c.Value
	}
	b := make([]byte, 16)
	rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: phoneCookie, Value: v, Path: "/walls/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")})
	return v
}

// uploaderOf finds the wall and its uploads source, answering 404 when the
// wall takes no posts from phones.
func (s *post) uploaderOf(w http.ResponseWriter, r *http.Request) (*config.Wall, Uploader) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return nil, nil
	}
	var u Uploader
	if s.uploader != nil {
		u = s.uploader(wc.Slug)
	}
	if u == nil {
		http.Error(w, "this wall takes no posts from phones", http.StatusNotFound)
		return nil, nil
	}
	return wc, u
}

func (s *post) page(wc *config.Wall, u Uploader, step string) postPage {
	t := postStrings(wc.Display.Locale)
	set := u.Settings()
	js, _ := json.Marshal(t)
	return postPage{Wall: wc, T: t, Settings: set, MaxMB: strings.TrimSuffix(strconv.FormatFloat(float64(set.MaxPhotoBytes)/(1<<20), 'f', 1, 64), ".0"), Step: step, StringsJSON: string(js),
		Held: holdsUploads(s.Config(), wc)}
}

// holdsUploads reports whether a wall's moderators see every upload first.
func holdsUploads(c *config.Config, wc *config.Wall) bool {
	return wc.Moderation == "manual" || slices.Contains(c.Merged(wc).HoldIf, config.HoldUpload)
}

// form serves the form: a photo, a line, a name, the consent.
func (s *post) form(w http.ResponseWriter, r *http.Request) {
	wc, u := s.uploaderOf(w, r)
	if wc == nil {
		return
	}
	phone(w, r)
	p := s.page(wc, u, "form")
	p.Code = strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("code")))
	p.AskCode = *p.Settings.RoomCode && p.Code == ""
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, "post.html", p, nil)
}

// wantsJSON tells a script's request (Accept: application/json) from a
// plain form post.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// send takes a post from a phone: multipart/form-data read as a stream
// with a cap on every part, nothing written to a temporary file.
func (s *post) send(w http.ResponseWriter, r *http.Request) {
	wc, u := s.uploaderOf(w, r)
	if wc == nil {
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !ownOrigin(s.Config(), r, o) {
		http.Error(w, "posts come from the wall's own form", http.StatusForbidden)
		return
	}
	set := u.Settings()
	// The request says how long it is (a chunked one is taken at its cap):
	// that much of the memory budget is held until it is answered.
	size := set.MaxPhotoBytes + maxParts*maxFieldBytes
	if r.ContentLength >= 0 {
		size = min(r.ContentLength, size)
	}
	wait, cancel := context.WithTimeout(r.Context(), UploadWait)
	release, err := s.memory.reserve(wait, size)
	cancel()
	if err != nil {
		s.refused(w, r, wc, u, uploads.Upload{}, &uploads.Refusal{Status: http.StatusServiceUnavailable, Why: uploads.WhyBusy, RetryAfter: 10 * time.Second})
		return
	}
	defer release()
	up, refused := readUpload(w, r, set)
	up.Wall, up.Device, up.Addr = wc.Slug, phone(w, r), limitKey(ClientAddr(r))
	var receipt uploads.Receipt
	if refused == nil {
		var err error
		receipt, err = u.Take(r.Context(), up)
		if err != nil && !errors.As(err, &refused) {
			refused = &uploads.Refusal{Status: http.StatusServiceUnavailable, Why: uploads.WhyBusy}
		}
	}
	if refused != nil {
		s.refused(w, r, wc, u, up, refused)
		return
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(receipt)
		return
	}
	// The thank-you page holds the delete link (its token is in the
	// query, which the Referrer-Policy keeps from other sites).
	du, _ := url.Parse(receipt.DeleteURL)
	http.Redirect(w, r, "/walls/"+url.PathEscape(wc.Slug)+"/post/sent?"+du.RawQuery, http.StatusSeeOther)
}

// refused answers a refused upload in the page's language: the form again
// with what was typed and the reason, or JSON for the script.
func (s *post) refused(w http.ResponseWriter, r *http.Request, wc *config.Wall, u Uploader, up uploads.Upload, why *uploads.Refusal) {
	p := s.page(wc, u, "form")
	msg := p.T["err_"+why.Why]
	if msg == "" {
		msg = p.T["err_busy"]
	}
	msg = strings.ReplaceAll(msg, "{mb}", p.MaxMB)
	msg = strings.ReplaceAll(msg, "{chars}", strconv.Itoa(p.Settings.MaxText))
	if why.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(why.RetryAfter/time.Second)+1))
	}
	s.log.Info("upload refused", "wall", wc.Slug, "why", why.Why, "status", why.Status)
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(why.Status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg, "why": why.Why})
		return
	}
	p.Error, p.Name, p.Text = msg, up.Name, up.Text
	p.Code = strings.ToUpper(strings.TrimSpace(up.Code))
	p.AskCode = *p.Settings.RoomCode && (p.Code == "" || why.Why == uploads.WhyCode)
	if why.Why == uploads.WhyCode {
		p.Code = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, why.Status, "post.html", p, nil)
}

// Caps of the form's parts other than the photo.
const (
	maxFieldBytes = 4 << 10
	maxParts      = 8
	uploadTimeout = 2 * time.Minute // a phone on a busy venue Wi-Fi
)

// readUpload reads the form's parts as they arrive: each text field at
// most maxFieldBytes (the text: four bytes a character), the photo at
// most max_photo_bytes, into memory only.
func readUpload(w http.ResponseWriter, r *http.Request, set uploads.Settings) (uploads.Upload, *uploads.Refusal) {
	var up uploads.Upload
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout))
	bad := &uploads.Refusal{Status: http.StatusBadRequest, Why: uploads.WhyEmpty}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return up, &uploads.Refusal{Status: http.StatusUnsupportedMediaType, Why: uploads.WhyEmpty}
	}
	r.Body = http.MaxBytesReader(w, r.Body, set.MaxPhotoBytes+maxParts*maxFieldBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, bad
	}
	tooBig := &uploads.Refusal{Status: http.StatusRequestEntityTooLarge, Why: uploads.WhyTooBig}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return up, tooBig
		}
		if err != nil || n >= maxParts {
			return up, bad
		}
		name := part.FormName()
		if name == "photo" {
			// The request's length is a good guess of the photo's: one
			// buffer, not a doubling series of them.
			buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), set.MaxPhotoBytes)+512))
			_, err := buf.ReadFrom(io.LimitReader(part, set.MaxPhotoBytes+1))
			b := buf.Bytes()
			switch {
			case errors.As(err, &mbe), int64(len(b)) > set.MaxPhotoBytes:
				return up, tooBig
			case err != nil:
				return up, bad
			}
			if len(b) > 0 {
				up.Photo = b
			}
			continue
		}
		limit := int64(maxFieldBytes)
		if name == "text" {
			limit = int64(set.MaxText)*4 + 64
		}
		b, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			if errors.As(err, &mbe) {
				return up, tooBig
			}
			return up, bad
		}
		if int64(len(b)) > limit {
			if name == "text" {
				return up, &uploads.Refusal{Status: http.StatusBadRequest, Why: uploads.WhyTextLong}
			}
			return up, bad
		}
		v := string(b)
		switch name {
		case "code":
			up.Code = v
		case "name":
			up.Name = v
		case "text":
			up.Text = v
		case "consent":
			up.Consent = v != ""
		case "website": // the honeypot: hidden from people
			up.Trap = v
		default:
			return up, bad
		}
	}
}

// sent is the thank-you page, with the link that deletes the post.
func (s *post) sent(w http.ResponseWriter, r *http.Request) {
	wc, u := s.uploaderOf(w, r)
	if wc == nil {
		return
	}
	p := s.page(wc, u, "sent")
	q := r.URL.Query()
	p.DeleteURL = strings.TrimRight(s.Config().Server.BaseURL, "/") + "/walls/" + url.PathEscape(wc.Slug) + "/post/delete?" +
		url.Values{"id": {q.Get("id")}, "t": {q.Get("t")}}.Encode()
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, "post.html", p, nil)
}

// deleteForm asks before deleting: a GET never deletes (link previews
// and scanners open links).
func (s *post) deleteForm(w http.ResponseWriter, r *http.Request) {
	wc, u := s.uploaderOf(w, r)
	if wc == nil {
		return
	}
	p := s.page(wc, u, "delete")
	p.ID, p.Token = r.URL.Query().Get("id"), r.URL.Query().Get("t")
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, "post.html", p, nil)
}

// delete takes a post back: off every screen, out of the database, its
// picture deleted.
func (s *post) delete(w http.ResponseWriter, r *http.Request) {
	wc, u := s.uploaderOf(w, r)
	if wc == nil {
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !ownOrigin(s.Config(), r, o) {
		http.Error(w, "deletes come from the wall's own page", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFieldBytes)
	id, token := r.PostFormValue("id"), r.PostFormValue("t")
	if id == "" {
		id, token = r.URL.Query().Get("id"), r.URL.Query().Get("t")
	}
	p := s.page(wc, u, "delete")
	p.ID, p.Token = id, token
	status := http.StatusOK
	err := u.Delete(r.Context(), id, token)
	var ref *uploads.Refusal
	switch {
	case err == nil:
		p.Done = true
	case errors.As(err, &ref):
		p.Error, status = p.T["err_"+ref.Why], ref.Status
	default:
		p.Error, status = p.T["err_busy"], http.StatusServiceUnavailable
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"deleted": p.Done, "error": p.Error})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, status, "post.html", p, nil)
}

// PostURL is the form's address for a wall, with a room code.
func PostURL(base, slug, code string) string {
	u := strings.TrimRight(base, "/") + "/walls/" + url.PathEscape(slug) + "/post"
	if code != "" {
		u += "?code=" + url.QueryEscape(code)
	}
	return u
}

// postStrings are the form's words in a locale.
func postStrings(locale string) map[string]string {
	if s, ok := postWords[locale]; ok {
		return s
	}
	return postWords["en"]
}
