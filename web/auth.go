package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// auth is the console's login: the form, sessions in cookies, CSRF, and
// the limits on failed logins.
type auth struct {
	*base
	admin  Admin
	logins *limiter
}

const (
	sessionCookie = "wallcast_session"
	loginCookie   = "wallcast_login" // the CSRF token of the login form
)

// Admin is what the admin console is wired to.
type Admin struct {
	Store wall.AdminStore // what the console reads (and the writes run)
	// Writes commits the console's writes and publishes their events.
	Writes wall.Writes
	// Reload re-reads the config file (admins only).
	Reload func() error
	// Forgotten runs after an author was forgotten (the media store
	// deletes their pictures); nil: nothing.
	Forgotten func()
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the system has no randomness: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// limiter counts failed logins per key (a client address, an account).
// It holds at most size keys: past that it forgets the keys whose last
// failure is oldest, but never one that is blocked.
type limiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	size  int
	now   func() time.Time
}

// A limit is how many failures a kind of key may have in a window.
type limit struct {
	max int
	per time.Duration
}

func newLimiter(size int) *limiter {
	return &limiter{fails: map[string][]time.Time{}, size: size, now: time.Now}
}

// recent drops a key's failures older than per; under mu.
func (l *limiter) recent(key string, per time.Duration) []time.Time {
	now := l.now()
	kept := l.fails[key][:0]
	for _, t := range l.fails[key] {
		if now.Sub(t) < per {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = kept
	return kept
}

// blocked reports whether a key has used up its attempts, and when it may
// try again.
func (l *limiter) blocked(key string, lim limit) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(key, lim.per)
	if len(recent) >= lim.max {
		return true, lim.per - l.now().Sub(recent[0])
	}
	return false, 0
}

// fail counts a failure against key.
func (l *limiter) fail(key string, lim limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[key] = append(l.recent(key, lim.per), l.now())
	if len(l.fails) > l.size {
		l.evict(lim)
	}
}

// evict forgets the keys whose last failure is oldest, down to nine tenths
// of the size, keeping every blocked key; under mu.
func (l *limiter) evict(lim limit) {
	type entry struct {
		key  string
		last time.Time
	}
	var free []entry
	for k, ts := range l.fails {
		if len(ts) < lim.max {
			free = append(free, entry{k, ts[len(ts)-1]})
		}
	}
	slices.SortFunc(free, func(a, b entry) int { return a.last.Compare(b.last) })
	for _, e := range free {
		if len(l.fails) <= l.size*9/10 {
			break
		}
		delete(l.fails, e.key)
	}
}

// The login limits: a client address (an IPv6 /64) gets few attempts; an
// account gets more, from everywhere together, so that a guesser spread
// over many addresses is slowed too without one stranger locking the
// account's owner out with five tries.
var (
	addrLimit    = limit{max: 5, per: 5 * time.Minute}
	accountLimit = limit{max: 20, per: 15 * time.Minute}
)

// secureCookies reports whether cookies must be Secure: the server is
// reached over https.
func (s *auth) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.Config().Server.BaseURL, "https://")
}

func (s *auth) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r),
	})
}

type loginPage struct {
	CSRF, Next, Error string
	Enabled           bool
}

func (s *auth) loginForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *auth) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	tok := randomToken()
	s.setCookie(w, r, loginCookie, tok, 3600)
	w.Header().Set("Cache-Control", "no-store")
	if code != http.StatusOK {
		w.WriteHeader(code)
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost && r.PostForm != nil {
		next = r.PostForm.Get("next")
	}
	s.render(w, "admin_login.html", loginPage{CSRF: tok, Next: safeNext(next), Error: msg,
		Enabled: len(s.Config().Admin.Accounts()) > 0}, nil)
}

// safeNext keeps a post-login redirect inside the admin console.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/admin"
}

// dummyHash keeps a login for an unknown user as slow as one for a known
// user, so timing does not tell which names exist. It is made at the
// first login, not when the program starts.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

