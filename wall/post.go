// Package wall holds Wallcast's domain: the normalised post, the wall event,
// source health, the interfaces that sources and storage implement, and
// the domain's errors. It imports nothing of Wallcast's.
package wall

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Post is a normalised post, as stored and as sent to screens.
type Post struct {
	ID             string    `json:"id"`
	Source         string    `json:"source"`
	Network        string    `json:"network"`
	NativeID       string    `json:"-"`
	URL            string    `json:"url,omitempty"`
	Author         Author    `json:"author"`
	HTML           string    `json:"html"`
	Text           string    `json:"text"`
	Media          []Media   `json:"media,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	Lang           string    `json:"lang,omitempty"`
	Sensitive      bool      `json:"sensitive"`
	ContentWarning string    `json:"content_warning,omitempty"`
	Reply          bool      `json:"reply,omitempty"`
	Repost         bool      `json:"repost,omitempty"`
	Demo           bool      `json:"demo,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Pinned         bool      `json:"pinned"`
	// Translations are the post in the wall's other languages, by target
	// language (none: not translated, or already in that language).
	Translations map[string]Translation `json:"translations,omitempty"`
}

// Translation is a post's HTML and text in another language, and the
// language it was translated from (as the translator detected it).
type Translation struct {
	HTML string `json:"html"`
	Text string `json:"text"`
	From string `json:"from"`
}

// Author is who wrote a post.
type Author struct {
	Name   string `json:"name"`
	Handle string `json:"handle,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	URL    string `json:"url,omitempty"`
	// Joined is when the account was created, where the network says;
	// filters use it, screens do not see it.
	Joined time.Time `json:"-"`
}

// Media is one attachment of a post.
type Media struct {
	Type    string `json:"type"` // image, video, gifv, audio
	URL     string `json:"url"`
	Preview string `json:"preview,omitempty"`
	Alt     string `json:"alt,omitempty"`
	// A moderator's adjustments for the screen, which leave what the
	// author posted alone: Hidden is not shown, Blur is shown blurred,
	// AltByModerator tells that Alt was added by a moderator.
	Hidden         bool `json:"hidden,omitempty"`
	Blur           bool `json:"blur,omitempty"`
	AltByModerator bool `json:"alt_by_moderator,omitempty"`
}

// Adjustment is a moderator's change to one media item of a post, for
// the screen: hide or show it, blur or unblur it, or give it an alt text
// where it has none.
type Adjustment struct {
	Media int     `json:"media"`
	Hide  *bool   `json:"hide,omitempty"`
	Blur  *bool   `json:"blur,omitempty"`
	Alt   *string `json:"alt,omitempty"`
}

// networks are the networks a post may name; screens style a post by it.
var networks = map[string]bool{
	"mastodon": true, "bluesky": true, "x": true, "reddit": true, "rss": true,
	"instagram": true, "facebook": true, "web": true, "demo": true,
	"upload": true, // sent from a phone in the room
	"twitch": true, "youtube": true, "peertube": true,
}

// Network returns n when it is one of the networks Wallcast knows, and
// "web" for anything else: a pushed post cannot invent one (the page
// styles cards by network).
func Network(n string) string {
	if networks[n] {
		return n
	}
	return "web"
}

// PostID builds the public id of a post from its source name and native id.
// CR, LF and NUL never reach an id: they would break the SSE framing.
func PostID(source, nativeID string) string {
	return source + ":" + CleanID(nativeID)
}

// CleanID removes the characters that must never appear in an id sent over HTTP.
func CleanID(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "", "\x00", "").Replace(s)
}

// ItemKind says what an upstream item means.
type ItemKind int

// The kinds of item a source emits.
const (
	ItemPost   ItemKind = iota // a new post (a repeat is absorbed by dedup)
	ItemUpdate                 // an edit of a post already seen
	ItemDelete                 // the post was deleted upstream; only Post.NativeID is set
	ItemCursor                 // no post: only save Cursor
)

// Item is what a source emits: a post, an edit, a delete, or a cursor to save.
// Cursor, when not empty, is saved after the item is committed, in the same
// transaction, so a resume never skips an item that was not stored.
type Item struct {
	Kind   ItemKind
	Post   Post
	Cursor string
	// IfKnown makes a delete a no-op for a post never stored, instead of
	// leaving a tombstone: a firehose carries the deletes of the whole
	// network, and only ours matter.
	IfKnown bool
	// Erase makes a delete leave nothing of the post but its tombstone:
	// not its text, its media, nor its copies in the walls' logs (the
	// sender of an upload took it back).
	Erase bool
	// Sweep makes a delete one of many: every post of the source whose
	// native id starts with Post.NativeID and, when Post.Author.Handle is
	// set, that author wrote (a chat's moderator cleared a user's
	// messages, or the whole channel's).
	Sweep bool
	// Walls, when set, limits the item to these walls (a network that
	// matched it against per-wall rules, like X's filtered stream).
	Walls []string
	// Ack, when set, is called once with nil when the item is committed
	// (or needed no storing: no wall wants it), or with the error that
	// kept it off the disk. Push sources wait for it before they tell
	// their sender "accepted". It must not block.
	Ack func(error)
}

// Subscription is what the walls using a source want from it, and where the
// source left off last time.
type Subscription struct {
	Hashtags []string // lower case, without '#'
	Keywords []string
	Accounts []string
	Cursor   string // the last cursor the source saved, "" on first run
	// Walls says what each wall using the source wants, for networks that
	// filter per wall on their side (X's filtered-stream rules).
	Walls []WallWants
}

// WallWants is what one wall asks of a source.
type WallWants struct {
	Slug        string
	Hashtags    []string
	Keywords    []string
	HideReplies bool
	HideReposts bool
}

// Emit hands an item to ingest. It returns an error only when ingest is
// shutting down (a source should then return), when ctx ends first, or,
// for an item with an Ack, with ErrBusy when ingest is too far behind to
// take it now.
type Emit func(context.Context, Item) error

// ErrBusy says ingest cannot take an item now; the sender should retry
// later (a push source answers 503 with Retry-After).
var ErrBusy = errors.New("ingest is busy")

// Source is an upstream adapter. Run streams or polls until ctx ends. It calls
// emit for every post, edit and delete it sees, and returns an error when the
// connection is lost; the supervisor restarts it with backoff.
type Source interface {
	Run(ctx context.Context, sub Subscription, emit Emit) error
}
