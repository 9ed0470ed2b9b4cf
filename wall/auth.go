package wall

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	sessionCookie = "wallcast_session"
	loginCookie   = "wallcast_login" // the CSRF token of the login form
)

// Admin is what the admin console is wired to.
type Admin struct {
	Store AdminStore
	// Commit runs a write and publishes its events in turn with ingest.
	Commit func(func() ([]Event, error)) error
	// Catches tells whether a rule applies to a post (ingest's matching).
	Catches func(Rule, Post) bool
	// RulesChanged is called after a rule is added, so ingest applies it.
	RulesChanged func(context.Context)
	// Reload re-reads the config file (admins only).
	Reload func() error
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

// limiter counts failed logins per client address.
type limiter struct {
	mu    sync.Mutex
	fails map[string][]time.Time
	max   int
	per   time.Duration
}

func newLimiter(max int, per time.Duration) *limiter {
	return &limiter{fails: map[string][]time.Time{}, max: max, per: per}
}

// blocked reports whether an address has used up its attempts, and when
// it may try again.
func (l *limiter) blocked(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.fails[addr][:0]
	for _, t := range l.fails[addr] {
		if time.Since(t) < l.per {
			recent = append(recent, t)
		}
	}
	l.fails[addr] = recent
	if len(recent) >= l.max {
		return true, l.per - time.Since(recent[0])
	}
	return false, 0
}

func (l *limiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 10000 {
		clear(l.fails)
	}
	l.fails[addr] = append(l.fails[addr], time.Now())
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secureCookies reports whether cookies must be Secure: the server is
// reached over https.
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.Config().Server.BaseURL, "https://")
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r),
	})
}

type loginPage struct {
	CSRF, Next, Error string
	Enabled           bool
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	tok := randomToken()
	s.setCookie(w, r, loginCookie, tok, 3600)
	w.Header().Set("Cache-Control", "no-store")
	if code != http.StatusOK {
		w.WriteHeader(code)
	}
	s.render(w, "admin_login.html", loginPage{CSRF: tok, Next: safeNext(r.FormValue("next")), Error: msg,
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
// user, so timing does not tell which names exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if blocked, wait := s.logins.blocked(addr); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.log.Warn("admin: login rate limited", "addr", addr)
		s.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed attempts. Try again in a few minutes.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || !equal(r.PostFormValue("csrf"), c.Value) {
		s.log.Warn("admin: login without a valid form token", "addr", addr)
		s.renderLogin(w, r, http.StatusForbidden, "The form expired. Please try again.")
		return
	}
	user, pass := r.PostFormValue("user"), r.PostFormValue("password")
	var account *struct{ name, role, hash string }
	for _, a := range s.Config().Admin.Accounts() {
		if a.Name == user {
			account = &struct{ name, role, hash string }{a.Name, a.Role, a.PasswordHash}
		}
	}
	hash := dummyHash
	if account != nil {
		hash = []byte(account.hash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || account == nil {
		s.logins.fail(addr)
		s.log.Warn("admin: failed login", "user", user, "addr", addr)
		s.renderLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	tok := randomToken()
	sess := Session{User: account.name, Role: account.role, CSRF: randomToken(), Expires: time.Now().Add(s.Config().Admin.SessionTTL.D())}
	if err := s.admin.Store.CreateSession(r.Context(), hashToken(tok), sess); err != nil {
		s.log.Error("admin: create session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, sessionCookie, tok, int(s.Config().Admin.SessionTTL.D().Seconds()))
	s.setCookie(w, r, loginCookie, "", -1)
	s.log.Info("admin: login", "user", account.name, "role", account.role, "addr", addr)
	http.Redirect(w, r, safeNext(r.FormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.admin.Store.DeleteSession(r.Context(), hashToken(c.Value))
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

type sessionKey struct{}

// sessionOf returns the session of an authenticated request.
func sessionOf(r *http.Request) Session {
	s, _ := r.Context().Value(sessionKey{}).(Session)
	return s
}

// authed lets a request through only with a live session; state-changing
// requests also need the session's CSRF token (X-CSRF-Token header, or
// the csrf form field). Pages redirect to the login; the API and streams
// answer 401.
func (s *Server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var sess Session
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
			if tok == "" {
				tok = r.PostFormValue("csrf")
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
