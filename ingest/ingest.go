// Package ingest takes items from sources and decides their fate: which walls
// want them, whether a wall's filters let them through, what their HTML may
// keep. It then commits them in batches and announces the committed events.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/wall"
	"github.com/wallcast/wallcast/wordlist"
	"golang.org/x/net/html"
)

// Publisher receives the events of each committed batch, in commit order.
type Publisher interface {
	Publish(events []wall.Event)
}

// rule is one wall's compiled routing and filters.
type rule struct {
	slug           string
	manual         bool
	tags           map[string]bool
	keywords       []string
	allFrom        map[string]bool // sources whose every item this wall takes
	f              config.Filters
	blockedWords   []string
	blockedAuthors map[string]bool
	langs          map[string]bool
	words          *wordlist.Set // the word lists it applies (nil: none)
	holdIf         map[config.HoldReason]bool
	trustedSources map[string]bool
	trustedAuthors map[string]bool   // TrustKey
	types          map[string]string // source name -> type, shared
}

// Router decides which walls take a post. It is immutable once built, so a
// config reload swaps in a new one.
type Router struct {
	bySource map[string][]*rule
	mem      *Memory // the pipeline's, for floods and duplicates (nil: none)
}

// NewRouter compiles the walls of a config, with the global filters and
// the rules moderators added while the event runs.
func NewRouter(c *config.Config, extra ...wall.Rule) *Router {
	r := &Router{bySource: map[string][]*rule{}}
	sets := map[string]*wordlist.Set{} // walls with the same lists share them
	types := map[string]string{}
	for _, sc := range c.Sources {
		types[sc.Name] = sc.Type
	}
	for _, w := range c.Walls {
		w.Filters = c.Merged(&w)
		for _, x := range extra {
			if x.Wall != "*" && x.Wall != w.Slug {
				continue
			}
			switch x.Kind {
			case wall.RuleAuthor:
				w.Filters.BlockedAuthors = append(w.Filters.BlockedAuthors, x.Value)
			case wall.RuleWord:
				w.Filters.BlockedWords = append(w.Filters.BlockedWords, x.Value)
			case wall.RuleTrusted:
				w.Trusted.Authors = append(w.Trusted.Authors, x.Value)
			}
		}
		ru := &rule{
			slug: w.Slug, manual: w.Moderation == "manual", f: w.Filters,
			tags: map[string]bool{}, allFrom: map[string]bool{},
			blockedAuthors: map[string]bool{}, langs: map[string]bool{},
			holdIf: map[config.HoldReason]bool{}, trustedSources: map[string]bool{}, trustedAuthors: map[string]bool{}, types: types,
		}
		if len(w.Filters.WordLists) > 0 {
			key := strings.Join(w.Filters.WordLists, ",")
			if sets[key] == nil {
				sets[key], _ = wordlist.Load(w.Filters.WordLists...) // config checked the names
			}
			ru.words = sets[key]
		}
		for _, h := range w.Filters.HoldIf {
			ru.holdIf[h] = true
		}
		for _, s := range w.Trusted.Sources {
			ru.trustedSources[s] = true
		}
		for _, a := range w.Trusted.Authors {
			if k, ok := TrustKey(a); ok {
				ru.trustedAuthors[k] = true
			}
		}
		for _, t := range w.Hashtags {
			if t = match.Tag(t); t != "" {
				ru.tags[t] = true
			}
		}
		for _, k := range w.Keywords {
			if k = match.Phrase(k); k != "" {
				ru.keywords = append(ru.keywords, k)
			}
		}
		for _, b := range w.Filters.BlockedWords {
			if b = match.Phrase(b); b != "" {
				ru.blockedWords = append(ru.blockedWords, b)
			}
		}
		for _, a := range w.Filters.BlockedAuthors {
			ru.blockedAuthors[authorKey(a)] = true
		}
		for _, l := range w.Filters.Languages {
			ru.langs[langKey(l)] = true
		}
		everything := w.Match == "all" || (len(ru.tags) == 0 && len(ru.keywords) == 0)
		for _, s := range w.Sources {
			if src := c.Source(s); src != nil && (src.AllPosts || (src.People && everything)) {
				ru.allFrom[s] = true
			}
			r.bySource[s] = append(r.bySource[s], ru)
		}
	}
	return r
}

