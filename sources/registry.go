// Package sources is the registry of source adapters: every type, its
// settings, and how the walls of a config subscribe to a source.
package sources

import (
	"fmt"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/bluesky"
	"github.com/wallcast/wallcast/sources/demo"
	"github.com/wallcast/wallcast/sources/mastodon"
	"github.com/wallcast/wallcast/sources/peertube"
	"github.com/wallcast/wallcast/sources/reddit"
	"github.com/wallcast/wallcast/sources/rss"
	"github.com/wallcast/wallcast/sources/twitch"
	"github.com/wallcast/wallcast/sources/uploads"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/sources/x"
	"github.com/wallcast/wallcast/sources/youtube"
	"github.com/wallcast/wallcast/wall"
)

// Type is one kind of source: its settings (keys, defaults, checks: the
// adapter's package owns them) and how to build it.
type Type struct {
	Settings     func() config.Settings
	Open         func(config.Source, upstream.Env) (wall.Source, error)
	StallTimeout time.Duration // the type's default stall_timeout (0: 90s)
	AllPosts     bool          // every item goes to the source's walls, hashtags or not
}

// Types lists every adapter type: adding a network is a package of its
// own and one line here.
var Types = map[string]Type{
	"demo":     {Settings: func() config.Settings { return &demo.Settings{} }, Open: demo.Open},
	"rss":      {Settings: func() config.Settings { return &rss.Settings{} }, Open: rss.Open},
	"mastodon": {Settings: func() config.Settings { return &mastodon.Settings{} }, Open: mastodon.Open},
	"bluesky":  {Settings: func() config.Settings { return &bluesky.Settings{} }, Open: bluesky.Open},
	"peertube": {Settings: func() config.Settings { return &peertube.Settings{} }, Open: peertube.Open},
	"reddit":   {Settings: func() config.Settings { return &reddit.Settings{} }, Open: reddit.Open},
	"x":        {Settings: func() config.Settings { return &x.Settings{} }, Open: x.Open, StallTimeout: x.StallTimeout},
	"youtube":  {Settings: func() config.Settings { return &youtube.Settings{} }, Open: youtube.Open, AllPosts: true},
	"twitch":   {Settings: func() config.Settings { return &twitch.Settings{} }, Open: twitch.Open, StallTimeout: twitch.StallTimeout, AllPosts: true},
	"webhook":  {Settings: func() config.Settings { return &webhook.Settings{} }, Open: webhook.Open},
	"uploads":  {Settings: func() config.Settings { return &uploads.Settings{} }, Open: uploads.Open, AllPosts: true},
}

// ConfigTypes is the table as config reads it.
func ConfigTypes() config.Types {
	out := config.Types{}
	for name, t := range Types {
		out[name] = config.SourceType{Settings: t.Settings, StallTimeout: t.StallTimeout, AllPosts: t.AllPosts}
	}
	return out
}

// Load reads a config file with every source type of the table.
func Load(path string) (*config.Config, error) { return config.Load(path, ConfigTypes()) }

// Parse reads config bytes with every source type of the table.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*config.Config, error) {
	return config.Parse(file, data, lookup, ConfigTypes())
}

// New builds the adapter for one configured source.
func New(c config.Source, env upstream.Env) (wall.Source, error) {
	t, ok := Types[c.Type]
	if !ok {
		return nil, fmt.Errorf("source %s: unknown type %q", c.Name, c.Type)
	}
	return t.Open(c, env)
}

// Subscription returns what the walls using a source want from it: the
// source's own hashtags and keywords if it names them, else the union of
// those of its walls.
func Subscription(c *config.Config, name string) wall.Subscription {
	src := c.Source(name)
	sub := wall.Subscription{}
	if src == nil {
		return sub
	}
	seen := map[string]bool{}
	for _, w := range c.Walls {
		uses := false
		for _, s := range w.Sources {
			uses = uses || s == name
		}
		if !uses {
			continue
		}
		sub.Walls = append(sub.Walls, wall.WallWants{Slug: w.Slug, Hashtags: normTags(w.Hashtags), Keywords: w.Keywords,
			HideReplies: w.Filters.HideReplies, HideReposts: w.Filters.HideReposts})
		for _, t := range normTags(w.Hashtags) {
			if !seen["#"+t] {
				seen["#"+t] = true
				sub.Hashtags = append(sub.Hashtags, t)
			}
		}
		for _, k := range w.Keywords {
			if !seen[k] {
				seen[k] = true
				sub.Keywords = append(sub.Keywords, k)
			}
		}
	}
	if len(src.Hashtags) > 0 || len(src.Keywords) > 0 {
		sub.Hashtags = normTags(src.Hashtags)
		sub.Keywords = src.Keywords
	}
	return sub
}