func (s *auth) login(w http.ResponseWriter, r *http.Request) {
	addr := ClientAddr(r)
	if blocked, wait := s.logins.blocked("addr "+limitKey(addr), addrLimit); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.log.Warn("admin: login rate limited", "addr", addr)
		s.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed attempts. Try again in a few minutes.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !equal(r.PostForm.Get("csrf"), c.Value) {
		s.log.Warn("admin: login without a valid form token", "addr", addr)
		s.renderLogin(w, r, http.StatusForbidden, "The form expired. Please try again.")
		return
	}
	user, pass := r.PostForm.Get("user"), r.PostForm.Get("password")
	account, known := s.account(user)
	if known {
		if blocked, wait := s.logins.blocked("account "+account.Name, accountLimit); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.log.Warn("admin: login rate limited", "user", account.Name, "addr", addr)
			s.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed attempts. Try again in a few minutes.")
			return
		}
	}
	hash := dummyHash()
	if known {
		hash = []byte(account.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !known {
		s.logins.fail("addr "+limitKey(addr), addrLimit)
		if known {
			s.logins.fail("account "+account.Name, accountLimit)
			s.log.Warn("admin: failed login", "user", account.Name, "addr", addr)
		} else {
			// What was typed is not logged: it is often a password typed
			// in the wrong box.
			s.log.Warn("admin: failed login", "user", "(unknown user)", "addr", addr)
		}
		s.renderLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	tok := randomToken()
	sess := wall.Session{User: account.Name, Role: account.Role, CSRF: randomToken(), Credential: credential(account.PasswordHash),
		Expires: time.Now().Add(s.Config().Admin.SessionTTL.D())}
	if err := s.admin.Store.CreateSession(r.Context(), hashToken(tok), sess); err != nil {
		s.log.Error("admin: create session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, sessionCookie, tok, int(s.Config().Admin.SessionTTL.D().Seconds()))
	s.setCookie(w, r, loginCookie, "", -1)
	s.log.Info("admin: login", "user", account.Name, "role", account.Role, "addr", addr)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// account finds a user among the current accounts.
func (s *auth) account(name string) (config.User, bool) {
	for _, a := range s.Config().Admin.Accounts() {
		if a.Name == name && name != "" {
			return a, true
		}
	}
	return config.User{}, false
}

// credential is a fingerprint of a password hash, kept in a session: a
// changed hash ends the sessions opened with the old one.
func credential(passwordHash string) string {
	h := sha256.Sum256([]byte(passwordHash))
	return hex.EncodeToString(h[:16])
}

func (s *auth) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.admin.Store.DeleteSession(r.Context(), hashToken(c.Value))
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

type sessionKey struct{}

// sessionOf returns the session of an authenticated request.
func sessionOf(r *http.Request) wall.Session {
	s, _ := r.Context().Value(sessionKey{}).(wall.Session)
	return s
}

// authed lets a request through only with a live session; state-changing
// requests also need the session's CSRF token (X-CSRF-Token header, or
// the csrf form field). Pages redirect to the login; the API and streams
// answer 401.
func (s *auth) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var sess wall.Session
		ok := false
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			var err error
			sess, ok, err = s.admin.Store.Session(r.Context(), hashToken(c.Value))
			if err != nil {
				s.log.Error("admin: session lookup", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		if ok {
			// The session is only as good as the account today: a removed
			// user or a changed password ends it, a changed role applies
			// at once.
			account, known := s.account(sess.User)
			if !known || !equal(sess.Credential, credential(account.PasswordHash)) {
				s.log.Warn("admin: session of a removed account or an old password ended", "user", sess.User, "addr", ClientAddr(r))
				if c, err := r.Cookie(sessionCookie); err == nil {
					s.admin.Store.DeleteSession(r.Context(), hashToken(c.Value))
				}
				ok = false
			} else {
				sess.Role = account.Role
			}
		}
		if !ok {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/admin/api/") && !strings.HasSuffix(r.URL.Path, "/events") {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			jsonError(w, http.StatusUnauthorized, "login required")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" && r.ParseForm() == nil {
				tok = r.PostForm.Get("csrf")
			}
			if !equal(tok, sess.CSRF) {
				s.log.Warn("admin: bad CSRF token", "user", sess.User, "path", r.URL.Path)
				jsonError(w, http.StatusForbidden, "missing or wrong CSRF token")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	}
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