func authorKey(a string) string { return match.Fold(strings.TrimPrefix(strings.TrimSpace(a), "@")) }

func langKey(l string) string {
	l, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(l)), "-")
	l, _, _ = strings.Cut(l, "_")
	return l
}

// wants is the cheap first look: could any wall of this source take a post
// with these raw tags and this raw content? It never says no to a post that
// Route would take.
func (r *Router) wants(source string, p *wall.Post) bool {
	rules := r.bySource[source]
	if len(rules) == 0 {
		return false
	}
	for _, t := range p.Tags {
		t = match.Tag(t)
		for _, ru := range rules {
			if ru.tags[t] {
				return true
			}
		}
	}
	var folded string
	for _, ru := range rules {
		if len(ru.keywords) > 0 || ru.allFrom[source] {
			return true
		}
		if len(p.HTML)+1+len(p.Text) > match.MaxText {
			return true // folding reads the start only: let Route decide
		}
		if folded == "" {
			folded = match.Fold(p.HTML + " " + p.Text)
		}
		for t := range ru.tags {
			if strings.Contains(folded, t) {
				return true
			}
		}
	}
	return false
}

// Route returns the walls that take a sanitised post, and its fate on each.
// only, when not empty, limits the walls considered.
func (r *Router) Route(source string, p *wall.Post, only ...string) []wall.Target {
	var out []wall.Target
	var words string
	for _, ru := range r.bySource[source] {
		if len(only) > 0 && !slices.Contains(only, ru.slug) {
			continue
		}
		takes := ru.allFrom[source]
		for _, t := range p.Tags {
			if takes {
				break
			}
			takes = ru.tags[match.Tag(t)]
		}
		if !takes && len(ru.keywords) > 0 {
			if words == "" {
				words = match.Words(p.ContentWarning + " " + p.Text)
			}
			for _, k := range ru.keywords {
				if strings.Contains(words, k) {
					takes = true
					break
				}
			}
		}
		if !takes {
			continue
		}
		out = append(out, ru.fate(source, p, &words))
	}
	return out
}

// admit applies the walls' max_posts_per_author (not to trusted sources
// and authors), duplicates_within and hold_if new_author to a new post's
// targets; the memory keeps what they let through.
func (r *Router) admit(source string, p *wall.Post, targets []wall.Target) {
	if r.mem == nil {
		return
	}
	for i := range targets {
		t := &targets[i]
		if t.Status == wall.StatusRejected {
			continue
		}
		i := slices.IndexFunc(r.bySource[source], func(ru *rule) bool { return ru.slug == t.Wall })
		if i < 0 {
			continue
		}
		ru := r.bySource[source][i]
		trusted := ru.trustedSources[source] || ru.trusts(source, p)
		if why := r.mem.admit(ru.slug, ru.f.MaxPostsPerAuthor.N, ru.f.MaxPostsPerAuthor.Per, ru.f.DuplicatesWithin.D(), !trusted, p); why != "" {
			t.Status, t.Reason = wall.StatusRejected, why
			continue
		}
		// Authors are noted only where new_author is on: it costs a map
		// and a lock per post.
		if ru.holdIf[config.HoldNewAuthor] && r.mem.firstPost(ru.slug, p.Author) && !trusted && t.Status == wall.StatusVisible {
			t.Status, t.Reason = wall.StatusPending, "held: first post on this wall"
		}
	}
}

