// Package config reads config.yaml: the schema, ${ENV} expansion, defaults,
// and validation that names the file, the line and the fix.
package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// Moderation holds what helps moderators beyond the filters.
	Moderation Moderation `yaml:"moderation"`
	// Cluster carries the walls' events to edges (nil: one process).
	Cluster *Cluster `yaml:"cluster"`
	// Outbound are the other systems Wallcast tells of what happens on
	// its walls, by signed webhooks.
	Outbound []Outbound `yaml:"outbound"`
	// Translation is a LibreTranslate server that translates posts for
	// the walls with display.translate_to (nil: none).
	Translation *Translation `yaml:"translation"`
}

// Translation is a LibreTranslate server (the API of libretranslate.com,
// which runs self-hosted): posts are translated off the ingest path by
// Concurrency workers, at most PerMinute requests a minute.
type Translation struct {
	URL         string   `yaml:"url"`
	APIKey      string   `yaml:"api_key" config:"secret"`
	Timeout     Duration `yaml:"timeout"`
	PerMinute   int      `yaml:"per_minute"`
	Concurrency int      `yaml:"concurrency"`
}

// Outbound is an endpoint that receives the walls' events as signed JSON
// POSTs, from a durable queue, retried for a day.
type Outbound struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret" config:"secret"`
	// Events are the names of the events it receives (OutboundEvents;
	// none: all of them).
	Events []string `yaml:"events"`
	// Walls are the walls whose events it receives (none: every wall).
	Walls []string `yaml:"walls"`
	// Timeout bounds one delivery (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// OutboundEvents are the events an outbound endpoint may receive.
var OutboundEvents = []string{"shown", "updated", "removed", "pinned", "unpinned", "pending", "approved", "rejected",
	"announced", "poll_opened", "poll_closed", "show"}

// Cluster is the NATS JetStream stream that carries every wall's events
// from the ingest node to the edges, which serve screens from it.
type Cluster struct {
	// NATS are the servers of an existing NATS cluster.
	NATS []string `yaml:"nats"`
	// Embedded runs a NATS server inside the ingest node instead (edges
	// then connect to it: list its address under nats too, or they try
	// 127.0.0.1 at its port).
	Embedded *Embedded `yaml:"embedded"`
	// Stream is the JetStream stream; each wall is a subject of it.
	Stream string `yaml:"stream"`
	// Replicas of the stream (and of the snapshots' bucket): 3 on a
	// three-node NATS cluster.
	Replicas int `yaml:"replicas"`
	// Window is how many events the stream keeps per wall; MaxAge how long.
	Window int      `yaml:"window"`
	MaxAge Duration `yaml:"max_age"`
	// Credentials is a NATS .creds file (optional).
	Credentials string `yaml:"credentials"`
	// User and Password are what this process connects to NATS with
	// (instead of Credentials). On the ingest node with an embedded
	// server they are its own user, which has the write rights; an edge
	// without them connects as the user "edge" with Embedded.EdgePassword.
	User     string `yaml:"user"`
	Password string `yaml:"password" config:"secret"`
	// TLS secures the links to NATS between machines (nil: plain TCP).
	TLS *TLS `yaml:"tls"`
	// UnhealthyAfter is how long an edge without NATS keeps answering
	// /healthz with 200; then 503, so the load balancer sends new screens
	// elsewhere (open ones stay).
	UnhealthyAfter Duration `yaml:"unhealthy_after"`
}

// Embedded is a NATS server run inside the ingest node. It always asks
// for credentials: the ingest node's own user (Cluster.User and
// Cluster.Password, or a password made at each start when none is set)
// may do everything; the user "edge" (known only with EdgePassword) may
// read the stream and the bucket and publish screen reports.
type Embedded struct {
	Listen string `yaml:"listen"`
	// Dir holds JetStream's files (relative to the config file).
	Dir string `yaml:"dir"`
	// EdgePassword is the password of the user "edge".
	EdgePassword string `yaml:"edge_password" config:"secret"`
}

// TLS is the certificate a NATS link uses. The embedded server presents
// Cert and Key; a process that connects checks the server against CA
// (the system's roots when empty) and presents Cert and Key when the
// server is not its own.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
}

// EdgeUser is the NATS user of edges on an embedded server.
const EdgeUser = "edge"

