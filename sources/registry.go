package sources

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/bluesky"
	"github.com/wallcast/wallcast/sources/demo"
	"github.com/wallcast/wallcast/sources/mastodon"
	"github.com/wallcast/wallcast/sources/reddit"
	"github.com/wallcast/wallcast/sources/rss"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/sources/x"
	"github.com/wallcast/wallcast/wall"
)

// Deps is what adapters may need from the server.
type Deps struct {
	BaseURL string       // the server's public URL (demo media)
	Client  *http.Client // nil: each adapter makes its own
	Log     *slog.Logger
	Hooks   *webhook.Hooks // where webhook sources receive their pushes
}

// New builds the adapter for one configured source. Every adapter type is
// listed here, and config.TypeKeys lists the keys each one takes.
func New(c config.Source, d Deps) (wall.Source, error) {
	switch c.Type {
	case "demo":
		base := c.MediaBase
		if base == "" {
			base = d.BaseURL
		}
		return demo.New(c.Interval.D(), base), nil
	case "rss":
		return rss.New(rss.Config{Name: c.Name, URL: c.URL, Interval: c.Interval.D(), UserAgent: c.UserAgent}, d.Client, d.Log), nil
	case "bluesky":
		return bluesky.New(bluesky.Config{
			Name: c.Name, Jetstream: c.Jetstream, AppView: c.AppView, PDS: c.PDS,
			Identifier: c.Identifier, AppPassword: c.AppPassword, UserAgent: c.UserAgent,
		}, d.Client, d.Log), nil
	case "reddit":
		return reddit.New(reddit.Config{Name: c.Name, ClientID: c.ClientID, ClientSecret: c.ClientSecret, UserAgent: c.UserAgent,
			Subreddits: c.Subreddits, Query: c.Query, TokenURL: c.TokenURL, APIBase: c.APIBase, Interval: c.Interval.D()}, d.Client, d.Log), nil
	case "x":
		return x.New(x.Config{Name: c.Name, BearerToken: c.BearerToken, APIBase: c.APIBase, Stream: c.Mode == "stream",
			PollInterval: c.PollInterval.D(), UserAgent: c.UserAgent}, d.Client, d.Log), nil
	case "webhook":
		if d.Hooks == nil {
			return nil, fmt.Errorf("source %s: webhooks need the server's hook router", c.Name)
		}
		poll := rss.New(rss.Config{Name: c.Name, URL: c.Topic, Interval: c.Interval.D(), UserAgent: c.UserAgent}, d.Client, d.Log)
		return webhook.New(webhook.Config{
			Name: c.Name, Flavor: c.Flavor, Secret: c.Secret, VerifyToken: c.VerifyToken, Hub: c.Hub, Topic: c.Topic,
			Callback: strings.TrimRight(d.BaseURL, "/") + "/hooks/" + c.Name, MaxBody: c.MaxBody,
			MaxPostsPerMinute: c.MaxPostsPerMinute, Poll: poll, UserAgent: c.UserAgent, Client: d.Client,
		}, d.Hooks, d.Log), nil
	case "mastodon":
		return mastodon.New(mastodon.Config{
			Name: c.Name, Instance: c.Instance, AccessToken: c.AccessToken, Stream: c.Mode != "poll",
			PollInterval: c.PollInterval.D(), LocalOnly: c.LocalOnly, IncludeReplies: c.IncludeReplies,
			IncludeBoosts: c.IncludeBoosts, UserAgent: c.UserAgent,
		}, d.Client, d.Log), nil
	}
	return nil, fmt.Errorf("source %s: unknown type %q", c.Name, c.Type)
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
