package config_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/sources/demo"
	"github.com/wallcast/wallcast/sources/rss"
)

const good = `server:
  listen: ":9090"
sources:
  - name: blog
    type: rss
    url: https://example.org/feed.xml
  - name: demo
    type: demo
walls:
  - slug: devconf
    hashtags: [devconf]
    sources: [blog, demo]
`

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParseGoodAndDefaults(t *testing.T) {
	c, err := config.Parse("config.yaml", []byte(good), env(nil), sources.ConfigTypes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.BaseURL != "http://localhost:9090" {
		t.Errorf("base_url default = %q", c.Server.BaseURL)
	}
	if c.Storage.Retention.D() != 720*time.Hour || c.Storage.Path != "wallcast.db" {
		t.Errorf("storage defaults = %+v", c.Storage)
	}
	feed, demoSet := c.Sources[0].Settings.(*rss.Settings), c.Sources[1].Settings.(*demo.Settings)
	if feed.Interval.D() != 5*time.Minute || demoSet.Interval.D() != 4*time.Second {
		t.Errorf("interval defaults = %v, %v", feed.Interval.D(), demoSet.Interval.D())
	}
	w := c.Walls[0]
	if w.Title != "devconf" || w.Moderation != "auto" || w.Display.Layout != "grid" || w.Display.MaxPosts != 60 {
		t.Errorf("wall defaults = %+v", w)
	}
	if c.Sources[0].Line != 4 {
		t.Errorf("source line = %d, want 4", c.Sources[0].Line)
	}
}

func TestEnvExpansion(t *testing.T) {
	src := strings.Replace(good, `":9090"`, `"${HOST:-127.0.0.1}:${PORT}"`, 1) +
		"    display: {max_posts: \"${MAX}\"}\nadmin:\n  user: admin\n  password_hash: \"${HASH}\"\n"
	c, err := config.Parse("c.yaml", []byte(src), env(map[string]string{"PORT": "7000", "MAX": "12", "HASH": "$2a$10$abc"}), sources.ConfigTypes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:7000" {
		t.Errorf("listen = %q", c.Server.Listen)
	}
	if c.Walls[0].Display.MaxPosts != 12 {
		t.Errorf("max_posts from env = %d", c.Walls[0].Display.MaxPosts)
	}
	if c.Admin.PasswordHash != "$2a$10$abc" {
		t.Errorf("password_hash = %q", c.Admin.PasswordHash)
	}
}

// TestErrors checks that every kind of mistake is refused with its line
// and a fix.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		msg, fix   string
	}{
		{"unknown top key", good + "wals: []\n", 13, "wals: unknown key", `did you mean "walls"`},
		{"unknown wall key", strings.Replace(good, "    hashtags:", "    hashtag: [x]\n    hashtags:", 1), 11, "walls[0].hashtag: unknown key", `did you mean "hashtags"`},
		{"unknown source type", strings.Replace(good, "type: demo", "type: myspace", 1), 8, `unknown source type "myspace"`, "bluesky, demo, mastodon, peertube, reddit, rss, twitch, uploads, webhook, x, youtube"},
		{"key of another type", strings.Replace(good, "type: demo", "type: demo\n    url: https://x.example", 1), 9, "sources[1].url: not a key of demo sources", "demo sources take"},
		{"missing source", strings.Replace(good, "[blog, demo]", "[blog, mastodon]", 1), 12, `no source is named "mastodon"`, "blog, demo"},
		{"duplicate slug", good + "  - slug: devconf\n    hashtags: [x]\n    sources: [demo]\n", 13, `wall "devconf" is defined twice (first at line 10)`, "own slug"},
		{"duplicate source", strings.Replace(good, "name: demo", "name: blog", 1), 7, `source "blog" is defined twice (first at line 4)`, "own name"},
		{"no hashtags or keywords", strings.Replace(good, "    hashtags: [devconf]\n", "    hashtags: []\n", 1), 11, "no hashtags and no keywords", "add hashtags"},
		{"bad listen", strings.Replace(good, `":9090"`, `"localhost"`, 1), 2, `"localhost" is not a listen address`, ":8080"},
		{"bad port", strings.Replace(good, `":9090"`, `":99999"`, 1), 2, `port "99999"`, "host:port"},
		{"bad duration", strings.Replace(good, "type: demo", "type: demo\n    interval: soon", 1), 9, `"soon" is not a duration`, "30s"},
		{"unset env", strings.Replace(good, `":9090"`, `"${NOPE}"`, 1), 2, "environment variable NOPE is not set", "export NOPE"},
		{"secret in file", good + "admin:\n  password_hash: hunter2\n", 14, "a secret is written in the file", "${WALLCAST_PASSWORD_HASH}"},
		{"secret with a default", good + "admin:\n  password_hash: \"${HASH:-$2a$10$abc}\"\n", 14, "a secret is written in the file", "no default"},
		{"secret with text around", good + "admin:\n  password_hash: \"x${HASH}\"\n", 14, "a secret is written in the file", "no default"},
		{"websub without secret", strings.Replace(good, "type: demo", "type: webhook\n    flavor: websub\n    hub: https://hub.example/\n    topic: https://blog.example/feed", 1), 7, "a webhook needs a secret", "secret:"},
		{"rss without url", strings.Replace(good, "    url: https://example.org/feed.xml\n", "", 1), 4, "needs the http(s) URL", "url:"},
		{"bad moderation", strings.Replace(good, "sources: [blog, demo]", "sources: [blog, demo]\n    moderation: later", 1), 13, `"later" is not a moderation mode`, "manual"},
		{"bad layout", good + "    display: {layout: carousel}\n", 13, `"carousel" is not a layout`, "spotlight"},
		{"bad origin", good + "    embed_origins: [news.example]\n", 13, `"news.example" is not an origin`, "https://news.example"},
		{"unknown word list", good + "    filters: {word_lists: [en, klingon]}\n", 13, `there is no "klingon" list`, "de, en, es, fr, it, nl, pt"},
		{"unknown top-level word list", "filters: {word_lists: [xx]}\n" + good, 1, `filters.word_lists: there is no "xx" list`, "en"},
		{"bad hold reason", good + "    filters: {hold_if: [links, swearing]}\n", 13, `"swearing" is not a reason to hold`, "word_list, links, media, new_author, young_account"},
		{"young account without an age", good + "    filters: {hold_if: [young_account]}\n", 13, "young_account needs min_account_age", "min_account_age: 168h"},
		{"bad rate", good + "    filters: {max_posts_per_author: lots}\n", 13, `"lots" is not a rate`, "3/10m"},
		{"trusted author without network", good + "    trusted: {authors: [\"@organiser@mastodon.social\"]}\n", 13, `"@organiser@mastodon.social" does not say which network or source`, "mastodon:@organiser@mastodon.social"},
		{"trusted author unknown network", good + "    trusted: {authors: [\"myspace:@organiser\"]}\n", 13, `"myspace:@organiser" does not say`, "source:handle"},
		{"trusted source unknown", good + "    trusted: {sources: [cms]}\n", 13, `trusted.sources: no source is named "cms"`, "blog, demo"},
		{"classifier hold without a classifier", good + "    filters: {hold_if: [classifier]}\n", 13, "hold_if classifier needs a classifier", "moderation: {classifier"},
		{"classifier on_error", "moderation: {classifier: {url: \"http://127.0.0.1:9/score\", on_error: shrug}}\n" + good, 1, `"shrug" is not a choice`, "hold"},
		{"sponsor without an image", good + "    display: {sponsors: [{name: ACME}]}\n", 13, "the sponsor needs an image", "sponsors/acme.png"},
		{"sponsor link", good + "    display: {sponsors: [{image: \"https://acme.example/a.png\", url: \"acme.example\"}]}\n", 13, "url: not an http(s) URL", "https://acme.example"},
		{"cluster without nats", "cluster: {stream: wallcast}\n" + good, 1, "cluster: no NATS to use", "embedded:"},
		{"cluster bad url", "cluster:\n  nats: [\"http://10.0.0.5:4222\"]\n" + good, 2, `"http://10.0.0.5:4222" is not a NATS URL`, "nats://host:4222"},
		{"cluster replicas", "cluster: {nats: [\"nats://a:4222\"], replicas: 9}\n" + good, 1, "replicas: 9 is out of range", "three-node"},
		{"cluster stream name", "cluster: {nats: [\"nats://a:4222\"], stream: \"wall.cast\"}\n" + good, 1, `"wall.cast" is not a stream name`, "letters"},
		{"cluster credentials", "cluster: {nats: [\"nats://a:4222\"], credentials: /nope.creds}\n" + good, 1, `cannot read "/nope.creds"`, ".creds"},
		{"cluster password in url", "cluster: {nats: [\"nats://u:pw@a:4222\"]}\n" + good, 1, "carries a user or password", "cluster.password"},
		{"cluster password in file", "cluster: {nats: [\"nats://a:4222\"], password: hunter2}\n" + good, 1, "a secret is written in the file", "${WALLCAST_PASSWORD}"},
		{"embedded off loopback", "cluster:\n  embedded: {listen: \"0.0.0.0:4222\"}\n" + good, 2, "no edge may connect without edge_password", "tls: {cert"},
		{"edge password in file", "cluster:\n  embedded: {listen: \"0.0.0.0:4222\", edge_password: abc}\n" + good, 2, "a secret is written in the file", "${WALLCAST_EDGE_PASSWORD}"},
		{"cluster tls half", "cluster:\n  nats: [\"tls://a:4222\"]\n  tls: {cert: a.pem}\n" + good, 3, "cert and key go together", "both"},
		{"cluster tls file", "cluster:\n  nats: [\"tls://a:4222\"]\n  tls: {ca: /nope/ca.pem}\n" + good, 3, `cannot read "/nope/ca.pem"`, "PEM"},
		{"outbound without a secret", "outbound:\n  - {name: cms, url: \"https://cms.example/hook\"}\n" + good, 2, "an endpoint needs a secret", "${WALLCAST_OUTBOUND_SECRET}"},
		{"outbound secret in file", "outbound:\n  - {name: cms, url: \"https://cms.example/hook\", secret: abc}\n" + good, 2, "a secret is written in the file", "${WALLCAST_SECRET}"},
		{"outbound bad url", "outbound:\n  - {name: cms, url: cms.example, secret: \"${S}\"}\n" + good, 2, "url must be an http(s) URL", "https://"},
		{"outbound event", "outbound:\n  - name: cms\n    url: \"https://cms.example/hook\"\n    secret: \"${S}\"\n    events: [shown, liked]\n" + good, 5, `"liked" is not an event Wallcast sends`, "approved, rejected"},
		{"outbound wall", "outbound:\n  - name: cms\n    url: \"https://cms.example/hook\"\n    secret: \"${S}\"\n    walls: [nope]\n" + good, 5, `no wall "nope"`, "slug"},
		{"outbound name twice", "outbound:\n  - {name: cms, url: \"https://a.example/\", secret: \"${S}\"}\n  - {name: cms, url: \"https://b.example/\", secret: \"${S}\"}\n" + good, 3, "is taken by another endpoint", "own name"},
		{"uploads to an unknown wall", strings.Replace(good, "type: demo", "type: uploads\n    walls: [devconf, stage]", 1), 9, `sources[1].walls[1]: no wall "stage"`, "slug"},
		{"uploads bad size", strings.Replace(good, "type: demo", "type: uploads\n    max_pixels: 20000", 1), 9, "max_pixels", "1600"},
		{"twitch without channels", strings.Replace(good, "type: demo", "type: twitch", 1), 7, "needs the channels", "channels: [yourchannel]"},
		{"twitch bad channel", strings.Replace(good, "type: demo", "type: twitch\n    channels: [\"dev conf\"]", 1), 9, `"dev conf" is not a Twitch channel name`, "twitch.tv/<login>"},
		{"twitch token in file", strings.Replace(good, "type: demo", "type: twitch\n    channels: [devconf]\n    username: bot\n    oauth_token: abc", 1), 11, "a secret is written in the file", "${"},
		{"youtube both", strings.Replace(good, "type: demo", "type: youtube\n    api_key: \"${YT}\"\n    video_id: dQw4w9WgXcQ\n    channel_id: UCabcdefghijklmnopqrstuv", 1), 7, "one video_id or one channel_id", "video_id"},
		{"youtube handle", strings.Replace(good, "type: demo", "type: youtube\n    api_key: \"${YT}\"\n    channel_id: \"@devconf\"", 1), 10, "not a YouTube channel id", "UC"},
		{"mastodon list without token", strings.Replace(good, "type: demo", "type: mastodon\n    instance: \"https://m.example\"\n    lists: [\"42\"]", 1), 10, "needs their access token", "read:lists"},
		{"bluesky account", strings.Replace(good, "type: demo", "type: bluesky\n    accounts: [\"not a handle\"]", 1), 9, "neither a handle nor a DID", "did:plc"},
		{"x account", strings.Replace(good, "type: demo", "type: x\n    bearer_token: \"${XB}\"\n    accounts: [\"a b\"]", 1), 10, "not an X handle", "15"},
		{"wall match", good + "    match: everything\n", 13, `"everything" is not a match`, "match: all"},
		{"overlay position", good + "    display: {layout: overlay, overlay_position: top}\n", 13, `"top" is not an overlay position`, "lower_third or corner"},
		{"layout", good + "    display: {layout: masonry}\n", 13, `"masonry" is not a layout`, "grid, spotlight, ticker, overlay"},
		{"not yaml", "walls: [\n", 1, "not valid YAML", "indentation"},
		{"wrong shape", "walls: {slug: x}\n", 1, "walls: expected a list", "list"},
		{"no walls", "sources: []\n", 1, "no walls are defined", "add a wall"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("conf.yaml", []byte(tc.yaml), env(nil), sources.ConfigTypes())
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want config.Errors", err)
			}
			for _, e := range errs {
				if strings.Contains(e.Msg, tc.msg) {
					if e.Line != tc.line {
						t.Errorf("line = %d, want %d (%v)", e.Line, tc.line, e)
					}
					if !strings.Contains(e.Fix, tc.fix) {
						t.Errorf("fix = %q, want it to mention %q", e.Fix, tc.fix)
					}
					if !strings.HasPrefix(e.Error(), "conf.yaml:") {
						t.Errorf("error %q does not start with the file name", e.Error())
					}
					return
				}
			}
			t.Errorf("no error says %q; got:\n%v", tc.msg, errs)
		})
	}
}

