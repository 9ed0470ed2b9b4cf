// Package match is how Wallcast compares text: hashtags, phrases and whole
// words after Unicode folding, the plain text of sanitised HTML, and which
// URLs are safe to keep. Ingest and the adapters both use it.
package match

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// A cases.Caser keeps state, so each goroutine borrows its own.
var folders = sync.Pool{New: func() any { c := cases.Fold(); return &c }}

// MaxText bounds, in bytes, what of one text is matched: the text read
// from its start, and its form after NFKC (one character can become
// eighteen). Past that nothing is read, so what a post costs to match
// stays flat whatever it holds.
const MaxText = 4 << 10

// Cut is the start of s of at most n bytes, cut at a character.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NFKC is the NFKC form of the first MaxText bytes of s, at most MaxText
// bytes of it (whole segments).
func NFKC(s string) string {
	s = Cut(s, MaxText)
	if norm.NFKC.IsNormalString(s) {
		return s
	}
	var it norm.Iter
	it.InitString(norm.NFKC, s)
	out := make([]byte, 0, len(s))
	for !it.Done() {
		seg := it.Next()
		if len(out)+len(seg) > MaxText {
			break
		}
		out = append(out, seg...)
	}
	return string(out)
}

// Fold puts text in the form matching uses: Unicode NFKC, then case folded,
// so "＃DevConf", "#devconf" and "#DEVCONF" all match. It reads at most
// MaxText bytes (see NFKC).
func Fold(s string) string {
	if isLowerASCII(s) {
		return Cut(s, MaxText)
	}
	c := folders.Get().(*cases.Caser)
	defer folders.Put(c)
	return c.String(NFKC(s))
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// Tag normalises a hashtag: without leading '#', folded.
func Tag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "#＃")
	return Fold(s)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_'
}

// Hashtags finds the #tags in plain text, normalised. A '#' counts only at
// the start or after a character that is not part of a word, so URL
// fragments and "C#" are not tags.
func Hashtags(text string) []string {
	var out []string
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '#' && rs[i] != '＃' {
			continue
		}
		if i > 0 && (isWordRune(rs[i-1]) || rs[i-1] == '/' || rs[i-1] == '&') {
			continue
		}
		j := i + 1
		for j < len(rs) && isWordRune(rs[j]) {
			j++
		}
		if j > i+1 {
			tag := Tag(string(rs[i+1 : j]))
			if !allDigits(tag) {
				out = append(out, tag)
			}
		}
		i = j - 1
	}
	return out
}

func allDigits(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// Words returns the text folded into a form where a whole word or phrase
// w matches when strings.Contains(Words(text), Phrase(w)): words separated
// by single spaces, with a space at each end.
func Words(text string) string {
	f := Fold(text)
	var b strings.Builder
	b.Grow(len(f) + 2)
	b.WriteByte(' ')
	space := true
	for _, r := range f {
		if isWordRune(r) {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

// Phrase prepares a blocked word or keyword for matching against Words.
func Phrase(w string) string {
	p := Words(w)
	if strings.TrimSpace(p) == "" {
		return ""
	}
	return p
}
