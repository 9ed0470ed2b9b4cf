package match

import (
	"reflect"
	"testing"
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
