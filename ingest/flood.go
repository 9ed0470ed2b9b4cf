package ingest

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/wall"
	"golang.org/x/text/unicode/norm"
)

// Memory remembers, per wall, the posts it took lately: who wrote them,
// for max_posts_per_author, and what they said, for duplicates_within. It
// outlives the routers a reload swaps in, and starts empty at each start.
type Memory struct {
	mu    sync.Mutex // guards walls; each wall has its own lock
	walls map[string]*wallMemory
	now   func() time.Time
}

// NewMemory returns an empty memory.
func NewMemory() *Memory { return &Memory{walls: map[string]*wallMemory{}, now: time.Now} }

type wallMemory struct {
	mu       sync.Mutex
	authors  map[string]bool    // every author the wall has had a post from
	byAuthor map[string][]taken // oldest first
	texts    []*text            // oldest first
	exact    map[string]*text   // by normalised text
	bands    map[uint64][]*text // MinHash bands of texts long enough, oldest first, at most bandKeep
}

type taken struct {
	at time.Time
	id string
}

// text is a post's text as duplicate detection sees it.
type text struct {
	at    time.Time
	id    string
	key   string              // the normalised text
	words map[string]struct{} // its distinct words
	bands []uint64
}

// minWords is the fewest words a text needs to count as a duplicate at
// all: "Great talk!" from fifty people is fifty people.
const minWords = 5

// nearJaccard is how alike two texts' sets of words must be to be near
// duplicates.
const nearJaccard = 0.75

// MinHash signature: bands of rows; two texts whose words are alike at
// 0.75 share a band with a probability of 0.99.
const (
	minhashBands = 8
	minhashRows  = 2
)

// Bounds that keep a post's cost flat however many posts the wall
// remembers (the text read is bounded by match.MaxText): the distinct
// words compared, the candidates looked at per band (the newest) and the
// texts a band keeps.
const (
	maxWords  = 64
	bandProbe = 8
	bandKeep  = 64
)

var seed = maphash.MakeSeed()

// wall returns a wall's memory, made on first use, locked: the caller
// unlocks it.
func (m *Memory) wall(slug string) *wallMemory {
	m.mu.Lock()
	wm := m.walls[slug]
	if wm == nil {
		wm = &wallMemory{authors: map[string]bool{}, byAuthor: map[string][]taken{}, exact: map[string]*text{}, bands: map[uint64][]*text{}}
		m.walls[slug] = wm
	}
	m.mu.Unlock()
	wm.mu.Lock()
	return wm
}

// Seed tells the memory which authors each wall has had posts from, as
// the database knows them at the start (for hold_if new_author).
func (m *Memory) Seed(authors map[string][]string) {
	for slug, list := range authors {
		wm := m.wall(slug)
		for _, a := range list {
			wm.authors[authorKey(a)] = true
		}
		wm.mu.Unlock()
	}
}

// firstPost reports whether a post is its author's first on a wall, and
// from then on the author is known there.
func (m *Memory) firstPost(slug string, a wall.Author) bool {
	key := authorKey(a.Handle)
	if key == "" {
		return false
	}
	wm := m.wall(slug)
	defer wm.mu.Unlock()
	if wm.authors[key] {
		return false
	}
	wm.authors[key] = true
	return true
}

// admit decides whether a wall takes one more post from its author and
// with its text; it returns why not, or "" and remembers the post.
func (m *Memory) admit(slug string, limitN int, per, within time.Duration, flood bool, p *wall.Post) string {
	if (limitN == 0 || !flood) && within == 0 {
		return ""
	}
	now := m.now()
	author := authorKey(p.Author.Handle)
	if author == "" {
		author = authorKey(p.Author.Name)
	}
	var t *text
	if within > 0 {
		t = newText(p.ID, now, p.ContentWarning+" "+p.Text) // outside the lock: the costly part
	}
	wm := m.wall(slug)
	defer wm.mu.Unlock()
	if within > 0 {
		wm.expire(now.Add(-within))
		if d := wm.duplicate(t); d != nil && d.id != p.ID {
			return "near-duplicate of " + d.id
		}
	}
	if limitN > 0 && flood && author != "" {
		recent := wm.byAuthor[author]
		kept := recent[:0]
		for _, r := range recent {
			if now.Sub(r.at) < per {
				kept = append(kept, r)
			}
		}
		wm.byAuthor[author] = kept
		again := slices.ContainsFunc(kept, func(r taken) bool { return r.id == p.ID })
		if !again && len(kept) >= limitN {
			return fmt.Sprintf("more than %d posts in %s by this author", limitN, per)
		}
		if !again {
			wm.byAuthor[author] = append(kept, taken{now, p.ID})
		}
	}
	if t != nil && t.key != "" {
		wm.add(t)
	}
	return ""
}