// Moderation holds what helps moderators beyond the filters.
type Moderation struct {
	// Classifier is a team's own model that scores posts (nil: none).
	Classifier *Classifier `yaml:"classifier"`
}

// Classifier is a scoring service: Wallcast POSTs a post's JSON and reads
// {"score": 0..1, "labels": [...]}. Walls with classifier in hold_if
// hold each post until it answers.
type Classifier struct {
	URL         string   `yaml:"url"`
	Timeout     Duration `yaml:"timeout"`
	HoldAbove   float64  `yaml:"hold_above"`
	RejectAbove float64  `yaml:"reject_above"`
	// OnError is what a post becomes when the classifier fails, times out
	// or answers nonsense: hold (for a moderator) or pass.
	OnError string `yaml:"on_error"`
	// Concurrency bounds the calls in flight.
	Concurrency int `yaml:"concurrency"`
}

// GlobalFilters are the blocked words and authors of every wall.
type GlobalFilters struct {
	BlockedWords   []string `yaml:"blocked_words"`
	BlockedAuthors []string `yaml:"blocked_authors"`
	// WordLists, HoldIf, MaxPostsPerAuthor and DuplicatesWithin apply to
	// every wall, as a wall's own do (lists add up; a wall's own rate and
	// window win).
	WordLists         []string     `yaml:"word_lists"`
	HoldIf            []HoldReason `yaml:"hold_if"`
	MaxPostsPerAuthor Rate         `yaml:"max_posts_per_author"`
	DuplicatesWithin  Duration     `yaml:"duplicates_within"`
}

// Merged is a wall's filters with the top-level ones added.
func (c *Config) Merged(w *Wall) Filters {
	f := w.Filters
	f.BlockedWords = append(slices.Clone(f.BlockedWords), c.Filters.BlockedWords...)
	f.BlockedAuthors = append(slices.Clone(f.BlockedAuthors), c.Filters.BlockedAuthors...)
	f.WordLists = unionOf(f.WordLists, c.Filters.WordLists)
	f.HoldIf = unionOf(f.HoldIf, c.Filters.HoldIf)
	if f.MaxPostsPerAuthor.N == 0 {
		f.MaxPostsPerAuthor = c.Filters.MaxPostsPerAuthor
	}
	if f.DuplicatesWithin == 0 {
		f.DuplicatesWithin = c.Filters.DuplicatesWithin
	}
	return f
}

func unionOf[T comparable](a, b []T) []T {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
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
	// MaxStreams caps the event streams open at once; MaxStreamsPerClient
	// caps those of one client address (an IPv6 /64). A refused stream is
	// told to come back in a few seconds.
	MaxStreams          int `yaml:"max_streams"`
	MaxStreamsPerClient int `yaml:"max_streams_per_client"`
	// APIRate is how many requests per minute one client address may make
	// to the public JSON API (/api/), in bursts of up to a tenth of it.
	APIRate int `yaml:"api_rate"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed; the client is the first address, from
	// the right, that is not one of them.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Storage is the SQLite database.
type Storage struct {
	Path      string   `yaml:"path"`
	Retention Duration `yaml:"retention"`
	// MediaDir is where the pictures the audience sends are kept (by
	// default beside the database: wallcast.db keeps them in
	// wallcast-media).
	MediaDir string `yaml:"media_dir"`
}

// Admin is the login of the admin console.
type Admin struct {
	User         string `yaml:"user"`
	PasswordHash string `yaml:"password_hash" config:"secret"`
	// Users are more accounts, each a moderator or an admin.
	Users []User `yaml:"users"`
	// SessionTTL is how long a login lasts.
	SessionTTL Duration `yaml:"session_ttl"`
}

// User is one admin console account.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash" config:"secret"`
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

// Source is one upstream: the keys every source takes. The keys of its
// type are decoded into Settings, the type's own struct.
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
	// People is set when the source follows people (its settings are a
	// PeopleFollower that says so), not hashtags.
	People bool `yaml:"-"`

	// Settings holds the keys of the source's type.
	Settings Settings `yaml:"-"`
	Line     int      `yaml:"-"`
}

// Settings is a source type's own keys: a pointer to a struct whose yaml
// tags name them (a field tagged config:"secret" must come from the
// environment). Each adapter package owns its settings.
type Settings interface {
	// Defaults fills what was left out.
	Defaults()
	// Check says what is wrong, each problem at a key below the source.
	Check() []Problem
}

