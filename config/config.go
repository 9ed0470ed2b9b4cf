// Package config reads config.yaml: the schema, ${ENV} expansion, defaults,
// and validation that names the file, the line and the fix.
package config

import (
	"fmt"
	"net"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole of config.yaml.
type Config struct {
	File    string   `yaml:"-"`
	Server  Server   `yaml:"server"`
	Storage Storage  `yaml:"storage"`
	Admin   Admin    `yaml:"admin"`
	Sources []Source `yaml:"sources"`
	Walls   []Wall   `yaml:"walls"`
	// Filters apply to every wall, on top of each wall's own.
	Filters GlobalFilters `yaml:"filters"`
}

// GlobalFilters are the blocked words and authors of every wall.
type GlobalFilters struct {
	BlockedWords   []string `yaml:"blocked_words"`
	BlockedAuthors []string `yaml:"blocked_authors"`
}

// Server is the HTTP side.
type Server struct {
	Listen       string   `yaml:"listen"`
	BaseURL      string   `yaml:"base_url"`
	EmbedOrigins []string `yaml:"embed_origins"`
	// Retry is sent to screens as the SSE retry: how long they wait to reconnect.
	Retry Duration `yaml:"sse_retry"`
	// Heartbeat is the interval of ": ping" comments on open streams.
	Heartbeat Duration `yaml:"heartbeat"`
	// QueueSize bounds the events queued for one screen; a screen that falls
	// further behind is disconnected and resumes from its Last-Event-ID.
	QueueSize int `yaml:"subscriber_queue"`
	// WriteTimeout bounds one write to one screen.
	WriteTimeout Duration `yaml:"write_timeout"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed; the client is the first address, from
	// the right, that is not one of them.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Storage is the SQLite database.
type Storage struct {
	Path      string   `yaml:"path"`
	Retention Duration `yaml:"retention"`
}

// Admin is the login of the admin console.
type Admin struct {
	User         string `yaml:"user"`
	PasswordHash string `yaml:"password_hash"`
	// Users are more accounts, each a moderator or an admin.
	Users []User `yaml:"users"`
	// SessionTTL is how long a login lasts.
	SessionTTL Duration `yaml:"session_ttl"`
}

// User is one admin console account.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
	Role         string `yaml:"role"` // moderator or admin
}

// Accounts returns every account: admin.user as an admin, then admin.users.
func (a Admin) Accounts() []User {
	var out []User
	if a.User != "" && a.PasswordHash != "" {
		out = append(out, User{Name: a.User, PasswordHash: a.PasswordHash, Role: "admin"})
	}
	return append(out, a.Users...)
}

// Source is one upstream. Which keys apply depends on Type (see TypeKeys).
type Source struct {
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Hashtags []string `yaml:"hashtags"`
	Keywords []string `yaml:"keywords"`
	// AllPosts sends every item of the source to its walls, with no hashtag
	// or keyword match (a feed that is the event's own, a webhook).
	AllPosts bool `yaml:"all_posts"`
	// StallTimeout restarts a streaming source that sent no bytes for this long.
	StallTimeout Duration `yaml:"stall_timeout"`

	Interval  Duration `yaml:"interval"`
	URL       string   `yaml:"url"`
	UserAgent string   `yaml:"user_agent"`
	MediaBase string   `yaml:"media_base"`

	// mastodon
	Instance       string   `yaml:"instance"`
	AccessToken    string   `yaml:"access_token"`
	Mode           string   `yaml:"mode"`
	PollInterval   Duration `yaml:"poll_interval"`
	LocalOnly      bool     `yaml:"local_only"`
	IncludeReplies bool     `yaml:"include_replies"`
	IncludeBoosts  bool     `yaml:"include_boosts"`

	// reddit
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Subreddits   []string `yaml:"subreddits"`
	Query        string   `yaml:"query"`
	TokenURL     string   `yaml:"token_url"`

	// x
	BearerToken string `yaml:"bearer_token"`
	APIBase     string `yaml:"api_base"`

	// webhook
	Secret            string `yaml:"secret"`
	Flavor            string `yaml:"flavor"`
	VerifyToken       string `yaml:"verify_token"`
	Hub               string `yaml:"hub"`
	Topic             string `yaml:"topic"`
	MaxBody           int64  `yaml:"max_body"`
	MaxPostsPerMinute int    `yaml:"max_posts_per_minute"`

	// bluesky
	Jetstream   []string `yaml:"jetstream"`
	AppView     string   `yaml:"appview"`
	PDS         string   `yaml:"pds"`
	Identifier  string   `yaml:"identifier"`
	AppPassword string   `yaml:"app_password"`

	Line int `yaml:"-"`
}

// Wall is one wall: what it shows and how.
type Wall struct {
	Slug         string   `yaml:"slug"`
	Title        string   `yaml:"title"`
	Hashtags     []string `yaml:"hashtags"`
	Keywords     []string `yaml:"keywords"`
	Sources      []string `yaml:"sources"`
	Moderation   string   `yaml:"moderation"`
	Filters      Filters  `yaml:"filters"`
	Display      Display  `yaml:"display"`
	EmbedOrigins []string `yaml:"embed_origins"`
}

// Filters drop posts a wall does not want.
type Filters struct {
	HideReplies    bool     `yaml:"hide_replies"`
	HideReposts    bool     `yaml:"hide_reposts"`
	HideSensitive  bool     `yaml:"hide_sensitive"`
	MediaOnly      bool     `yaml:"media_only"`
	BlockedWords   []string `yaml:"blocked_words"`
	BlockedAuthors []string `yaml:"blocked_authors"`
	Languages      []string `yaml:"languages"`
	// MinAccountAge rejects posts from accounts younger than this, where
	// the network tells the account's age (Mastodon).
	MinAccountAge Duration `yaml:"min_account_age"`
}

// Display is how screens show a wall.
type Display struct {
	Layout       string  `yaml:"layout"`
	Theme        string  `yaml:"theme"`
	MaxPosts     int     `yaml:"max_posts"`
	CallToAction string  `yaml:"call_to_action"`
	Accent       string  `yaml:"accent"`
	FontScale    float64 `yaml:"font_scale"`
	Locale       string  `yaml:"locale"`
	// Logo and Background are image files (relative to the config file)
	// served by Wallcast, or http(s) URLs.
	Logo       string `yaml:"logo"`
	Background string `yaml:"background"`
	// CustomCSS is a CSS file (relative to the config file) added to the page.
	CustomCSS string `yaml:"custom_css"`
	// ShowSensitive shows sensitive media unblurred.
	ShowSensitive bool `yaml:"show_sensitive"`
	// QR shows a QR code of the wall's address in the call-to-action bar.
	QR *bool `yaml:"qr"`
	// SpotlightSeconds is how long the spotlight layout shows one post.
	SpotlightSeconds int `yaml:"spotlight_seconds"`
}

// ShowQR reports whether the call-to-action bar has a QR code (default yes).
func (d Display) ShowQR() bool { return d.QR == nil || *d.QR }

// TypeKeys lists, per source type, the keys that type takes besides the
// common ones (name, type, hashtags, keywords, all_posts, stall_timeout).
// The sources registry has one adapter for each entry.
var TypeKeys = map[string][]string{
	"demo": {"interval", "media_base"},
	"rss":  {"url", "interval", "user_agent"},
	"mastodon": {"instance", "access_token", "mode", "poll_interval", "local_only", "include_replies",
		"include_boosts", "user_agent"},
	"bluesky": {"jetstream", "appview", "pds", "identifier", "app_password", "user_agent"},
	"reddit":  {"client_id", "client_secret", "user_agent", "subreddits", "query", "token_url", "api_base", "interval"},
	"x":       {"bearer_token", "api_base", "mode", "poll_interval", "user_agent"},
	"webhook": {"secret", "flavor", "verify_token", "hub", "topic", "max_body", "max_posts_per_minute", "interval", "user_agent"},
}

// commonKeys are the keys every source takes.
var commonKeys = []string{"name", "type", "hashtags", "keywords", "all_posts", "stall_timeout"}

// secretKeys must come from the environment, never from the file.
var secretKeys = map[string]bool{
	"password_hash": true, "access_token": true, "app_password": true, "bearer_token": true,
	"client_secret": true, "secret": true, "verify_token": true,
}

// Duration is a time.Duration written as a Go duration string ("30s", "5m").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Defaults fills every optional setting that was left out.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defd := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&c.Server.Listen, ":8080")
	def(&c.Server.BaseURL, "http://localhost"+portOf(c.Server.Listen))
	defd(&c.Server.Retry, 3*time.Second)
	defd(&c.Server.Heartbeat, 15*time.Second)
	defd(&c.Server.WriteTimeout, 10*time.Second)
	if c.Server.QueueSize == 0 {
		c.Server.QueueSize = 512
	}
	def(&c.Storage.Path, "wallcast.db")
	defd(&c.Admin.SessionTTL, 12*time.Hour)
	for i := range c.Admin.Users {
		def(&c.Admin.Users[i].Role, "moderator")
	}
	defd(&c.Storage.Retention, 720*time.Hour)
	for i := range c.Sources {
		s := &c.Sources[i]
		defd(&s.StallTimeout, 90*time.Second)
		switch s.Type {
		case "demo":
			defd(&s.Interval, 4*time.Second)
		case "rss":
			defd(&s.Interval, 5*time.Minute)
		case "webhook":
			def(&s.Flavor, "wallcast")
			if s.MaxBody == 0 {
				s.MaxBody = 1 << 20
			}
			if s.MaxPostsPerMinute == 0 {
				s.MaxPostsPerMinute = 600
			}
			defd(&s.Interval, 5*time.Minute) // websub without a public address polls
		case "reddit":
			def(&s.TokenURL, "https://www.reddit.com/api/v1/access_token")
			def(&s.APIBase, "https://oauth.reddit.com")
			defd(&s.Interval, time.Minute)
		case "x":
			def(&s.Mode, "stream")
			def(&s.APIBase, "https://api.x.com")
			defd(&s.PollInterval, time.Minute)
			if s.StallTimeout == Duration(90*time.Second) {
				s.StallTimeout = Duration(30 * time.Second) // X sends a keep-alive every 20 s
			}
		case "mastodon":
			def(&s.Mode, "stream")
			defd(&s.PollInterval, 30*time.Second)
		}
		def(&s.UserAgent, "Wallcast/1.0 (+https://github.com/wallcast/wallcast)")
	}
	for i := range c.Walls {
		w := &c.Walls[i]
		def(&w.Title, w.Slug)
		def(&w.Moderation, "auto")
		def(&w.Display.Layout, "grid")
		def(&w.Display.Theme, "dark")
		def(&w.Display.Locale, "en")
		if w.Display.MaxPosts == 0 {
			w.Display.MaxPosts = 60
		}
		if w.Display.FontScale == 0 {
			w.Display.FontScale = 1
		}
		if w.Display.SpotlightSeconds == 0 {
			w.Display.SpotlightSeconds = 8
		}
		if w.EmbedOrigins == nil {
			w.EmbedOrigins = c.Server.EmbedOrigins
		}
	}
}

func portOf(listen string) string {
	if _, port, err := net.SplitHostPort(listen); err == nil {
		return ":" + port
	}
	return ""
}

// Source returns the source with that name, or nil.
func (c *Config) Source(name string) *Source {
	for i := range c.Sources {
		if c.Sources[i].Name == name {
			return &c.Sources[i]
		}
	}
	return nil
}

// Wall returns the wall with that slug, or nil.
func (c *Config) Wall(slug string) *Wall {
	for i := range c.Walls {
		if c.Walls[i].Slug == slug {
			return &c.Walls[i]
		}
	}
	return nil
}
