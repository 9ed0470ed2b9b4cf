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
  - {name: masto, type: mastodon, instance: "https://m.example"}
  - {name: cms, type: demo}
  - {name: cms2, type: demo}
filters: {word_lists: [en]}
walls:
  - slug: family
    hashtags: [devconf]
    sources: [masto, cms]
    filters: {word_lists: [fr], hold_if: [links, media, young_account], min_account_age: 168h}
    trusted: {sources: [cms], authors: ["masto:@speaker@m.example"]}
  - slug: lenient
    hashtags: [devconf]
    sources: [masto, cms2]
    moderation: manual
    filters: {hold_if: [word_list]}
    trusted: {authors: ["mastodon:@speaker@m.example"]}
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
		{"a display name that looks like a trusted handle is not trusted", "masto", func(p *wall.Post) {
			p.Author.Handle = "mallory@evil.example"
			p.Author.Name = "@Speaker@m.example"
		}, "visible | pending"},
		{"a trusted handle from another source is not trusted", "cms2", func(p *wall.Post) { p.Author.Handle = "@speaker@m.example" }, "pending"},
		{"a source that claims the network is not the network", "cms2", func(p *wall.Post) { p.Author.Handle = "@speaker@m.example"; p.Network = "mastodon" }, "pending"},
		{"a trusted author still meets the lists", "masto", func(p *wall.Post) { p.Author.Handle = "@speaker@m.example"; p.Text = "fuck" },
			"rejected: word list en (text: fuck*) | pending: word list en (text: fuck*)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wall.Post{Text: "hello #devconf", Tags: []string{"devconf"}, Network: "mastodon", Author: wall.Author{Name: "Ana", Handle: "@ana@m.example"}}
			if tc.source == "cms2" {
				p.Network = "web"
			}
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
	r := NewRouter(testConfig(t, moderationYAML), wall.Rule{Wall: "lenient", Kind: wall.RuleTrusted, Value: "masto:@bo@m.example"})
	p := wall.Post{Text: "hello #devconf", Tags: []string{"devconf"}, Source: "masto", Network: "mastodon", Author: wall.Author{Handle: "@bo@m.example"}}
	got := r.Route("masto", &p)
	if fmt.Sprint(got[1].Status) != wall.StatusVisible {
		t.Errorf("trusted at run time: %+v", got)
	}
	if !Catches(wall.Rule{Kind: wall.RuleTrusted, Value: "masto:bo@m.example"}, p) {
		t.Error("Catches does not find the trusted author's post")
	}
	// The console's trust never follows a display name, nor another network.
	impostor := wall.Post{Text: "hello #devconf", Tags: []string{"devconf"}, Source: "masto", Network: "mastodon", Author: wall.Author{Handle: "mallory@evil.example", Name: "@bo@m.example"}}
	if Catches(wall.Rule{Kind: wall.RuleTrusted, Value: "masto:@bo@m.example"}, impostor) {
		t.Error("Catches trusts a display name")
	}
	if Catches(wall.Rule{Kind: wall.RuleTrusted, Value: "cms:@bo@m.example"}, p) {
		t.Error("Catches trusts a handle from another source")
	}
	if got := r.Route("masto", &impostor); fmt.Sprint(got[1].Status) != wall.StatusPending {
		t.Errorf("an impostor by display name: %+v", got)
	}
}

const floodYAML = `
sources:
  - {name: masto, type: demo}
  - {name: bsky, type: demo}
  - {name: cms, type: demo}
walls:
  - slug: conf
    hashtags: [devconf]
    sources: [masto, bsky, cms]
    filters: {max_posts_per_author: 3/10m, duplicates_within: 30m}
    trusted: {sources: [cms]}
`

// floodRouter is a router with a memory whose clock the test moves.
func floodRouter(t *testing.T) (*Router, *time.Time) {
	r := NewRouter(testConfig(t, floodYAML))
	now := time.Unix(1_800_000_000, 0)
	r.mem = NewMemory()
	r.mem.now = func() time.Time { return now }
	return r, &now
}

// route routes a new post through a router and its memory.
func route(r *Router, source, id, handle, text string) string {
	p := wall.Post{ID: source + ":" + id, Text: text, Tags: []string{"devconf"}, Author: wall.Author{Handle: handle}}
	ts := r.Route(source, &p)
	r.admit(source, &p, ts)
	if ts[0].Reason != "" {
		return string(ts[0].Status) + ": " + ts[0].Reason
	}
	return string(ts[0].Status)
}

