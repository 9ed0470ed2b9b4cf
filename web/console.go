package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/wall"
)

// console is the admin console's API and pages: the moderation queue and
// its stream, moderation, rules, show control, polls, announcements,
// forget, display changes and reloads. Its login is auth's, its reports
// reports'.
type console struct {
	*base
	admin      Admin
	hub        *fanout.Hub
	health     func() []wall.SourceHealth
	endpoints  func() []wall.EndpointHealth
	pages      *pages // a wall as its screens show it (config events)
	auth       *auth
	reports    *reports
	streams    *atomic.Int64 // open streams that are not screens
	replayPage int           // events one replay query of the queue reads
	undos      undos         // actions that can be taken back
}

func (s *console) routes(r *mux.Router) {
	r.HandleFunc("/admin/login", s.auth.loginForm).Methods(http.MethodGet)
	r.HandleFunc("/admin/login", s.auth.login).Methods(http.MethodPost)
	r.HandleFunc("/admin/logout", s.auth.authed(s.auth.logout)).Methods(http.MethodPost)
	r.HandleFunc("/admin", s.auth.authed(s.adminIndex)).Methods(http.MethodGet)
	r.HandleFunc("/admin/", s.auth.authed(s.adminIndex)).Methods(http.MethodGet)
	r.HandleFunc("/admin/walls/{slug}", s.auth.authed(s.adminWall)).Methods(http.MethodGet)
	r.HandleFunc("/admin/walls/{slug}/queue/events", s.auth.authed(s.queueEvents)).Methods(http.MethodGet)
	r.HandleFunc("/admin/api/walls/{slug}/queue", s.auth.authed(s.queueState)).Methods(http.MethodGet)
	r.HandleFunc("/admin/api/walls/{slug}/posts/{id:.+}/{action:approve|reject|remove|restore|pin|unpin}", s.auth.authed(s.moderate)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/announcements", s.auth.authed(s.announce)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/announcements/{id}/end", s.auth.authed(s.endAnnouncement)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/bans", s.auth.authed(s.addRule(wall.RuleAuthor))).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/blocked_words", s.auth.authed(s.addRule(wall.RuleWord))).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/trusted", s.auth.authed(s.addRule(wall.RuleTrusted))).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/forget", s.auth.authed(s.forget)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/bulk", s.auth.authed(s.bulk)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/show", s.auth.authed(s.show)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/sponsors", s.auth.authed(s.sponsors)).Methods(http.MethodGet)
	r.HandleFunc("/admin/api/walls/{slug}/report.{format:csv|json}", s.auth.authed(s.reports.reportExport)).Methods(http.MethodGet)
	r.HandleFunc("/admin/walls/{slug}/report", s.auth.authed(s.reports.reportPage)).Methods(http.MethodGet)
	r.HandleFunc("/admin/walls/{slug}/report/{chart:posts|screens}.svg", s.auth.authed(s.reports.reportChart)).Methods(http.MethodGet)
	r.HandleFunc("/admin/api/walls/{slug}/polls", s.auth.authed(s.openPoll)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/polls/{id}/close", s.auth.authed(s.closePoll)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/posts/{id:.+}/media/{n:[0-9]+}", s.auth.authed(s.adjust)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/undo", s.auth.authed(s.undo)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/walls/{slug}/display", s.auth.authed(s.setDisplay)).Methods(http.MethodPost)
	r.HandleFunc("/admin/api/reload", s.auth.authed(s.reload)).Methods(http.MethodPost)
}

type adminPage struct {
	Session wall.Session
	Config  *config.Config
	Wall    *config.Wall
}

func (s *console) adminIndex(w http.ResponseWriter, r *http.Request) {
	s.render(w, "admin_index.html", adminPage{Session: sessionOf(r), Config: s.Config()}, nil)
}

// adminWall finds the wall of an admin request ("*" is every wall, for
// admins), answering 404 otherwise.
func (s *console) adminWall(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	s.render(w, "admin_wall.html", adminPage{Session: sessionOf(r), Config: s.Config(), Wall: wc}, nil)
}

