package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

const moderationYAML = `
sources:
  - {name: masto, type: demo}
  - {name: cms, type: demo}
filters: {word_lists: [en]}
walls:
  - slug: family
    hashtags: [devconf]
    sources: [masto, cms]
    filters: {word_lists: [fr], hold_if: [links, media, young_account], min_account_age: 168h}
    trusted: {sources: [cms], authors: ["@speaker@m.example"]}
  - slug: lenient
    hashtags: [devconf]
    sources: [masto]
    moderation: manual
    filters: {hold_if: [word_list]}
    trusted: {authors: ["@speaker@m.example"]}
`

// TestWordListsHoldsAndTrust: word lists reject (or hold) whatever the
// field; hold_if holds on an auto wall and says why; trusted sources and
// authors skip the holds and a manual wall's queue, never the lists.
func TestWordListsHoldsAndTrust(t *testing.T) {
	r := NewRouter(testConfig(t, moderationYAML))
	hashtag := `<p>hi <a href="https://m.example/tags/devconf" class="mention hashtag">#<span>devconf</span></a> <a href="https://m.example/@bo">@<span>bo</span></a></p>`
	for _, tc := range []struct {
		name   string
		source string
		edit   func(p *wall.Post)
		want   string // family, then lenient
	}{
		{"clean", "masto", func(p *wall.Post) {}, "visible | pending"},
		{"swear word in the text (top-level en list)", "masto", func(p *wall.Post) { p.Text = "what the fuuuck #devconf" },
			"rejected: word list en (text: fuck*) | pending: word list en (text: fuck*)"},
		{"French list in the display name (family's own)", "masto", func(p *wall.Post) { p.Author.Name = "Le Connard" },
			"rejected: word list fr (display name: connard) | pending"},
		{"in an alt text", "masto", func(p *wall.Post) {
			p.Media = []wall.Media{{Type: "image", URL: "https://i.example/a.png", Alt: "a b1tch"}}
		},
			"rejected: word list en (alt text: bitch) | pending: word list en (alt text: bitch)"},
		{"in the handle", "masto", func(p *wall.Post) { p.Author.Handle = "@sh1thead@m.example" },
			"rejected: word list en (handle: shithead) | pending: word list en (handle: shithead)"},
		{"in the content warning", "masto", func(p *wall.Post) { p.ContentWarning = "bullshit ahead" },
			"rejected: word list en (content warning: bullshit) | pending: word list en (content warning: bullshit)"},
		{"a link holds", "masto", func(p *wall.Post) { p.HTML = `<p>see <a href="https://x.example/">x.example</a></p>` }, "pending: held: links | pending"},
		{"hashtag and mention links do not", "masto", func(p *wall.Post) { p.HTML = hashtag }, "visible | pending"},
		{"media holds", "masto", func(p *wall.Post) { p.Media = []wall.Media{{Type: "image", URL: "https://i.example/a.png"}} }, "pending: held: media | pending"},
		{"a young account holds instead of being rejected", "masto", func(p *wall.Post) { p.Author.Joined = time.Now().Add(-time.Hour) },
			"pending: held: account younger than 168h0m0s | pending"},
		{"a trusted source skips the holds", "cms", func(p *wall.Post) { p.HTML = `<p><a href="https://x.example/">x</a></p>` }, "visible"},
		{"a trusted author skips the holds and the queue", "masto", func(p *wall.Post) {
			p.Author.Handle = "@speaker@m.example"
			p.Media = []wall.Media{{Type: "image", URL: "https://i.example/a.png"}}
		}, "visible | visible"},
		{"a trusted author still meets the lists", "masto", func(p *wall.Post) { p.Author.Handle = "@speaker@m.example"; p.Text = "fuck" },
			"rejected: word list en (text: fuck*) | pending: word list en (text: fuck*)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wall.Post{Text: "hello #devconf", Tags: []string{"devconf"}, Author: wall.Author{Name: "Ana", Handle: "@ana@m.example"}}
			tc.edit(&p)
			var got []string
			for _, tg := range r.Route(tc.source, &p) {
				s := string(tg.Status)
				if tg.Reason != "" {
					s += ": " + tg.Reason
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " | "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

// TestTrustedRuleFromTheConsole: a trusted-author rule added at run time
// acts as the config's list does.
func TestTrustedRuleFromTheConsole(t *testing.T) {
	r := NewRouter(testConfig(t, moderationYAML), wall.Rule{Wall: "lenient", Kind: wall.RuleTrusted, Value: "@bo@m.example"})
	p := wall.Post{Text: "hello #devconf", Tags: []string{"devconf"}, Author: wall.Author{Handle: "@bo@m.example"}}
	got := r.Route("masto", &p)
	if fmt.Sprint(got[1].Status) != wall.StatusVisible {
		t.Errorf("trusted at run time: %+v", got)
	}
	if !Catches(wall.Rule{Kind: wall.RuleTrusted, Value: "bo@m.example"}, p) {
		t.Error("Catches does not find the trusted author's post")
	}
}
