// Package wordlist holds the lists of offensive words Wallcast ships, one
// per language under lists/, and the matcher that finds their words in
// text despite the usual evasions: case, accents, full-width letters,
// leetspeak, repeated letters, separators inside a word and zero-width
// characters. It matches whole words only, so the town of Scunthorpe, an
// assessment or Dickens are left alone.
package wordlist

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/wallcast/wallcast/match"
)

//go:embed lists/*.txt
var lists embed.FS

// Languages are the codes of the lists shipped, sorted.
func Languages() []string {
	names, _ := fs.Glob(lists, "lists/*.txt")
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(n, "lists/"), ".txt"))
	}
	return out
}

// run is a letter and how many times it repeats.
type run struct {
	r rune
	n int
}

// entry is one word of a list, as runs of letters.
type entry struct {
	list, word string
	runs       []run
	prefix     bool // also matches words that begin with it
}

// Set is word lists compiled for matching. It is safe for concurrent use.
type Set struct {
	exact  map[string][]entry // by the word with its runs collapsed
	prefix []entry
}

// Load compiles the shipped lists of the given languages.
func Load(langs ...string) (*Set, error) {
	s := &Set{exact: map[string][]entry{}}
	for _, lang := range langs {
		f, err := lists.Open("lists/" + lang + ".txt")
		if err != nil {
			return nil, fmt.Errorf("wordlist: no list for %q (there are %s)", lang, strings.Join(Languages(), ", "))
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			e := entry{list: lang, word: line}
			e.prefix = strings.HasSuffix(line, "*")
			word := fold(strings.TrimSuffix(line, "*"))
			e.runs = runsOf(word)
			if e.prefix {
				s.prefix = append(s.prefix, e)
			} else {
				k := collapsed(e.runs)
				s.exact[k] = append(s.exact[k], e)
			}
		}
		f.Close()
	}
	return s, nil
}

// Match is a listed word found in a text.
type Match struct {
	List string // the language of the list
	Word string // the entry that matched
}

// Find returns the first listed word in text.
func (s *Set) Find(text string) (Match, bool) {
	if s == nil || (len(s.exact) == 0 && len(s.prefix) == 0) {
		return Match{}, false
	}
	var m Match
	found := false
	words(text, func(w string) bool {
		if e, ok := s.lookup(w); ok {
			m, found = Match{List: e.list, Word: e.word}, true
			return false
		}
		return true
	})
	return m, found
}

func (s *Set) lookup(w string) (entry, bool) {
	var buf [32]run
	rs := appendRuns(buf[:0], w)
	if len(rs) == 0 {
		return entry{}, false
	}
	var kb [128]byte
	key := kb[:0]
	for _, r := range rs {
		key = utf8.AppendRune(key, r.r)
	}
	for _, e := range s.exact[string(key)] { // no allocation: a map index
		if covers(rs, e.runs) {
			return e, true
		}
	}
	for _, e := range s.prefix {
		if len(rs) >= len(e.runs) && covers(rs[:len(e.runs)], e.runs) {
			return e, true
		}
	}
	return entry{}, false
}

// covers reports whether a word's runs spell an entry with each letter
// repeated at least as often: "fuuuck" is "fuck", "as" is not "ass".
func covers(word, e []run) bool {
	if len(word) != len(e) {
		return false
	}
	for i := range e {
		if word[i].r != e[i].r || word[i].n < e[i].n {
			return false
		}
	}
	return true
}

func runsOf(w string) []run { return appendRuns(nil, w) }

func appendRuns(out []run, w string) []run {
	for _, r := range w {
		if n := len(out); n > 0 && out[n-1].r == r {
			out[n-1].n++
			continue
		}
		out = append(out, run{r, 1})
	}
	return out
}

func collapsed(rs []run) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteRune(r.r)
	}
	return b.String()
}

// leet maps the digits and signs that stand for letters.
var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// joiners may stand inside a word without ending it ("f.u.c.k").
const joiners = ".-_*·'’|~+"

// invisible are the characters that show nothing: zero-width spaces and
// joiners, the soft hyphen, the word joiner, the byte order mark.
func invisible(r rune) bool {
	switch r {
	case 0x00AD, 0x034F, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF:
		return true
	}
	return false
}

// fold puts text in the form lists are matched in: full-width and other
// compatibility forms as plain letters (NFKC), accents dropped, lower
// case, invisible characters removed, leetspeak read as letters. It reads
// at most match.MaxText bytes of text, and of its NFKC form.
func fold(text string) string {
	var b strings.Builder
	text = match.Cut(text, match.MaxText)
	b.Grow(len(text))
	if !isASCII(text) {
		text = norm.NFD.String(match.NFKC(text))
	}
	for _, r := range text {
		switch {
		case invisible(r), unicode.Is(unicode.Mn, r):
			continue
		}
		if l, ok := leet[r]; ok {
			r = l
		}
		if r == 'ß' {
			b.WriteString("ss")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// words calls yield with every word of text a list could name: the words
// between spaces and punctuation, each chunk between spaces with its
// joiners taken out ("f.u.c.k", "s-h-i-t"), and runs of single letters
// spaced out ("f u c k"). It stops when yield returns false.
func words(text string, yield func(string) bool) {
	var singles []string
	flush := func() bool {
		ok := true
		if len(singles) >= 3 {
			ok = yield(strings.Join(singles, ""))
		}
		singles = singles[:0]
		return ok
	}
	for _, chunk := range strings.Fields(fold(text)) {
		parts := strings.FieldsFunc(chunk, func(r rune) bool { return !unicode.IsLetter(r) })
		for _, p := range parts {
			if !yield(p) {
				return
			}
		}
		joined := strings.Map(func(r rune) rune {
			if strings.ContainsRune(joiners, r) {
				return -1
			}
			return r
		}, chunk)
		joined = strings.TrimFunc(joined, func(r rune) bool { return !unicode.IsLetter(r) })
		if len(parts) > 1 && joined != "" && !strings.ContainsFunc(joined, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if !yield(joined) {
				return
			}
		}
		if len(parts) == 1 && len([]rune(parts[0])) == 1 && len([]rune(chunk)) <= 2 {
			singles = append(singles, parts[0])
			continue
		}
		if !flush() {
			return
		}
	}
	flush()
}

// Has reports whether lang is a shipped list.
func Has(lang string) bool { return slices.Contains(Languages(), lang) }