func TestEveryErrorIsReported(t *testing.T) {
	bad := "server: {listen: nowhere, colour: red}\nwalls:\n  - slug: a\n    sources: [x]\n"
	_, err := config.Parse("c.yaml", []byte(bad), env(nil), sources.ConfigTypes())
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatal(err)
	}
	// An unknown key does not hide the other problems.
	if len(errs) < 4 || errs[0].Line != 1 || !strings.Contains(errs.Error(), "colour: unknown key") {
		t.Fatalf("errs = %v", errs)
	}
	bad = "server: {listen: nowhere}\nwalls:\n  - slug: a\n    sources: [x]\n"
	_, err = config.Parse("c.yaml", []byte(bad), env(nil), sources.ConfigTypes())
	errors.As(err, &errs)
	if len(errs) < 3 {
		t.Fatalf("want listen, hashtags and source errors, got %v", errs)
	}
}

func TestShippedConfig(t *testing.T) {
	data, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("config.yaml", data, env(nil), sources.ConfigTypes()); err != nil {
		t.Fatalf("the shipped config.yaml does not load:\n%v", err)
	}
}

// FuzzParse: any bytes are a config or a list of problems, never a panic;
// every problem has a line, and a config that loads has a wall.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	if data, err := os.ReadFile("../config.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("walls: [\n"))
	f.Add([]byte("sources: [{name: x, type: webhook, secret: \"${S:-lit}\", max_body: -1}]\nwalls: [{slug: a, sources: [x], hashtags: [t]}]\n"))
	types := sources.ConfigTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("f.yaml", data, env(map[string]string{"S": "v"}), types)
		var errs config.Errors
		switch {
		case errors.As(err, &errs):
			for _, e := range errs {
				if e.Line < 1 || e.Msg == "" {
					t.Fatalf("a problem without a line or message: %+v", e)
				}
			}
		case err != nil:
			t.Fatalf("an error that is not a list of problems: %v", err)
		case len(c.Walls) == 0:
			t.Fatal("a config without walls loaded")
		}
	})
}

