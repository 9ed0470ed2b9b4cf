package match

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHashtagsAndWords(t *testing.T) {
	cases := map[string][]string{
		"Hello #DevConf and #devconf2026!":     {"devconf", "devconf2026"},
		"＃ＤｅｖＣｏｎｆ full width":                  {"devconf"},
		"C# and https://x.example/#anchor #42": nil,
		"#café #Straße":                        {"café", "strasse"},
		"(#go)":                                {"go"},
		"#日本語 tag":                             {"日本語"},
	}
	for in, want := range cases {
		if got := Hashtags(in); !reflect.DeepEqual(got, want) {
			t.Errorf("Hashtags(%q) = %q, want %q", in, got, want)
		}
	}
	if w := Words("Don't PANIC, it's fine."); w != " don t panic it s fine " {
		t.Errorf("Words = %q", w)
	}
}

func TestPlain(t *testing.T) {
	if got := Plain(`<p>One &amp; two<br>three</p><p>Four <a href="https://x.example">#tag</a></p>`); got != "One & two\nthree\n\nFour #tag" {
		t.Errorf("Plain = %q", got)
	}
}

func TestSafeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ex.example/a.png": "https://ex.example/a.png",
		"http://ex.example/a.png":  "http://ex.example/a.png",
		"javascript:alert(1)":      "",
		"data:image/png;base64,AA": "",
		"//ex.example/a.png":       "",
		"ftp://ex.example/a":       "",
		"":                         "",
	} {
		if got := SafeURL(in); got != want {
			t.Errorf("SafeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNFKCBounded: whatever a text expands to, what matching reads stays
// within MaxText bytes, cut between characters.
func TestNFKCBounded(t *testing.T) {
	for _, s := range []string{strings.Repeat("\uFDFA", 64<<10/3), strings.Repeat("ｆｕｌｌ", 20000), strings.Repeat("e\u0301", 30000)} {
		got := NFKC(s)
		if len(got) > MaxText || len(got) == 0 || !utf8.ValidString(got) {
			t.Errorf("NFKC of %q…: %d bytes, valid %v", s[:9], len(got), utf8.ValidString(got))
		}
		if f := Fold(s); len(f) > 2*MaxText || !utf8.ValidString(f) {
			t.Errorf("Fold of %q…: %d bytes", s[:9], len(f))
		}
	}
	if got := Cut("añb", 2); got != "a" {
		t.Errorf("Cut inside a character: %q", got)
	}
}