// newText normalises a post's text: folded, without links, mentions,
// hashtags, punctuation and symbols, so a copy pasted with other tags
// or on another network is the same text. It reads what match.Fold reads
// and keeps the first maxWords distinct words.
func newText(id string, at time.Time, s string) *text {
	var words []string
	for _, f := range strings.Fields(unaccent(match.Fold(s))) {
		if strings.HasPrefix(f, "#") || strings.HasPrefix(f, "@") || strings.Contains(f, "://") || strings.HasPrefix(f, "www.") {
			continue
		}
		w := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, f)
		if w != "" {
			words = append(words, w)
		}
	}
	if len(words) < minWords {
		return &text{at: at, id: id}
	}
	t := &text{at: at, id: id, key: strings.Join(words, " "), words: map[string]struct{}{}}
	for _, w := range words {
		if len(t.words) == maxWords {
			break
		}
		t.words[w] = struct{}{}
	}
	t.bands = minhash(t.words)
	return t
}

// unaccent drops the accents of folded text.
func unaccent(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
}

// minhash returns the band keys of a set of words.
func minhash(words map[string]struct{}) []uint64 {
	var sig [minhashBands * minhashRows]uint64
	for i := range sig {
		sig[i] = ^uint64(0)
	}
	for w := range words {
		h := maphash.String(seed, w)
		for i := range sig {
			// One hash per row from one hash of the word (xorshift-mixed).
			x := h ^ (uint64(i+1) * 0x9e3779b97f4a7c15)
			x ^= x >> 33
			x *= 0xff51afd7ed558ccd
			x ^= x >> 33
			sig[i] = min(sig[i], x)
		}
	}
	bands := make([]uint64, minhashBands)
	for b := range bands {
		x := uint64(b + 1)
		for r := range minhashRows {
			x = x*0x100000001b3 ^ sig[b*minhashRows+r]
		}
		bands[b] = x
	}
	return bands
}

// duplicate finds a remembered text that t repeats or nearly repeats:
// the same text, or one of the newest bandProbe texts of a band it
// shares (at most minhashBands × bandProbe comparisons of at most
// maxWords words, however many texts the wall remembers).
func (wm *wallMemory) duplicate(t *text) *text {
	if t.key == "" {
		return nil
	}
	if d := wm.exact[t.key]; d != nil {
		return d
	}
	var seen [minhashBands * bandProbe]*text
	n := 0
	for _, b := range t.bands {
		list := wm.bands[b]
		for i := len(list) - 1; i >= max(0, len(list)-bandProbe); i-- {
			c := list[i]
			if slices.Contains(seen[:n], c) {
				continue
			}
			seen[n] = c
			n++
			if jaccard(t.words, c.words) >= nearJaccard {
				return c
			}
		}
	}
	return nil
}

func jaccard(a, b map[string]struct{}) float64 {
	inter := 0
	for w := range a {
		if _, ok := b[w]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

func (wm *wallMemory) add(t *text) {
	wm.texts = append(wm.texts, t)
	if wm.exact[t.key] == nil {
		wm.exact[t.key] = t
	}
	for _, b := range t.bands {
		list := append(wm.bands[b], t)
		if len(list) > 2*bandKeep { // the oldest go: duplicate looks at the newest only
			list = slices.Clone(list[len(list)-bandKeep:])
		}
		wm.bands[b] = list
	}
}

// expire forgets the texts taken before since.
func (wm *wallMemory) expire(since time.Time) {
	n := 0
	for n < len(wm.texts) && wm.texts[n].at.Before(since) {
		t := wm.texts[n]
		if wm.exact[t.key] == t {
			delete(wm.exact, t.key)
		}
		// A band's texts are oldest first: the expired ones lead.
		for _, b := range t.bands {
			list := wm.bands[b]
			k := 0
			for k < len(list) && list[k].at.Before(since) {
				k++
			}
			if k == len(list) {
				delete(wm.bands, b)
			} else if k > 0 {
				wm.bands[b] = list[k:]
			}
		}
		n++
	}
	wm.texts = wm.texts[n:]
}