// Problem is one thing wrong in a source's settings: the key it is at
// (such as "url" or "subreddits[1]"; "" for the source itself), what is
// wrong, and the fix.
type Problem struct{ Key, Msg, Fix string }

// Feeder is the settings of a source that names the walls it posts to
// itself (the uploads source's walls): loading adds the source to those
// walls' sources, as if each wall named it.
type Feeder interface {
	Feeds() []string
}

// PeopleFollower is the settings of a source that can follow people (a
// list, accounts) rather than hashtags; walls then take what it brings
// by their match key.
type PeopleFollower interface {
	FollowsPeople() bool
}

// SourceType is what config needs of a source type. The sources registry
// hands config the table: config itself knows no type.
type SourceType struct {
	// Settings returns a new, empty value of the type's settings.
	Settings func() Settings
	// StallTimeout is the type's default stall_timeout (0: 90s).
	StallTimeout time.Duration
	// AllPosts: every item of the type goes to its walls, hashtags or not
	// (the audience's own posts).
	AllPosts bool
}

// Types are the source types by name.
type Types map[string]SourceType

// DefaultUserAgent is the User-Agent of adapters that are given none.
const DefaultUserAgent = "Wallcast/1.0 (+https://github.com/wallcast/wallcast)"

// HTTPURL reports whether s is an absolute http(s) URL with a host.
func HTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// CheckInterval is the problem of an interval shorter than least, if any.
func CheckInterval(d Duration, least time.Duration) []Problem {
	if d.D() < 0 || (d != 0 && d.D() < least) {
		return []Problem{{Key: "interval", Msg: "must be at least " + least.String(), Fix: `write a duration such as "5m"`}}
	}
	return nil
}

// Wall is one wall: what it shows and how.
type Wall struct {
	Slug     string   `yaml:"slug"`
	Title    string   `yaml:"title"`
	Hashtags []string `yaml:"hashtags"`
	Keywords []string `yaml:"keywords"`
	// Match says what the wall takes from sources that follow people (a
	// list, accounts): "all" they post, or (the default) only the posts
	// with the wall's hashtags or keywords; a wall with none takes all.
	Match        string   `yaml:"match"`
	Sources      []string `yaml:"sources"`
	Moderation   string   `yaml:"moderation"`
	Filters      Filters  `yaml:"filters"`
	Display      Display  `yaml:"display"`
	EmbedOrigins []string `yaml:"embed_origins"`
	// Trusted sources and authors skip the queue of a manual wall and the
	// hold_if rules; never the block lists.
	Trusted Trusted `yaml:"trusted"`
}

// Trusted names the sources and authors whose posts need no moderator.
type Trusted struct {
	Sources []string `yaml:"sources"`
	Authors []string `yaml:"authors"`
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
	// the network tells the account's age (Mastodon); with young_account
	// in HoldIf it holds them instead.
	MinAccountAge Duration `yaml:"min_account_age"`
	// WordLists are the shipped lists of offensive words to apply, by
	// language (en, fr, de, es, it, pt, nl): a post that uses one is
	// rejected (held with word_list in HoldIf).
	WordLists []string `yaml:"word_lists"`
	// HoldIf sends posts to the pending queue, even on an auto wall, when
	// they have one of these: word_list, links, media, new_author (the
	// author's first post on the wall), young_account.
	HoldIf []HoldReason `yaml:"hold_if"`
	// MaxPostsPerAuthor lets one author show at most N posts in a window
	// ("3/10m"); the rest are rejected.
	MaxPostsPerAuthor Rate `yaml:"max_posts_per_author"`
	// DuplicatesWithin rejects a post whose text is nearly that of a post
	// the wall took within this time, from any author or network.
	DuplicatesWithin Duration `yaml:"duplicates_within"`
}

// HoldReason is a condition hold_if takes: a post that meets it waits
// for a moderator. Config checks them and ingest applies them.
type HoldReason string

// The reasons to hold a post.
const (
	HoldWordList     HoldReason = "word_list"
	HoldLinks        HoldReason = "links"
	HoldMedia        HoldReason = "media"
	HoldNewAuthor    HoldReason = "new_author"
	HoldYoungAccount HoldReason = "young_account"
	HoldClassifier   HoldReason = "classifier"
	HoldUpload       HoldReason = "upload" // a post sent from a phone (an uploads source)
)