func (s *console) queueState(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	st, err := s.admin.Store.Queue(r.Context(), wc.Slug, 100)
	if err == nil {
		st.Announcements, err = s.admin.Store.Announcements(r.Context(), wc.Slug)
	}
	if err != nil {
		s.log.Error("admin: queue", "wall", wc.Slug, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, st)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// commit runs a moderation write in turn with ingest, and answers.
func (s *console) commit(w http.ResponseWriter, r *http.Request, what string, fn func() ([]wall.Event, error)) bool {
	return s.answered(w, what, s.admin.Writes.Commit(fn))
}

// answered tells the console how a write went: true when it was done,
// else the error's status has been written.
func (s *console) answered(w http.ResponseWriter, what string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, wall.ErrInvalid):
		jsonError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, wall.ErrNotFound):
		jsonError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, wall.ErrConflict):
		jsonError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error("admin: "+what, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
	}
	return false
}

func (s *console) moderate(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	v := mux.Vars(r)
	sess := sessionOf(r)
	if !undoable[v["action"]] { // pin and unpin undo each other
		if s.commit(w, r, "moderate", func() ([]wall.Event, error) {
			return s.admin.Store.Moderate(r.Context(), wc.Slug, v["id"], v["action"], sess.User)
		}) {
			s.log.Info("admin: moderated", "user", sess.User, "wall", wc.Slug, "post", v["id"], "action", v["action"])
			writeJSON(w, map[string]string{"ok": v["action"]})
		}
		return
	}
	s.moderateMany(w, r, wc.Slug, []string{v["id"]}, v["action"])
}

// undoable are the actions the console can take back for UndoFor.
var undoable = map[string]bool{wall.ActApprove: true, wall.ActReject: true, wall.ActRemove: true, wall.ActRestore: true}

