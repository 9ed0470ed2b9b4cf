package match

import (
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// Plain derives the plain-text version of sanitised HTML: tags dropped,
// entities decoded, paragraphs and line breaks kept as newlines.
func Plain(h string) string {
	z := html.NewTokenizer(strings.NewReader(h))
	var b strings.Builder
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(collapseBlank(b.String()))
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "br":
				b.WriteByte('\n')
			case "p", "blockquote", "li", "pre":
				if b.Len() > 0 {
					b.WriteString("\n\n")
				}
			case "img":
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "alt" {
						b.Write(v)
					}
				}
			}
		}
	}
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

func collapseBlank(s string) string { return blankRuns.ReplaceAllString(s, "\n\n") }

// SafeURL returns u when it is an absolute http(s) URL, else "".
func SafeURL(u string) string {
	u = strings.TrimSpace(u)
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}