// fate decides what a wall does with a post it takes: the block lists
// (the filters, blocked words and authors, the word lists) for everyone;
// then, unless the source or the author is trusted, the hold_if rules and
// the queue of a manual wall.
func (ru *rule) fate(source string, p *wall.Post, words *string) wall.Target {
	t := wall.Target{Wall: ru.slug, Status: wall.StatusVisible}
	if reason := ru.reject(p, words); reason != "" {
		t.Status, t.Reason = wall.StatusRejected, reason
		return t
	}
	if m, field, ok := ru.listed(p); ok {
		t.Status, t.Reason = wall.StatusRejected, fmt.Sprintf("word list %s (%s: %s)", m.List, field, m.Word)
		if ru.holdIf[config.HoldWordList] {
			t.Status = wall.StatusPending
		}
		return t
	}
	if ru.trustedSources[source] || ru.trusts(source, p) {
		return t
	}
	if ru.holdIf[config.HoldUpload] && ru.types[source] == "uploads" {
		t.Status, t.Reason = wall.StatusPending, "held: sent from a phone"
		return t
	}
	if why := ru.hold(p); why != "" {
		t.Status, t.Reason = wall.StatusPending, "held: "+why
		return t
	}
	if ru.holdIf[config.HoldClassifier] {
		t.Status, t.Reason, t.Classify = wall.StatusPending, "held: waiting for the classifier", true
		return t
	}
	if ru.manual {
		t.Status = wall.StatusPending
	}
	return t
}

// Manual reports whether a wall holds every post for a moderator.
func (r *Router) Manual(slug string) bool {
	for _, rules := range r.bySource {
		for _, ru := range rules {
			if ru.slug == slug {
				return ru.manual
			}
		}
	}
	return false
}

// listed finds a word of the wall's lists in any field of a post a screen
// shows: the text (link texts included), the content warning, the display
// name, the handle, the alt texts.
func (ru *rule) listed(p *wall.Post) (wordlist.Match, string, bool) {
	if ru.words == nil {
		return wordlist.Match{}, "", false
	}
	fields := []struct{ name, text string }{
		{"text", p.Text}, {"content warning", p.ContentWarning}, {"display name", p.Author.Name},
		{"handle", strings.ReplaceAll(p.Author.Handle, "@", " ")}, // '@' is the handle's own, not a letter
	}
	for _, m := range p.Media {
		fields = append(fields, struct{ name, text string }{"alt text", m.Alt})
	}
	for _, f := range fields {
		if m, ok := ru.words.Find(f.text); ok {
			return m, f.name, true
		}
	}
	return wordlist.Match{}, "", false
}

// hold returns why the hold_if rules hold a post, or "".
func (ru *rule) hold(p *wall.Post) string {
	switch {
	case ru.holdIf[config.HoldLinks] && hasLinks(p.HTML):
		return "links"
	case ru.holdIf[config.HoldMedia] && len(p.Media) > 0:
		return "media"
	case (ru.words != nil || len(ru.blockedWords) > 0) && len(p.ContentWarning)+1+len(p.Text) > match.MaxText:
		// Matching reads the first match.MaxText bytes: what is longer
		// waits for a moderator rather than pass unread.
		return fmt.Sprintf("text longer than %d KiB, not wholly checked", match.MaxText>>10)
	case ru.holdIf[config.HoldYoungAccount] && ru.young(p.Author):
		return "account younger than " + ru.f.MinAccountAge.D().String()
	}
	return ""
}

func (ru *rule) young(a wall.Author) bool {
	return ru.f.MinAccountAge > 0 && !a.Joined.IsZero() && time.Since(a.Joined) < ru.f.MinAccountAge.D()
}

// trusts reports whether a wall trusts a post's author: by the handle
// (what the network vouches for, never the display name) on the source
// it was trusted on, or on its network where the source is an adapter of
// that network (a webhook cannot claim to be Mastodon).
func (ru *rule) trusts(source string, p *wall.Post) bool {
	for _, k := range trustKeys(source, p, ru.types[source] == p.Network) {
		if ru.trustedAuthors[k] {
			return true
		}
	}
	return false
}

// TrustKey reads a trusted author as written in the config or by the
// console, "on:handle" where on is a network or a source name
// ("mastodon:@ana@mastodon.social", "cms:@desk"), into the key trustKeys
// makes; ok is false for anything else.
func TrustKey(v string) (string, bool) {
	on, handle, ok := strings.Cut(strings.TrimSpace(v), ":")
	on = strings.ToLower(strings.TrimSpace(on))
	if !ok || on == "" || authorKey(handle) == "" {
		return "", false
	}
	return on + ":" + authorKey(handle), true
}