// TestEmbeddedOnLoopback: an embedded NATS that only this machine reaches
// needs no edge password; any other address does.
func TestEmbeddedOnLoopback(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:4222", "[::1]:4222", "localhost:4222"} {
		src := "cluster:\n  embedded: {listen: \"" + listen + "\"}\n" + good
		if _, err := config.Parse("c.yaml", []byte(src), env(nil), sources.ConfigTypes()); err != nil {
			t.Errorf("%s: %v", listen, err)
		}
	}
}

// TestOwnFiles: an edge serves only the branding files its own config
// names for a wall; a path from NATS that it does not name is dropped.
func TestOwnFiles(t *testing.T) {
	own := []config.Wall{{Slug: "w", Display: config.Display{Logo: "logo.svg", CustomCSS: "wall.css", Sponsors: []config.Sponsor{{Image: "acme.png"}}}}}
	got := []config.Wall{
		{Slug: "w", Display: config.Display{Logo: "logo.svg", Background: "/etc/passwd", CustomCSS: "../.env", Sponsors: []config.Sponsor{{Image: "acme.png"}, {Image: "/etc/shadow"}, {Image: "https://cdn.example/b.png"}}}},
		{Slug: "other", Display: config.Display{Logo: "logo.svg", Background: "https://cdn.example/bg.jpg"}},
	}
	out, dropped := config.OwnFiles(got, own)
	w, o := out[0].Display, out[1].Display
	if w.Logo != "logo.svg" || w.Background != "" || w.CustomCSS != "" || w.Sponsors[0].Image != "acme.png" || w.Sponsors[1].Image != "" || w.Sponsors[2].Image != "https://cdn.example/b.png" {
		t.Errorf("wall w: %+v", w)
	}
	if o.Logo != "" || o.Background != "https://cdn.example/bg.jpg" {
		t.Errorf("wall other: %+v", o)
	}
	if len(dropped) != 4 {
		t.Errorf("dropped %v", dropped)
	}
	if got[0].Display.Sponsors[1].Image != "/etc/shadow" {
		t.Error("OwnFiles changed its input")
	}
}

// TestUploadsWalls: an uploads source that names its walls feeds them, as
// if each wall named it; a wall fed only by it needs no hashtags.
func TestUploadsWalls(t *testing.T) {
	yaml := good + `  - slug: hall
    sources: []
`
	yaml = strings.Replace(yaml, "  - name: demo\n    type: demo\n", "  - name: demo\n    type: demo\n  - name: phones\n    type: uploads\n    walls: [devconf, hall]\n", 1)
	c, err := config.Parse("conf.yaml", []byte(yaml), env(nil), sources.ConfigTypes())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Wall("devconf").Sources; !slices.Equal(got, []string{"blog", "demo", "phones"}) {
		t.Fatalf("devconf sources %v", got)
	}
	if got := c.Wall("hall").Sources; !slices.Equal(got, []string{"phones"}) {
		t.Fatalf("hall sources %v", got)
	}
}
