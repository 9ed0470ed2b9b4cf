package web

import (
	"sync"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// UndoFor is how long a moderator's action can be taken back.
const UndoFor = 10 * time.Second

// undos holds what the last actions changed, by token, for UndoFor.
type undos struct {
	mu  sync.Mutex
	m   map[string]undoEntry
	now func() time.Time
}

type undoEntry struct {
	wall    string
	session string // the CSRF token of the session that acted: only it can undo
	changes []wall.Change
	rule    *wall.Rule // a rule the action added, which an undo removes
	until   time.Time
}

// keep remembers an action's changes (and the rule it added, if any) for
// the session that acted, and returns the token that undoes it ("" when
// it changed nothing).
func (u *undos) keep(sess wall.Session, slug string, changes []wall.Change, rule *wall.Rule) string {
	if len(changes) == 0 && rule == nil {
		return ""
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]undoEntry{}
	}
	if u.now == nil {
		u.now = time.Now
	}
	now := u.now()
	for k, e := range u.m {
		if now.After(e.until) {
			delete(u.m, k)
		}
	}
	t := randomToken()
	u.m[t] = undoEntry{wall: slug, session: sess.CSRF, changes: changes, rule: rule, until: now.Add(UndoFor)}
	return t
}

// take returns, once, what a token still in time for slug undoes, to the
// session that made it; a rule for every wall only to an admin.
func (u *undos) take(sess wall.Session, token, slug string) (undoEntry, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.m[token]
	if !ok || e.wall != slug || e.session != sess.CSRF || (e.rule != nil && e.rule.Wall == "*" && sess.Role != "admin") {
		return undoEntry{}, false
	}
	delete(u.m, token)
	if u.now().After(e.until) {
		return undoEntry{}, false
	}
	return e, true
}