// trustKeys are the keys a trusted author's post is found by: its handle
// on its source, and on its network when the network vouches for it.
func trustKeys(source string, p *wall.Post, network bool) []string {
	h := authorKey(p.Author.Handle)
	if h == "" {
		return nil
	}
	keys := []string{source + ":" + h}
	if network && p.Network != "" {
		keys = append(keys, p.Network+":"+h)
	}
	return keys
}

// hasLinks reports whether sanitised HTML links anywhere other than a
// hashtag or a mention (whose link text starts with # or @).
func hasLinks(h string) bool {
	if !strings.Contains(h, "<a ") {
		return false
	}
	z := html.NewTokenizer(strings.NewReader(h))
	inLink, text := false, ""
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken:
			if name, _ := z.TagName(); string(name) == "a" {
				inLink, text = true, ""
			}
		case html.TextToken:
			if inLink {
				text += string(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" && inLink {
				inLink = false
				if t := strings.TrimSpace(text); t != "" && t[0] != '#' && t[0] != '@' {
					return true
				}
			}
		}
	}
}

// reject returns why a wall's filters refuse a post, or "".
func (ru *rule) reject(p *wall.Post, words *string) string {
	switch {
	case ru.f.HideReplies && p.Reply:
		return "reply"
	case ru.f.HideReposts && p.Repost:
		return "repost"
	case ru.f.HideSensitive && (p.Sensitive || p.ContentWarning != ""):
		return "sensitive"
	case ru.f.MediaOnly && len(p.Media) == 0:
		return "no media"
	case len(ru.langs) > 0 && p.Lang != "" && !ru.langs[langKey(p.Lang)]:
		return "language " + p.Lang
	case ru.blocksAuthor(p.Author):
		return "blocked author"
	case !ru.holdIf[config.HoldYoungAccount] && ru.young(p.Author):
		return "account younger than " + ru.f.MinAccountAge.D().String()
	}
	if len(ru.blockedWords) > 0 {
		if *words == "" {
			*words = match.Words(p.ContentWarning + " " + p.Text)
		}
		for _, b := range ru.blockedWords {
			if strings.Contains(*words, b) {
				return "blocked word " + strings.TrimSpace(b)
			}
		}
	}
	return ""
}

// blocksAuthor reports whether a wall's blocked authors name a post's.
func (ru *rule) blocksAuthor(a wall.Author) bool {
	for _, k := range authorKeys(a) {
		if ru.blockedAuthors[k] {
			return true
		}
	}
	return false
}

// authorKeys are the names a ban can catch an author by: the handle, with
// or without '@' (written in full: "@troll" does not block
// "@troll@bad.example"), and the display name. Bans from the config and
// from the console match through it alike.
func authorKeys(a wall.Author) []string {
	keys := []string{authorKey(a.Handle)}
	if a.Name != "" {
		keys = append(keys, authorKey(a.Name))
	}
	return keys
}

// Catches reports whether a rule added at run time applies to a post: the
// same matching as the walls' own filters, so a ban takes the posts
// already on screen that it would have kept out.
func Catches(r wall.Rule, p wall.Post) bool {
	switch r.Kind {
	case wall.RuleAuthor:
		return slices.Contains(authorKeys(p.Author), authorKey(r.Value))
	case wall.RuleTrusted:
		k, ok := TrustKey(r.Value)
		return ok && slices.Contains(trustKeys(p.Source, &p, false), k)
	case wall.RuleWord:
		ph := match.Phrase(r.Value)
		return ph != "" && strings.Contains(match.Words(p.ContentWarning+" "+p.Text), ph)
	}
	return false
}

// Stats counts what ingest did.
type Stats struct {
	Received, Dropped, Stored atomic.Int64
}

