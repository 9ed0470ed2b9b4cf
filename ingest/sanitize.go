package ingest

import (
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// Sanitizer cleans post HTML from the networks with one policy made for
// wall posts. It is safe for concurrent use.
type Sanitizer struct {
	policy *bluemonday.Policy
}

// NewSanitizer returns the wall post policy: paragraphs, line breaks,
// emphasis, lists, quotes, code and links (forced to open in a new tab with
// rel="nofollow noopener noreferrer"); custom emoji as small images. No
// scripts, styles, iframes, forms, event handlers, or URLs other than
// http(s) and mailto.
func NewSanitizer() *Sanitizer {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "b", "em", "i", "u", "s", "del", "blockquote",
		"ul", "ol", "li", "code", "pre", "span", "sub", "sup")
	p.AllowStandardURLs()
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowAttrs("href").OnElements("a")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	// Mastodon marks up links and mentions with these classes; "invisible"
	// and "ellipsis" shorten long URLs.
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^((h-card|u-url|mention|hashtag|invisible|ellipsis|quote-inline|emoji)\s*)+$`)).OnElements("a", "span", "img")
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^https?://`)).OnElements("img")
	p.AllowAttrs("alt", "title").OnElements("img")
	p.AllowAttrs("dir").Matching(regexp.MustCompile(`^(ltr|rtl|auto)$`)).OnElements("p", "span", "blockquote")
	p.AllowAttrs("lang").Matching(regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)).OnElements("p", "span")
	p.RequireSandboxOnIFrame() // no iframes are allowed; belt and braces
	return &Sanitizer{policy: p}
}

// HTML sanitises untrusted HTML.
func (s *Sanitizer) HTML(in string) string {
	return strings.TrimSpace(s.policy.Sanitize(in))
}

// TextToHTML turns plain text (a network that sends no HTML) into safe HTML:
// escaped, paragraphs on blank lines, <br> on line breaks, URLs linked.
func (s *Sanitizer) TextToHTML(text string) string {
	var b strings.Builder
	for _, para := range paraBreak.Split(strings.TrimSpace(text), -1) {
		b.WriteString("<p>")
		for j, line := range strings.Split(para, "\n") {
			if j > 0 {
				b.WriteString("<br>")
			}
			b.WriteString(linkify(line))
		}
		b.WriteString("</p>")
	}
	return s.HTML(b.String())
}

var paraBreak = regexp.MustCompile(`\n\s*\n`)

var urlRe = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)\]'’”]`)

func linkify(line string) string {
	var b strings.Builder
	last := 0
	for _, m := range urlRe.FindAllStringIndex(line, -1) {
		b.WriteString(html.EscapeString(line[last:m[0]]))
		u := line[m[0]:m[1]]
		b.WriteString(`<a href="` + html.EscapeString(u) + `">` + html.EscapeString(u) + `</a>`)
		last = m[1]
	}
	b.WriteString(html.EscapeString(line[last:]))
	return b.String()
}