// TestMaxPostsPerAuthor: three posts by one author in ten minutes, the
// fourth rejected; another author is not counted; a post seen again is not
// counted twice; the window slides; a trusted source is not limited.
func TestMaxPostsPerAuthor(t *testing.T) {
	r, now := floodRouter(t)
	for i := range 3 {
		if got := route(r, "masto", fmt.Sprint(i), "@ana@m.example", fmt.Sprintf("post number %d #devconf", i)); got != "visible" {
			t.Fatalf("post %d: %s", i, got)
		}
	}
	if got := route(r, "masto", "2", "@ana@m.example", "post number 2 #devconf"); got != "visible" {
		t.Errorf("the same post again (a re-emit): %s", got)
	}
	if got := route(r, "masto", "3", "@ana@m.example", "a fourth one #devconf"); got != "rejected: more than 3 posts in 10m0s by this author" {
		t.Errorf("fourth: %s", got)
	}
	if got := route(r, "masto", "b1", "@bo@m.example", "bo speaks #devconf"); got != "visible" {
		t.Errorf("another author: %s", got)
	}
	*now = now.Add(10 * time.Minute)
	if got := route(r, "masto", "4", "@ana@m.example", "later on #devconf"); got != "visible" {
		t.Errorf("ten minutes later: %s", got)
	}
	for i := range 5 {
		if got := route(r, "cms", fmt.Sprint("c", i), "@live@cms.example", fmt.Sprintf("live blog entry %d #devconf", i)); got != "visible" {
			t.Errorf("trusted source, post %d: %s", i, got)
		}
	}
}

// TestNearDuplicates: what counts as the same text, across authors and
// networks, and what does not.
func TestNearDuplicates(t *testing.T) {
	const campaign = "Vote for the best talk of the year at https://vote.example/now #devconf"
	for _, tc := range []struct {
		name        string
		first, then string
		dup         bool
	}{
		{"a copy by someone else", campaign, campaign, true},
		{"case, punctuation, links, mentions and other tags do not count", campaign,
			"VOTE for the BEST talk of the year!!! https://other.example @bo #devconf #vote", true},
		{"accents and full-width letters do not count", "Le café de la conférence est vraiment excellent ce matin",
			"le cafe de la ｃｏｎｆｅｒｅｎｃｅ est vraiment excellent ce matin", true},
		{"one word changed in a long text", "the keynote about compilers was the best talk I have seen this year",
			"the keynote about compilers was the best talk we have seen this year", true},
		{"a word added", "the keynote about compilers was the best talk I have seen this year",
			"honestly the keynote about compilers was the best talk I have seen this year", true},
		{"short reactions are people, not spam", "Great talk!", "great talk", false},
		{"five short words", "what a great talk today", "what a great talk today", true},
		{"same topic, other words", "the keynote about compilers was the best talk I have seen this year",
			"I did not like the keynote, the compilers part was far too long for me", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, now := floodRouter(t)
			if got := route(r, "masto", "1", "@ana@m.example", tc.first); got != "visible" {
				t.Fatalf("first: %s", got)
			}
			*now = now.Add(time.Minute)
			got := route(r, "bsky", "2", "@bo.bsky.example", tc.then)
			if dup := strings.HasPrefix(got, "rejected: near-duplicate of masto:1"); dup != tc.dup {
				t.Errorf("second: %s, want duplicate=%v", got, tc.dup)
			}
		})
	}
	// The window ends: the same text is new again.
	r, now := floodRouter(t)
	route(r, "masto", "1", "@ana@m.example", campaign)
	*now = now.Add(31 * time.Minute)
	if got := route(r, "bsky", "2", "@bo.bsky.example", campaign); got != "visible" {
		t.Errorf("after the window: %s", got)
	}
}

// TestNewAuthorHeld: hold_if new_author holds an author's first post on a
// wall, not the next, and not that of an author the database knew.
func TestNewAuthorHeld(t *testing.T) {
	r := NewRouter(testConfig(t, strings.Replace(floodYAML, "duplicates_within: 30m}", "duplicates_within: 30m, hold_if: [new_author]}", 1)))
	r.mem = NewMemory()
	r.mem.Seed(map[string][]string{"conf": {"@old@m.example"}})
	for _, tc := range []struct{ id, handle, want string }{
		{"1", "@new@m.example", "pending: held: first post on this wall"},
		{"2", "@new@m.example", "visible"},
		{"3", "@OLD@m.example", "visible"},
	} {
		if got := route(r, "masto", tc.id, tc.handle, "post "+tc.id+" #devconf"); got != tc.want {
			t.Errorf("%s by %s: %s, want %s", tc.id, tc.handle, got, tc.want)
		}
	}
	if got := route(r, "cms", "c1", "@cms@x.example", "from the trusted source #devconf"); got != "visible" {
		t.Errorf("trusted source: %s", got)
	}
}