// Pipeline is ingest: Emit prepares items on the sources' goroutines, and one
// writer goroutine commits them in batches and then publishes their events.
type Pipeline struct {
	store      wall.Store
	pub        Publisher
	sanitizer  *Sanitizer
	router     atomic.Pointer[Router]
	mem        *Memory
	judge      atomic.Pointer[Classifier]
	translator atomic.Pointer[Translating]
	log        *slog.Logger

	in       chan wall.Write
	order    chan *pending // items in the order they were emitted
	work     chan *pending // items for the preparing workers
	emitMu   sync.RWMutex
	closed   bool
	seqDone  chan struct{}
	commitMu sync.Mutex // commit and publish in one order
	stopping chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// BatchSize is the most items committed in one transaction.
	BatchSize int
	Stats     Stats
	failing   atomic.Pointer[failure] // the store refuses commits
}

// failure is a store that refuses commits, since when.
type failure struct {
	err   error
	since time.Time
}

// Failing returns why the store refuses commits and since when, or nil
// while commits succeed. Meanwhile pushed items are refused at once (their
// senders get 503 and come back) and pulled ones wait in the queue.
func (p *Pipeline) Failing() (since time.Time, err error) {
	if f := p.failing.Load(); f != nil {
		return f.since, f.err
	}
	return time.Time{}, nil
}

// New starts a pipeline that writes to store and announces to pub.
func New(store wall.Store, pub Publisher, r *Router, log *slog.Logger) *Pipeline {
	p := &Pipeline{
		store: store, pub: pub, sanitizer: NewSanitizer(), log: log, mem: NewMemory(),
		in: make(chan wall.Write, 4096), stopping: make(chan struct{}), done: make(chan struct{}),
		order: make(chan *pending, 4096), work: make(chan *pending, 4096), seqDone: make(chan struct{}),
		BatchSize: 512,
	}
	r.mem = p.mem
	p.router.Store(r)
	for i := 0; i < max(runtime.GOMAXPROCS(0), 1); i++ {
		go p.worker()
	}
	go p.sequence()
	go p.writer()
	return p
}

// pending is an item on its way through the preparing workers; the
// sequencer hands the results to the writer in emission order, so a busy
// source uses every core and its items and cursors still commit in order.
type pending struct {
	source string
	item   wall.Item
	w      wall.Write
	keep   bool
	done   chan struct{}
	last   bool // the end of the stream (Close)
}

func (p *Pipeline) worker() {
	for pd := range p.work {
		pd.w, pd.keep = p.prepare(pd.source, pd.item)
		close(pd.done)
	}
}

func (p *Pipeline) sequence() {
	defer close(p.seqDone)
	for pd := range p.order {
		if pd.last {
			return
		}
		<-pd.done
		w := pd.w
		if !pd.keep {
			p.Stats.Dropped.Add(1)
			if pd.item.Cursor == "" {
				if pd.item.Ack != nil {
					pd.item.Ack(nil) // nothing to store
				}
				continue
			}
			w = wall.Write{Source: pd.source, Item: wall.Item{Kind: wall.ItemCursor, Cursor: pd.item.Cursor, Ack: pd.item.Ack}}
		}
		p.in <- w
	}
}

// Manual reports whether a wall of the current config holds every post.
func (p *Pipeline) Manual(slug string) bool { return p.router.Load().Manual(slug) }

// Memory is what the pipeline remembers of recent posts and authors.
func (p *Pipeline) Memory() *Memory { return p.mem }

// SetRouter swaps the routing rules (on a config reload).
func (p *Pipeline) SetRouter(r *Router) {
	r.mem = p.mem
	p.router.Store(r)
}

// ErrClosed is returned by Emit once the pipeline is shutting down.
var ErrClosed = errors.New("ingest: closed")

// Emitter returns the emit function a source with that name is given.
func (p *Pipeline) Emitter(source string) wall.Emit {
	return func(ctx context.Context, it wall.Item) error { return p.Emit(ctx, source, it) }
}

