package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/match"
	"github.com/wallcast/wallcast/wall"
)

// costYAML is a wall with every text check on: all seven word lists,
// blocked words, keywords, duplicates and a flood limit.
const costYAML = `
sources: [{name: masto, type: demo}]
filters: {word_lists: [en, fr, de, es, it, pt, nl]}
walls:
  - slug: conf
    hashtags: [devconf]
    keywords: ["keynote speech"]
    sources: [masto]
    filters: {blocked_words: [spoiler, "free tickets"], hold_if: [links], max_posts_per_author: 1000/1m, duplicates_within: 1h}
`

// nasty are 64 KiB texts of the shapes that cost most to fold and match.
func nasty() map[string]string {
	fill := func(unit string) string { return strings.Repeat(unit, 64<<10/len(unit)) }
	zalgo := "z" + strings.Repeat("\u0300\u0301\u0302\u0303\u0304", 4) + " "
	return map[string]string{
		"U+FDFA":         fill("\uFDFA"),
		"zalgo":          fill(zalgo),
		"spaced letters": fill("f u c k "),
		"cjk":            fill("会議の基調講演"),
		"words":          fill("keynote speech was great today "),
		"joiners":        fill("s.h.i.t-f_u*c|k "),
	}
}

// BenchmarkNastyPost is the cost of routing one 64 KiB post of each shape
// through a wall with every text check on, with the wall's duplicate
// memory full of 10,000 recent posts.
func BenchmarkNastyPost(b *testing.B) {
	for name, text := range nasty() {
		b.Run(name, func(b *testing.B) {
			r := NewRouter(testConfig(&testing.T{}, costYAML))
			r.mem = remembered(10000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := wall.Post{ID: fmt.Sprint("masto:n", i), Text: text, HTML: "<p>" + text + "</p>", Tags: []string{"devconf"}, Author: wall.Author{Name: text[:min(len(text), 200)], Handle: fmt.Sprint("@u", i, "@m.example")}}
				r.Route("masto", &p)
			}
		})
	}
}

// BenchmarkDuplicates is the cost of one ordinary new post against a
// memory of n remembered short posts that share most of their words.
func BenchmarkDuplicates(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := remembered(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := wall.Post{ID: fmt.Sprint("masto:new", i), Text: fmt.Sprintf("great talk about go at the conference new%da new%db new%dc", i, i, i), Author: wall.Author{Handle: fmt.Sprint("@x", i)}}
				m.admit("conf", 0, 0, time.Hour, false, &p)
			}
		})
	}
}

// remembered is a memory whose wall conf took n short posts that share
// most of their words but are not near duplicates of each other (7 of 10
// words in common): the worst case for banded candidates.
func remembered(n int) *Memory {
	m := NewMemory()
	for i := range n {
		p := wall.Post{ID: fmt.Sprint("masto:", i), Text: fmt.Sprintf("great talk about go at the conference w%da w%db w%dc", i, i, i), Author: wall.Author{Handle: fmt.Sprint("@a", i)}}
		m.admit("conf", 0, 0, time.Hour, false, &p)
	}
	return m
}

// BenchmarkNastySanitize is the cost of sanitising the HTML of one 64 KiB
// post of each shape and taking its plain text (what ingest does before
// routing).
func BenchmarkNastySanitize(b *testing.B) {
	s := NewSanitizer()
	for name, text := range nasty() {
		b.Run(name, func(b *testing.B) {
			in := "<p>" + text + "</p>"
			for i := 0; i < b.N; i++ {
				match.Plain(s.HTML(in))
			}
		})
	}
}

// TestLongTextIsHeld: word lists read the first match.MaxText bytes of a
// text, so a longer text on a wall with lists or blocked words waits for
// a moderator (a word hidden past the bound never shows by itself); the
// same text on a wall without them passes.
func TestLongTextIsHeld(t *testing.T) {
	const y = `
sources: [{name: masto, type: demo}]
walls:
  - {slug: listed, hashtags: [devconf], sources: [masto], filters: {word_lists: [en]}}
  - {slug: plain, hashtags: [devconf], sources: [masto]}
`
	r := NewRouter(testConfig(t, y))
	p := wall.Post{Text: strings.Repeat("lovely talk ", 500) + " fuck #devconf", Tags: []string{"devconf"}, Author: wall.Author{Handle: "@a@m.example"}}
	got := r.Route("masto", &p)
	if len(got) != 2 || got[0].Status != wall.StatusPending || !strings.Contains(got[0].Reason, "not wholly checked") || got[1].Status != wall.StatusVisible {
		t.Errorf("a long text: %+v", got)
	}
	p.Text = "lovely talk #devconf"
	if got := r.Route("masto", &p); got[0].Status != wall.StatusVisible {
		t.Errorf("a short text: %+v", got)
	}
}

// TestDuplicateAmongMany: with 10,000 texts remembered, a copy of a
// recent one is still found.
func TestDuplicateAmongMany(t *testing.T) {
	m := remembered(10000)
	p := wall.Post{ID: "masto:copy", Text: "Great talk about Go at the conference w9990a w9990b w9990c!", Author: wall.Author{Handle: "@copycat"}}
	if why := m.admit("conf", 0, 0, time.Hour, false, &p); why != "near-duplicate of masto:9990" {
		t.Errorf("a copy: %q", why)
	}
	p = wall.Post{ID: "masto:near", Text: "great talk about go at the conference w9995a w9995b", Author: wall.Author{Handle: "@copycat"}}
	if why := m.admit("conf", 0, 0, time.Hour, false, &p); why == "" {
		t.Error("a near copy passed")
	}
}