// bulk applies one action to several posts in one request:
// {"action": "approve", "ids": [...]}.
func (s *console) bulk(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	var body struct {
		Action string   `json:"action"`
		IDs    []string `json:"ids"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&body); err != nil {
		jsonError(w, http.StatusBadRequest, "body is not {\"action\": …, \"ids\": […]}")
		return
	}
	if !undoable[body.Action] || len(body.IDs) == 0 || len(body.IDs) > 500 {
		jsonError(w, http.StatusBadRequest, "action is approve, reject, remove or restore, with 1 to 500 ids")
		return
	}
	s.moderateMany(w, r, wc.Slug, body.IDs, body.Action)
}

// moderateMany applies an action and answers with a token that undoes it
// for UndoFor.
func (s *console) moderateMany(w http.ResponseWriter, r *http.Request, slug string, ids []string, action string) {
	sess := sessionOf(r)
	var changes []wall.Change
	if s.commit(w, r, "moderate", func() ([]wall.Event, error) {
		ev, ch, err := s.admin.Store.ModerateMany(r.Context(), slug, ids, action, sess.User)
		changes = ch
		return ev, err
	}) {
		s.log.Info("admin: moderated", "user", sess.User, "wall", slug, "posts", len(changes), "action", action)
		writeJSON(w, map[string]any{"ok": action, "posts": len(changes), "undo": s.undos.keep(sessionOf(r), slug, changes, nil)})
	}
}

// adjust changes how one media item of a post shows on the screens:
// {"hide": true}, {"blur": true}, {"alt": "…"} (where the author gave none).
func (s *console) adjust(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	var adj wall.Adjustment
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10)).Decode(&adj); err != nil || (adj.Hide == nil && adj.Blur == nil && adj.Alt == nil) {
		jsonError(w, http.StatusBadRequest, `body is {"hide": bool}, {"blur": bool} or {"alt": "text"}`)
		return
	}
	if adj.Alt != nil && len(*adj.Alt) > 1000 {
		jsonError(w, http.StatusBadRequest, "alt text longer than 1000 bytes")
		return
	}
	v := mux.Vars(r)
	adj.Media, _ = strconv.Atoi(v["n"])
	sess := sessionOf(r)
	if s.commit(w, r, "adjust", func() ([]wall.Event, error) {
		return s.admin.Store.Adjust(r.Context(), wc.Slug, v["id"], adj, sess.User)
	}) {
		s.log.Info("admin: adjusted", "user", sess.User, "wall", wc.Slug, "post", v["id"], "media", adj.Media)
		writeJSON(w, map[string]string{"ok": "adjusted"})
	}
}

// undo takes back an action whose token is less than UndoFor old.
func (s *console) undo(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	f, err := form(r, "token")
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	sess := sessionOf(r)
	e, ok := s.undos.take(sess, f["token"], wc.Slug)
	if !ok {
		jsonError(w, http.StatusGone, fmt.Sprintf("nothing to undo: an action can be undone for %s, by the session that made it", UndoFor))
		return
	}
	if s.answered(w, "undo", s.admin.Writes.Undo(r.Context(), wc.Slug, e.changes, e.rule, sess.User)) {
		writeJSON(w, map[string]any{"ok": "undone", "posts": len(e.changes)})
	}
}

// form reads a JSON or form-encoded body into fields.
func form(r *http.Request, fields ...string) (map[string]string, error) {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&m); err != nil {
			return nil, fmt.Errorf("body is not a JSON object: %w", err)
		}
		for _, f := range fields {
			if v, ok := m[f]; ok && v != nil {
				out[f] = strings.TrimSpace(fmt.Sprint(v))
			}
		}
		return out, nil
	}
	for _, f := range fields {
		out[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	return out, nil
}

// addRule bans an author or blocks a word on a wall; with "all": true an
// admin does it for every wall.
func (s *console) addRule(kind string) http.HandlerFunc {
	field := map[string]string{wall.RuleAuthor: "author", wall.RuleWord: "word", wall.RuleTrusted: "author"}[kind]
	return func(w http.ResponseWriter, r *http.Request) {
		wc := s.wallOf(w, r)
		if wc == nil {
			return
		}
		f, err := form(r, field, "all")
		if err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		rule := wall.Rule{Wall: wc.Slug, Kind: kind, Value: f[field]}
		if rule.Value == "" || len(rule.Value) > 200 {
			jsonError(w, http.StatusBadRequest, field+" is required")
			return
		}
		sess := sessionOf(r)
		if f["all"] == "true" {
			if sess.Role != "admin" {
				jsonError(w, http.StatusForbidden, "only admins set rules for every wall")
				return
			}
			rule.Wall = "*"
		}
		changes, added, err := s.admin.Writes.AddRule(r.Context(), rule, sess.User)
		if s.answered(w, "add rule", err) {
			s.log.Info("admin: rule added", "user", sess.User, "wall", rule.Wall, "kind", kind)
			var undoRule *wall.Rule
			if added {
				undoRule = &rule
			}
			writeJSON(w, map[string]any{"ok": "added", "posts": len(changes), "undo": s.undos.keep(sess, wc.Slug, changes, undoRule)})
		}
	}
}

// forget deletes every post of an author from the database and the
// screens, for takedown requests and data-protection law (admins only).
func (s *console) forget(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	if sess.Role != "admin" {
		jsonError(w, http.StatusForbidden, "only admins forget authors")
		return
	}
	f, err := form(r, "author")
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	handle := strings.TrimSpace(f["author"])
	if strings.TrimPrefix(handle, "@") == "" || len(handle) > 200 {
		jsonError(w, http.StatusBadRequest, "author (the handle) is required")
		return
	}
	n := 0
	if s.commit(w, r, "forget", func() ([]wall.Event, error) {
		ev, count, err := s.admin.Store.Forget(r.Context(), handle, sess.User)
		n = count
		return ev, err
	}) {
		s.log.Info("admin: author forgotten", "user", sess.User, "posts", n) // no handle in the log either
		if s.admin.Forgotten != nil {
			s.admin.Forgotten()
		}
		writeJSON(w, map[string]int{"forgotten": n})
	}
}

// setDisplay switches a wall's layout or theme from the console: the
// change is kept (over the config's) and every open screen follows it.
func (s *console) setDisplay(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	f, err := form(r, "layout", "theme")
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	o := DisplayOverride{Layout: f["layout"], Theme: f["theme"]}
	if o.Layout != "" && !slices.Contains(config.Layouts, o.Layout) {
		jsonError(w, http.StatusBadRequest, "layout must be one of "+strings.Join(config.Layouts, ", "))
		return
	}
	if o.Theme != "" && o.Theme != "dark" && o.Theme != "light" {
		jsonError(w, http.StatusBadRequest, "theme must be dark or light")
		return
	}
	cur := s.pages.effective(r.Context(), wc)
	if o.Layout == "" {
		o.Layout = cur.Display.Layout
	}
	if o.Theme == "" {
		o.Theme = cur.Display.Theme
	}
	next := *wc
	next.Display.Layout, next.Display.Theme = o.Layout, o.Theme
	override, _ := json.Marshal(o)
	sess := sessionOf(r)
	if s.commit(w, r, "display", func() ([]wall.Event, error) {
		return s.admin.Store.SetDisplay(r.Context(), wc.Slug, override, ConfigEvent(&next), sess.User)
	}) {
		writeJSON(w, displaySettings(&next))
	}
}

func (s *console) reload(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r).Role != "admin" {
		jsonError(w, http.StatusForbidden, "only admins reload the config")
		return
	}
	if s.admin.Reload == nil {
		jsonError(w, http.StatusNotImplemented, "reload is not available")
		return
	}
	if err := s.admin.Reload(); err != nil {
		jsonError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, map[string]string{"ok": "reloaded"})
}

// queueEvents is the moderation queue's stream: every event of the wall
// (pending posts included) after Last-Event-ID, then live, plus the
// sources' health every few seconds.
func (s *console) queueEvents(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	sub := s.hub.SubscribeQueue(wc.Slug)
	if sub == nil {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.hub.Unsubscribe(sub)
	s.streams.Add(1)
	defer s.streams.Add(-1)
	cfg := s.Config()
	sw := fanout.OpenStream(w, r, s.Config().Server.WriteTimeout.D())
	out := &fanout.Pieces{Send: sw.Send}
	fmt.Fprintf(out, "retry: %d\n\n", cfg.Server.Retry.D().Milliseconds())
	// An id that is not a number is no resume point: as on the display
	// stream, nothing is replayed from it (the console loads its state
	// from /queue and resumes from the head that gives it).
	last, present, valid := fanout.LastEventID(r)
	if present && valid {
		// Page by page, written as it is read: the console's log can be long.
		for {
			events, err := s.admin.Store.ReplayAll(r.Context(), wc.Slug, last, s.replayPage)
			if err != nil {
				s.log.Error("admin: queue replay", "err", err)
				return
			}
			for _, e := range events {
				out.Write(fanout.Encode(e))
				last = e.Seq
			}
			if len(events) < s.replayPage || out.Err() != nil {
				break
			}
		}
	}
	var buf bytes.Buffer
	health := func() {
		h, _ := json.Marshal(s.health())
		buf.Write(fanout.Encode(wall.Event{Type: wall.EventHealth, Data: h}))
		if es := s.endpoints(); len(es) > 0 {
			o, _ := json.Marshal(es)
			buf.Write(fanout.Encode(wall.Event{Type: wall.EventOutbound, Data: o}))
		}
	}
	health()
	out.Write(buf.Bytes())
	if err := out.Flush(); err != nil {
		return
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		buf.Reset()
		select {
		case <-r.Context().Done():
			return
		case <-sub.Done():
			return
		case <-t.C:
			health()
		case f := <-sub.C:
			last = fanout.AppendFrame(&buf, f, last)
		}
		if buf.Len() > 0 {
			if err := sw.Send(buf.Bytes()); err != nil {
				return
			}
		}
	}
}
