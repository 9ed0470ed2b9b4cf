package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/wall"
)

// show is show control: pause and resume the screens, feature a post
// full screen for some seconds, put up a holding slide, step a spotlight.
func (s *console) show(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	var c wall.ShowChange
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10)).Decode(&c); err != nil {
		jsonError(w, http.StatusBadRequest, `body is {"action": "pause" | "resume" | "feature" (with "id", "seconds") | "unfeature" | "slide" (with "text", "image") | "unslide" | "next" | "previous"}`)
		return
	}
	if c.Image != "" && match.SafeURL(c.Image) == "" {
		jsonError(w, http.StatusBadRequest, "image must be an http(s) URL")
		return
	}
	if len(c.Text) > 500 {
		jsonError(w, http.StatusBadRequest, "a slide's text is at most 500 bytes")
		return
	}
	sess := sessionOf(r)
	var st wall.Show
	if s.commit(w, r, "show", func() ([]wall.Event, error) {
		ev, state, err := s.admin.Store.Show(r.Context(), wc.Slug, c, sess.User)
		st = state
		return ev, err
	}) {
		s.log.Info("admin: show", "user", sess.User, "wall", wc.Slug, "action", c.Action)
		writeJSON(w, st)
	}
}

// openPoll opens a live poll: {"question", "options": [{"text", "tag"}],
// "minutes"} (0: closed by hand).
func (s *console) openPoll(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	var body struct {
		Question string            `json:"question"`
		Options  []wall.PollOption `json:"options"`
		Minutes  int               `json:"minutes"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10)).Decode(&body); err != nil {
		jsonError(w, http.StatusBadRequest, `body is {"question", "options": [{"text", "tag"}], "minutes"}`)
		return
	}
	p := wall.Poll{Question: strings.TrimSpace(body.Question)}
	seen := map[string]bool{}
	for _, o := range body.Options {
		tag := match.Tag(o.Tag)
		if tag == "" || seen[tag] || strings.TrimSpace(o.Text) == "" {
			jsonError(w, http.StatusBadRequest, "each option needs a text and a hashtag of its own")
			return
		}
		seen[tag] = true
		p.Options = append(p.Options, wall.PollOption{Text: strings.TrimSpace(o.Text), Tag: tag})
	}
	if p.Question == "" || len(p.Question) > 300 || len(p.Options) < 2 || len(p.Options) > 6 || body.Minutes < 0 || body.Minutes > 24*60 {
		jsonError(w, http.StatusBadRequest, "a poll needs a question and 2 to 6 options, and lasts 0 (until closed) to 1440 minutes")
		return
	}
	if body.Minutes > 0 {
		p.ClosesAt = time.Now().Add(time.Duration(body.Minutes) * time.Minute).UTC().Truncate(time.Second)
	}
	sess := sessionOf(r)
	if s.commit(w, r, "poll", func() ([]wall.Event, error) {
		ev, opened, err := s.admin.Store.OpenPoll(r.Context(), wc.Slug, p, sess.User)
		p = opened
		return ev, err
	}) {
		writeJSON(w, p)
	}
}

func (s *console) closePoll(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	sess := sessionOf(r)
	if s.commit(w, r, "poll", func() ([]wall.Event, error) {
		return s.admin.Store.ClosePoll(r.Context(), wc.Slug, mux.Vars(r)["id"], sess.User)
	}) {
		writeJSON(w, map[string]string{"ok": "closed"})
	}
}

// sponsors reads the sponsors' showings on a wall's screens.
func (s *console) sponsors(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	im, err := s.admin.Store.Impressions(r.Context(), wc.Slug)
	if err != nil {
		s.log.Error("admin: sponsors", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, map[string]any{"impressions": im})
}

func (s *console) announce(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	f, err := form(r, "text", "url", "image", "starts_at", "expires_at", "minutes")
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	a := wall.Announcement{Text: f["text"], URL: f["url"], Image: f["image"]}
	if a.Text == "" || len(a.Text) > 500 {
		jsonError(w, http.StatusBadRequest, "text is required (at most 500 characters)")
		return
	}
	for name, u := range map[string]string{"url": a.URL, "image": a.Image} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			jsonError(w, http.StatusBadRequest, name+" must be an http(s) URL")
			return
		}
	}
	if f["starts_at"] != "" {
		t, err := time.Parse(time.RFC3339, f["starts_at"])
		if err != nil {
			jsonError(w, http.StatusBadRequest, "starts_at must be an RFC 3339 time such as 2026-11-25T14:00:00Z")
			return
		}
		a.StartsAt = t.UTC()
	}
	switch {
	case f["expires_at"] != "":
		t, err := time.Parse(time.RFC3339, f["expires_at"])
		if err != nil {
			jsonError(w, http.StatusBadRequest, "expires_at must be an RFC 3339 time such as 2026-11-25T18:00:00Z")
			return
		}
		a.ExpiresAt = t.UTC()
	case f["minutes"] != "" && f["minutes"] != "0":
		var m int
		if _, err := fmt.Sscan(f["minutes"], &m); err != nil || m < 0 {
			jsonError(w, http.StatusBadRequest, "minutes must be a number")
			return
		}
		from := time.Now()
		if a.StartsAt.After(from) {
			from = a.StartsAt // minutes of showing, from the start
		}
		a.ExpiresAt = from.Add(time.Duration(m) * time.Minute).UTC().Truncate(time.Second)
	}
	if !a.ExpiresAt.IsZero() && !a.StartsAt.IsZero() && !a.ExpiresAt.After(a.StartsAt) {
		jsonError(w, http.StatusBadRequest, "expires_at must come after starts_at")
		return
	}
	sess := sessionOf(r)
	if s.commit(w, r, "announce", func() ([]wall.Event, error) { return s.admin.Store.Announce(r.Context(), wc.Slug, a, sess.User) }) {
		writeJSON(w, map[string]string{"ok": "announced"})
	}
}

func (s *console) endAnnouncement(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	id, sess := mux.Vars(r)["id"], sessionOf(r)
	if s.commit(w, r, "end announcement", func() ([]wall.Event, error) {
		return s.admin.Store.EndAnnouncement(r.Context(), wc.Slug, id, sess.User)
	}) {
		writeJSON(w, map[string]string{"ok": "ended"})
	}
}