// HoldReasons are the conditions hold_if takes.
var HoldReasons = []HoldReason{HoldWordList, HoldLinks, HoldMedia, HoldNewAuthor, HoldYoungAccount, HoldClassifier, HoldUpload}

// Sponsor is one sponsor's card: an image (a file relative to the config,
// or an http(s) URL), where it links, and how long it shows.
type Sponsor struct {
	Name    string `yaml:"name"`
	Image   string `yaml:"image"`
	URL     string `yaml:"url"`
	Seconds int    `yaml:"seconds"`
}

// OwnFiles is what an edge makes of the walls it reads from NATS: a file
// path (logo, background, custom CSS, a sponsor's image) is kept only
// where the edge's own config names the same file for the same wall, so
// nothing on NATS can make an edge serve a file of its choosing. URLs
// stay. It returns the walls and the paths it dropped.
func OwnFiles(got, own []Wall) ([]Wall, []string) {
	mine := map[string]*Wall{}
	for i := range own {
		mine[own[i].Slug] = &own[i]
	}
	var dropped []string
	out := make([]Wall, len(got))
	for i, w := range got {
		o := mine[w.Slug]
		keep := func(v *string, ownValue string, url bool) {
			if *v == "" || (url && HTTPURL(*v)) || (o != nil && *v == ownValue) {
				return
			}
			dropped = append(dropped, w.Slug+": "+*v)
			*v = ""
		}
		var ownDisplay Display
		if o != nil {
			ownDisplay = o.Display
		}
		keep(&w.Display.Logo, ownDisplay.Logo, true)
		keep(&w.Display.Background, ownDisplay.Background, true)
		keep(&w.Display.CustomCSS, ownDisplay.CustomCSS, false)
		w.Display.Sponsors = slices.Clone(w.Display.Sponsors)
		for j := range w.Display.Sponsors {
			ownImage := ""
			if j < len(ownDisplay.Sponsors) {
				ownImage = ownDisplay.Sponsors[j].Image
			}
			keep(&w.Display.Sponsors[j].Image, ownImage, true)
		}
		out[i] = w
	}
	return out, dropped
}

// Label is the sponsor's name in reports: its name, or "sponsor N" for
// the i-th (from 0) when it has none.
func (sp Sponsor) Label(i int) string {
	if sp.Name != "" {
		return sp.Name
	}
	return fmt.Sprintf("sponsor %d", i+1)
}

// Sponsor finds a wall's sponsor by its label.
func (w *Wall) Sponsor(label string) (Sponsor, bool) {
	for i, sp := range w.Display.Sponsors {
		if sp.Label(i) == label {
			return sp, true
		}
	}
	return Sponsor{}, false
}

// Rate is a count in a window, written "3/10m".
type Rate struct {
	N   int
	Per time.Duration
}

// UnmarshalYAML parses "N/duration".
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	count, per, ok := strings.Cut(n.Value, "/")
	c, err1 := strconv.Atoi(strings.TrimSpace(count))
	d, err2 := time.ParseDuration(strings.TrimSpace(per))
	if !ok || err1 != nil || err2 != nil || c < 1 || d <= 0 {
		return fmt.Errorf("line %d: %q is not a rate such as \"3/10m\"", n.Line, n.Value)
	}
	*r = Rate{N: c, Per: d}
	return nil
}

// MarshalYAML writes the rate back as "N/duration".
func (r Rate) MarshalYAML() (any, error) {
	if r.N == 0 {
		return "", nil
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per), nil
}

// Layouts are the ways screens show a wall: overlay is for broadcast
// mixers (OBS, vMix): one post at a time on a transparent page.
var Layouts = []string{"grid", "spotlight", "ticker", "overlay"}

