package ingest

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// forbidden are the elements no sanitised post may hold.
var forbidden = map[string]bool{"script": true, "style": true, "iframe": true, "object": true, "embed": true,
	"form": true, "svg": true, "base": true, "math": true}

// FuzzSanitize checks the sanitiser's invariant on every output: parsed as
// HTML it holds no forbidden element, no on* attribute and no URL with a
// scheme other than http, https or mailto.
func FuzzSanitize(f *testing.F) {
	for _, seed := range []string{
		`<p>Hi <a href="https://m.example/tags/devconf">#<span>DevConf</span></a><script>alert(1)</script><img src=x onerror=alert(1)></p>`,
		`<a href="javascript:alert(1)">x</a><svg><script>x</script></svg><style>*{}</style>`,
		`<img src="data:image/png;base64,AA" alt="a"><a href=" JaVaScRiPt:x">y</a>`,
		`<iframe src=//evil></iframe><form action=x><input></form><base href=//evil>`,
		`<a href="mailto:ana@example.org">mail</a><blockquote><code>x &lt; y</code></blockquote>`,
		`<math><mi xlink:href="javascript:x">`, `<<p>>&amp;</p`, "",
	} {
		f.Add(seed)
	}
	s := NewSanitizer()
	f.Fuzz(func(t *testing.T, in string) {
		for _, out := range []string{s.HTML(in), s.TextToHTML(in)} {
			checkSafe(t, in, out)
		}
	})
}

func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if forbidden[n.Data] {
				t.Fatalf("<%s> in the output of %q:\n%s", n.Data, in, out)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					t.Fatalf("attribute %s in the output of %q:\n%s", a.Key, in, out)
				}
				if a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "formaction" || a.Key == "xlink:href" {
					u, err := url.Parse(strings.TrimSpace(a.Val))
					if err != nil {
						t.Fatalf("unparsable URL %q in the output of %q", a.Val, in)
					}
					if sc := strings.ToLower(u.Scheme); sc != "" && sc != "http" && sc != "https" && sc != "mailto" {
						t.Fatalf("URL %q in the output of %q:\n%s", a.Val, in, out)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}
