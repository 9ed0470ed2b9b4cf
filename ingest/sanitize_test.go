package ingest

import (
	"strings"
	"testing"

	"github.com/wallcast/wallcast/match"
)

// TestSanitizeHostile feeds the sanitiser the classic XSS vectors. None of
// the forbidden fragments may survive.
func TestSanitizeHostile(t *testing.T) {
	s := NewSanitizer()
	forbidden := []string{"<script", "javascript:", "onerror", "onload", "onclick", "onmouseover", "<iframe", "<style",
		"<form", "<input", "<svg", "<object", "<embed", "data:text", "vbscript:", "<meta", "<link", "<base", "style=", "formaction", "srcdoc", "<math"}
	vectors := []string{
		`<script>alert(1)</script>`,
		`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
		`<img src=x onerror=alert(1)>`,
		`<img src="javascript:alert(1)">`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="JaVaScRiPt:alert(1)">x</a>`,
		`<a href="jav&#x09;ascript:alert(1)">x</a>`,
		`<a href=" javascript:alert(1)">x</a>`,
		`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
		`<a href="vbscript:msgbox(1)">x</a>`,
		`<svg onload=alert(1)><circle r=10></svg>`,
		`<svg><script>alert(1)</script></svg>`,
		`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<iframe src="https://evil.example"></iframe>`,
		`<iframe srcdoc="<script>alert(1)</script>"></iframe>`,
		`<object data="x.swf"></object><embed src="x.swf">`,
		`<form action="https://evil.example"><input name=q><button formaction="javascript:alert(1)">go</button></form>`,
		`<p style="background:url(javascript:alert(1))">x</p>`,
		`<style>body{display:none}</style>`,
		`<div onmouseover="alert(1)">hover</div>`,
		`<p onclick=alert(1)>x</p>`,
		`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		`<link rel=stylesheet href=https://evil.example/x.css>`,
		`<base href="https://evil.example/">`,
		`<p>unclosed <b>bold <i>italic</p></b> <a href="https://ok.example">ok`,
		`<<script>script>alert(1)<</script>/script>`,
		`<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" onerror="x">`,
		`<a href="https://ok.example" onclick="alert(1)" target="_self">ok</a>`,
		`<p>text</p><!--<script>alert(1)</script>-->`,
		`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
	}
	for _, v := range vectors {
		got := strings.ToLower(s.HTML(v))
		for _, f := range forbidden {
			if strings.Contains(got, f) {
				t.Errorf("sanitise(%q) = %q: still contains %q", v, got, f)
			}
		}
	}
}

func TestSanitizeKeepsWallMarkup(t *testing.T) {
	s := NewSanitizer()
	cases := []struct{ in, want string }{
		{`<p>Hello<br>world</p>`, `<p>Hello<br>world</p>`},
		{`<p><strong>a</strong> <em>b</em></p>`, `<p><strong>a</strong> <em>b</em></p>`},
		{`<a href="https://ex.example/x">x</a>`, `<a href="https://ex.example/x" rel="nofollow noreferrer noopener" target="_blank">x</a>`},
		{`<a href="https://m.example/tags/devconf" class="mention hashtag" rel="tag">#<span>devconf</span></a>`,
			`<a href="https://m.example/tags/devconf" class="mention hashtag" rel="nofollow noreferrer noopener" target="_blank">#<span>devconf</span></a>`},
		{`<span class="invisible">https://</span>`, `<span class="invisible">https://</span>`},
		{`<span class="evil">x</span>`, `<span>x</span>`},
		{`<img class="emoji" src="https://m.example/e.png" alt=":wave:">`, `<img class="emoji" src="https://m.example/e.png" alt=":wave:">`},
		{`<p dir="rtl">שלום</p>`, `<p dir="rtl">שלום</p>`},
	}
	for _, c := range cases {
		if got := s.HTML(c.in); got != c.want {
			t.Errorf("sanitise(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestTextToHTML(t *testing.T) {
	s := NewSanitizer()
	got := s.TextToHTML("Hi <b>there</b>\nsee https://ex.example/a?b=1.\n\nbye")
	want := `<p>Hi &lt;b&gt;there&lt;/b&gt;<br>see <a href="https://ex.example/a?b=1" rel="nofollow noreferrer noopener" target="_blank">https://ex.example/a?b=1</a>.</p><p>bye</p>`
	if got != want {
		t.Errorf("TextToHTML\n got %q\nwant %q", got, want)
	}
}

func BenchmarkSanitize(b *testing.B) {
	s := NewSanitizer()
	in := `<p>Keynote is starting! <a href="https://m.example/tags/devconf" class="mention hashtag" rel="tag">#<span>devconf</span></a> ` +
		`with <span class="h-card"><a href="https://m.example/@ana" class="u-url mention">@<span>ana</span></a></span></p><p>Slides: <a href="https://slides.example/x">https://slides.example/x</a></p>`
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		match.Plain(s.HTML(in))
	}
}