// OverlayPositions are where the overlay layout puts its post.
var OverlayPositions = []string{"lower_third", "corner"}

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
	// OverlayPosition is where the overlay layout shows its post.
	OverlayPosition string `yaml:"overlay_position"`
	// ImageSeconds is how long a carousel (a post with more than four
	// pictures) shows each.
	ImageSeconds int `yaml:"image_seconds"`
	// Columns is the grid's number of columns (0: as many as the screen's
	// width holds, 22rem each at least).
	Columns int `yaml:"columns"`
	// TranslateTo are the languages the wall's posts are translated into
	// (the first is the screens'; ?lang= picks another of them).
	TranslateTo []string `yaml:"translate_to"`
	// SpotlightSeconds is how long the spotlight layout shows one post.
	SpotlightSeconds int `yaml:"spotlight_seconds"`
	// RecycleAfter: when no new post has come for this long, screens bring
	// back earlier posts of the wall in turn (0: never).
	RecycleAfter Duration `yaml:"recycle_after"`
	// Sponsors are cards shown in turn, one every SponsorEveryPosts new
	// posts or SponsorEverySeconds, whichever comes first.
	Sponsors            []Sponsor `yaml:"sponsors"`
	SponsorEveryPosts   int       `yaml:"sponsor_every_posts"`
	SponsorEverySeconds int       `yaml:"sponsor_every_seconds"`
}

// ShowQR reports whether the call-to-action bar has a QR code (default yes).
func (d Display) ShowQR() bool { return d.QR == nil || *d.QR }

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

// defaults fills every optional setting that was left out.
func (c *Config) defaults() {
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
	for _, d := range []struct {
		n *int
		v int
	}{{&c.Server.MaxStreams, 20000}, {&c.Server.MaxStreamsPerClient, 200}, {&c.Server.APIRate, 600}} {
		if *d.n == 0 {
			*d.n = d.v
		}
	}
	for i := range c.Outbound {
		defd(&c.Outbound[i].Timeout, 10*time.Second)
	}
	if tr := c.Translation; tr != nil {
		defd(&tr.Timeout, 10*time.Second)
		if tr.PerMinute == 0 {
			tr.PerMinute = 60
		}
		if tr.Concurrency == 0 {
			tr.Concurrency = 2
		}
	}
	def(&c.Storage.Path, "wallcast.db")
	def(&c.Storage.MediaDir, strings.TrimSuffix(c.Storage.Path, filepath.Ext(c.Storage.Path))+"-media")
	if cl := c.Cluster; cl != nil {
		def(&cl.Stream, "wallcast")
		if cl.Replicas == 0 {
			cl.Replicas = 1
		}
		if cl.Window == 0 {
			cl.Window = 10000
		}
		defd(&cl.MaxAge, 24*time.Hour)
		defd(&cl.UnhealthyAfter, 10*time.Second)
		if e := cl.Embedded; e != nil {
			def(&e.Listen, "127.0.0.1:4222")
			def(&e.Dir, "nats-data")
		}
	}
	if cl := c.Moderation.Classifier; cl != nil {
		defd(&cl.Timeout, 300*time.Millisecond)
		if cl.HoldAbove == 0 {
			cl.HoldAbove = 0.8
		}
		if cl.RejectAbove == 0 {
			cl.RejectAbove = 0.97
		}
		def(&cl.OnError, "hold")
		if cl.Concurrency == 0 {
			cl.Concurrency = 4
		}
	}
	defd(&c.Admin.SessionTTL, 12*time.Hour)
	for i := range c.Admin.Users {
		def(&c.Admin.Users[i].Role, "moderator")
	}
	defd(&c.Storage.Retention, 720*time.Hour)
	for i := range c.Sources {
		s := &c.Sources[i]
		defd(&s.StallTimeout, 90*time.Second)
		if s.Settings != nil {
			s.Settings.Defaults()
		}
	}
	for i := range c.Walls {
		w := &c.Walls[i]
		def(&w.Title, w.Slug)
		def(&w.Moderation, "auto")
		def(&w.Display.Layout, "grid")
		def(&w.Display.OverlayPosition, "lower_third")
		if w.Display.ImageSeconds == 0 {
			w.Display.ImageSeconds = 4
		}
		def(&w.Display.Theme, "dark")
		def(&w.Display.Locale, "en")
		if w.Display.MaxPosts == 0 {
			w.Display.MaxPosts = 60
		}
		if w.Display.FontScale == 0 {
			w.Display.FontScale = 1
		}
		for j := range w.Display.Sponsors {
			if w.Display.Sponsors[j].Seconds == 0 {
				w.Display.Sponsors[j].Seconds = 8
			}
		}
		if len(w.Display.Sponsors) > 0 && w.Display.SponsorEveryPosts == 0 && w.Display.SponsorEverySeconds == 0 {
			w.Display.SponsorEverySeconds = 120
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