// Emit queues one item to be routed, filtered and sanitised (by a pool of
// workers) and committed in the order it was emitted. It blocks when ingest
// is behind (backpressure reaches the source).
func (p *Pipeline) Emit(ctx context.Context, source string, it wall.Item) error {
	p.emitMu.RLock()
	defer p.emitMu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	p.Stats.Received.Add(1)
	pd := &pending{source: source, item: it, done: make(chan struct{})}
	if it.Ack != nil && p.failing.Load() != nil {
		return wall.ErrBusy // it would wait for a disk that refuses
	}
	if it.Ack != nil {
		// A pushed item is not queued behind a full writer: its sender
		// is told to come back, rather than kept waiting.
		select {
		case p.order <- pd:
		default:
			return wall.ErrBusy
		}
	} else {
		select {
		case p.order <- pd:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.work <- pd // never blocks long: the workers take as fast as order fills
	return nil
}

// prepare normalises an item; keep is false when no wall wants it.
func (p *Pipeline) prepare(source string, it wall.Item) (wall.Write, bool) {
	w := wall.Write{Source: source, Item: it}
	post := &w.Item.Post
	post.Source = source
	post.NativeID = wall.CleanID(post.NativeID)
	if it.Kind == wall.ItemCursor {
		return w, true
	}
	if post.NativeID == "" {
		p.log.Warn("ingest: item without id skipped", "source", source)
		return w, false
	}
	post.ID = wall.PostID(source, post.NativeID)
	if it.Kind == wall.ItemDelete {
		return w, true
	}
	r := p.router.Load()
	if !r.wants(source, post) {
		return w, false
	}
	p.clean(post)
	w.Targets = r.Route(source, post, it.Walls...)
	if it.Kind == wall.ItemPost {
		r.admit(source, post, w.Targets)
	}
	return w, len(w.Targets) > 0
}

// mediaURL is a safe http(s) URL, or the address of a picture of
// Wallcast's own media store (an upload's photo).
func mediaURL(u string) string {
	if _, ok := media.NameOf(u); ok {
		return u
	}
	return match.SafeURL(u)
}

// clean sanitises a post in place: safe HTML, plain text, tags, URLs.
func (p *Pipeline) clean(post *wall.Post) {
	if strings.TrimSpace(post.HTML) != "" {
		post.HTML = p.sanitizer.HTML(post.HTML)
	} else {
		post.HTML = p.sanitizer.TextToHTML(post.Text)
	}
	post.Text = match.Plain(post.HTML)
	post.Network = wall.Network(post.Network)
	post.ContentWarning = p.plain(post.ContentWarning)
	post.Author.Name = p.plain(post.Author.Name)
	post.Author.Handle = wall.CleanID(post.Author.Handle)
	post.URL = match.SafeURL(post.URL)
	post.Author.URL = match.SafeURL(post.Author.URL)
	post.Author.Avatar = match.SafeURL(post.Author.Avatar)
	media := post.Media[:0]
	for _, m := range post.Media {
		m.URL, m.Preview = mediaURL(m.URL), match.SafeURL(m.Preview)
		if m.URL == "" && m.Preview == "" {
			continue
		}
		m.Alt = strings.TrimSpace(m.Alt)
		media = append(media, m)
	}
	post.Media = media
	tags := make([]string, 0, len(post.Tags))
	for _, t := range post.Tags {
		if t = match.Tag(t); t != "" {
			tags = append(tags, t)
		}
	}
	tags = append(tags, match.Hashtags(post.Text)...)
	sort.Strings(tags)
	post.Tags = slices.Compact(tags)
	if post.CreatedAt.IsZero() {
		post.CreatedAt = time.Now().UTC()
	}
	post.CreatedAt = post.CreatedAt.UTC()
	post.Pinned = false
}

// plain makes a short field (a name, a content warning) plain text: markup
// and entities are resolved through the sanitiser only when there are any.
func (p *Pipeline) plain(s string) string {
	if strings.ContainsAny(s, "<&") {
		s = match.Plain(p.sanitizer.HTML(s))
	}
	return strings.TrimSpace(s)
}

// writer commits queued items in batches: one transaction for everything
// that arrived while the previous one was committing.
func (p *Pipeline) writer() {
	defer close(p.done)
	batch := make([]wall.Write, 0, p.BatchSize)
	for {
		select {
		case w := <-p.in:
			batch = append(batch[:0], w)
		case <-p.stopping:
			// Sources have stopped: commit what is left, then end.
			for {
				batch = p.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				if err := p.commit(batch); err != nil {
					// Nothing after a lost batch may commit: a later
					// cursor would run ahead of the posts it covers.
					for batch = p.fill(batch[:0]); len(batch) > 0; batch = p.fill(batch[:0]) {
						ack(batch, err)
					}
					return
				}
			}
		}
		p.commit(p.fill(batch))
	}
}

// fill adds to batch what is queued now, up to BatchSize.
func (p *Pipeline) fill(batch []wall.Write) []wall.Write {
	for len(batch) < p.BatchSize {
		select {
		case w := <-p.in:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

// Translating translates committed posts off the ingest path
// (translate.Translator).
type Translating interface {
	Submit(p wall.Post, walls []string)
	Wants(walls []string) bool
}

// SetTranslator gives the pipeline a translator (nil: none).
func (p *Pipeline) SetTranslator(t Translating) {
	p.translator.Store(&t)
}

// translate hands the new and edited posts of a committed batch that
// went to walls which translate to the translator.
func (p *Pipeline) translate(batch []wall.Write) {
	tp := p.translator.Load()
	if tp == nil || *tp == nil {
		return
	}
	tr := *tp
	for _, w := range batch {
		if w.Item.Kind != wall.ItemPost && w.Item.Kind != wall.ItemUpdate {
			continue
		}
		var walls []string
		for _, t := range w.Targets {
			if t.Status != wall.StatusRejected {
				walls = append(walls, t.Wall)
			}
		}
		if tr.Wants(walls) {
			tr.Submit(w.Item.Post, walls)
		}
	}
}

// Clean sanitises HTML as ingest does a post's: the safe HTML and its
// plain text (a translation is cleaned like the original).
func (p *Pipeline) Clean(h string) (string, string) {
	safe := p.sanitizer.HTML(h)
	return safe, match.Plain(safe)
}

// Do runs a write of its own (a moderator's action) in turn with ingest's
// batches and publishes its events, so screens see events in id order.
func (p *Pipeline) Do(fn func() ([]wall.Event, error)) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	events, err := fn()
	if err != nil {
		return err
	}
	if len(events) > 0 {
		p.pub.Publish(events)
	}
	return nil
}

// commit writes a batch, retrying for as long as the disk refuses: a batch
// is never skipped, since the cursors of the batches behind it would then
// run ahead of posts that were never stored (backpressure reaches the
// sources meanwhile, and push sources answer 503). Once the pipeline is
// stopping it gives up after a few attempts and returns the error.
func (p *Pipeline) commit(batch []wall.Write) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		events, err := p.store.Apply(context.Background(), batch)
		if err == nil {
			p.classify(batch)
			p.translate(batch)
			if f := p.failing.Swap(nil); f != nil {
				p.log.Info("ingest: storage takes writes again", "after", time.Since(f.since).Round(time.Second))
			}
			p.Stats.Stored.Add(int64(len(batch)))
			if len(events) > 0 {
				p.pub.Publish(events)
			}
			ack(batch, nil)
			return nil
		}
		select {
		case <-p.stopping:
			if attempt >= 5 {
				p.log.Error("ingest: batch lost at shutdown after retries", "items", len(batch), "err", err)
				ack(batch, err)
				return err
			}
		default:
		}
		if attempt == 1 {
			p.failing.CompareAndSwap(nil, &failure{err: err, since: time.Now()})
		}
		p.log.Error("ingest: commit failed, retrying", "items", len(batch), "attempt", attempt, "err", err)
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Second)
	}
}

// ack tells the items of a batch that wait for it how their commit went.
func ack(batch []wall.Write, err error) {
	for _, w := range batch {
		if w.Item.Ack != nil {
			w.Item.Ack(err)
		}
	}
}

// Close commits what is queued and stops the writer. Call it after the
// sources have stopped.
func (p *Pipeline) Close() {
	p.stopOnce.Do(func() {
		p.emitMu.Lock()
		p.closed = true
		p.emitMu.Unlock()
		p.order <- &pending{last: true}
		<-p.seqDone
		close(p.work)
		close(p.stopping)
	})
	<-p.done
}
