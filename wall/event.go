package wall

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// EventType is the type of an event: the SSE event name.
type EventType string

// Event types on a wall's log. The display stream carries all but Pending,
// Approved and Rejected, which belong to the moderation queue. Health and
// Sources are not on a wall's log: the console's queue stream and /stats
// send them.
const (
	EventPost     EventType = "post"
	EventUpdate   EventType = "update"
	EventRemove   EventType = "remove"
	EventPin      EventType = "pin"
	EventUnpin    EventType = "unpin"
	EventAnnounce EventType = "announce"
	EventReset    EventType = "reset"
	EventConfig   EventType = "config"
	EventReady    EventType = "ready"  // ends a backfill; its id is where the screen resumes
	EventShow     EventType = "show"   // show control: pause, a featured post, a holding slide
	EventPoll     EventType = "poll"   // a live poll and its counts
	EventScreen   EventType = "screen" // after each catch-up, no id: {"token"} this stream's sponsor showings count with
	EventRoom     EventType = "room"   // the room code the audience's phones post with: {"code", "url"}
	EventPending  EventType = "pending"
	EventApproved EventType = "approved"
	EventRejected EventType = "rejected"
	EventHealth   EventType = "health"   // the sources' health, on the console's queue stream
	EventSources  EventType = "sources"  // the sources' public health, on /stats
	EventOutbound EventType = "outbound" // the outbound endpoints' state, on the console's queue stream and /stats
)

// Status of a post on one wall.
const (
	StatusVisible  = "visible"
	StatusPending  = "pending"
	StatusRejected = "rejected"
	StatusRemoved  = "removed"
)

// Event is one entry of a wall's append-only log. Seq is the SSE id: it grows
// strictly on each wall and is never reused.
type Event struct {
	Seq  int64
	Wall string
	Type EventType
	Data json.RawMessage // one line of JSON
}

// QueueOnly are the event types of the moderation queue: the admin
// console sees them, screens never do. It is the one answer to which
// events screens see; storage's replay query is built from it.
var QueueOnly = []EventType{EventPending, EventApproved, EventRejected}

// ForDisplay reports whether screens receive events of this type.
func ForDisplay(typ EventType) bool { return !slices.Contains(QueueOnly, typ) }

// QueueItem is the payload of moderation queue events (pending, approved,
// rejected) and of the queue listing.
type QueueItem struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"`
	Pinned bool      `json:"pinned,omitempty"`
	Seq    int64     `json:"seq,omitempty"`
	Post   *Post     `json:"post,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Moderation actions on one post of a wall.
const (
	ActApprove = "approve"
	ActReject  = "reject"
	ActRemove  = "remove"
	ActRestore = "restore"
	ActPin     = "pin"
	ActUnpin   = "unpin"
)

// ErrConflict is returned for an action that does not apply to the post in
// its current state (approving a post that is already visible).
var ErrConflict = errors.New("not possible in the post's current state")

// ErrInvalid is a write whose values are not acceptable (a 400).
var ErrInvalid = errors.New("not acceptable")

// Writes is the console's one write side: a write is committed and its
// events published (screens, the cluster's outbox) in turn with ingest;
// rules added or taken back at run time apply to ingest at once.
type Writes interface {
	Commit(fn func() ([]Event, error)) error
	AddRule(ctx context.Context, r Rule, user string) ([]Change, bool, error)
	Undo(ctx context.Context, slug string, changes []Change, rule *Rule, user string) error
}

// ErrNotFound is returned for a post that is not on the wall.
var ErrNotFound = errors.New("no such post on this wall")

// Target is one wall that an item goes to, and the fate ingest chose there.
type Target struct {
	Wall   string
	Status string // StatusVisible, StatusPending or StatusRejected
	Reason string // why a post was rejected or held
	// Classify: the post waits as pending for the classifier's verdict.
	Classify bool
}

// Write is one item of an ingest batch: a sanitised item and its walls.
type Write struct {
	Source  string
	Item    Item
	Targets []Target
}

// Snapshot is what a screen needs to start: the newest visible posts and
// what else is on the wall (announcements, the show, a poll), consistent
// with the head of the wall's log.
type Snapshot struct {
	Head  int64  `json:"head"`
	Posts []Post `json:"posts"`
	// Announcements are the active ones; Show is the show's state (nil:
	// live); Poll the open poll (nil: none); Display the console's
	// override of the display (JSON, "" for none).
	Announcements []Announcement `json:"announcements,omitempty"`
	Show          *Show          `json:"show,omitempty"`
	Poll          *Poll          `json:"poll,omitempty"`
	Display       string         `json:"display,omitempty"`
	// Room is the wall's room code (nil: the wall takes no posts from
	// phones, or without a code).
	Room *Room `json:"room,omitempty"`
	// Events come after the state above, up to Head: an edge serves a
	// snapshot a moment older than its log.
	Events []Event `json:"-"`
}

// Room is where the audience posts from their phones: the address of the
// form with the current room code (the QR code on screen), and the code
// itself, to type in.
type Room struct {
	Code string `json:"code,omitempty"`
	URL  string `json:"url"`
}

// Reader serves screens: the ingest node's database, or an edge's copy of
// the cluster's stream.
type Reader interface {
	// Snapshot returns up to n visible posts (pinned first, then oldest to
	// newest), the rest of the wall's state, and the head it is consistent
	// with.
	Snapshot(ctx context.Context, wall string, n int) (Snapshot, error)
	// Replay returns up to limit display events after seq. ok is false when
	// seq is older than retention or newer than the log: the screen must reset.
	Replay(ctx context.Context, wall string, after int64, limit int) (events []Event, ok bool, err error)
	// Posts returns a page of visible posts, newest first, older than before
	// (0: from the newest), and the cursor for the next page (0: no more).
	Posts(ctx context.Context, wall string, before int64, limit int) (posts []Post, next int64, err error)
	// Display is the console's override of a wall's display (JSON, "": none).
	Display(ctx context.Context, wall string) (string, error)
}

// Store is the persistence that the wall service and ingest need.
type Store interface {
	Reader
	// Apply commits a batch and returns the events it appended, in order.
	Apply(ctx context.Context, batch []Write) ([]Event, error)
	// Cursor returns the saved cursor of a source, "" if none.
	Cursor(ctx context.Context, source string) (string, error)
}

// Tally is where screens' own reports go: sponsor showings and screens
// connected, for the report.
type Tally interface {
	// Impression counts a sponsor card shown on a screen for seconds.
	Impression(ctx context.Context, wall, sponsor string, seconds int) error
	// Screens notes the most screens connected at once in a minute.
	Screens(ctx context.Context, wall string, at time.Time, peak int) error
}

// Change is what a moderator's action did to one post: its status before,
// so the action can be undone.
type Change struct {
	Wall string `json:"wall,omitempty"` // "" for the wall the action was on
	ID   string `json:"id"`
	From string `json:"from"`
}

// Show is what the crew puts on a wall's screens beyond its posts. Each
// change is a show event carrying the whole state, and a screen that
// connects gets the current one.
type Show struct {
	// Paused screens hold what they show; posts wait until resumed.
	Paused bool `json:"paused,omitempty"`
	// Feature is one post full screen on every screen until Until.
	Feature *Post     `json:"feature,omitempty"`
	Until   time.Time `json:"until,omitzero"`
	// Slide is shown in place of the wall ("Back at 14:00").
	Slide *Slide `json:"slide,omitempty"`
	// Step moves a spotlight wall: 1 next, -1 previous. It is a command
	// carried by one event, not kept in the state.
	Step int `json:"step,omitempty"`
}

// Impressions are a sponsor's showings on a wall's screens.
type Impressions struct {
	Sponsor       string  `json:"sponsor"`
	Shows         int64   `json:"shows"`          // cards shown, all screens together
	ScreenMinutes float64 `json:"screen_minutes"` // screens × minutes on show
	Minutes       int64   `json:"minutes"`        // minutes in which it was shown
}

// Poll is a live poll on a wall: posts that carry an option's hashtag are
// votes, one per author (the last counts).
type Poll struct {
	ID       string       `json:"id"`
	Question string       `json:"question"`
	Options  []PollOption `json:"options"`
	ClosesAt time.Time    `json:"closes_at,omitzero"`
	Closed   bool         `json:"closed,omitempty"`
}

// PollOption is one answer of a poll and its votes.
type PollOption struct {
	Text  string `json:"text"`
	Tag   string `json:"tag"` // without '#', folded
	Votes int    `json:"votes"`
}

// Slide is a holding slide: a message, an image, or both.
type Slide struct {
	Text  string `json:"text,omitempty"`
	Image string `json:"image,omitempty"`
}

// ShowChange is one show-control action: pause, resume, feature (a post,
// for Seconds), unfeature, slide (Text, Image), unslide, next, previous.
type ShowChange struct {
	Action  string `json:"action"`
	PostID  string `json:"id,omitempty"`
	Seconds int    `json:"seconds,omitempty"`
	Text    string `json:"text,omitempty"`
	Image   string `json:"image,omitempty"`
}

// Announcement is a moderator's message on a wall.
type Announcement struct {
	ID        string    `json:"id"`
	Text      string    `json:"text,omitempty"`
	URL       string    `json:"url,omitempty"`
	Image     string    `json:"image,omitempty"`
	StartsAt  time.Time `json:"starts_at,omitzero"` // scheduled: screens show it from then
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Ended     bool      `json:"ended,omitempty"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// QueueState is what the moderation page starts from; Head is the last
// event it reflects, from which its stream resumes.
type QueueState struct {
	Head          int64          `json:"head"`
	Pending       []QueueItem    `json:"pending"`
	Visible       []QueueItem    `json:"visible"`
	Rejected      []QueueItem    `json:"rejected"`
	Removed       []QueueItem    `json:"removed"`
	Announcements []Announcement `json:"announcements"`
	Audit         []AuditEntry   `json:"audit"`
}

// Outgoing is a display event on its way to the cluster's stream, with
// the id of the display event before it on its wall (0: none), so an edge
// knows whether its copy of a wall's log has a gap.
type Outgoing struct {
	Event
	Prev int64
}

// Rule is a moderation rule added while the event runs: a banned author,
// a blocked word or a trusted author, for one wall or for every wall ("*").
type Rule struct {
	Wall  string `json:"wall"`
	Kind  string `json:"kind"` // RuleAuthor, RuleWord or RuleTrusted
	Value string `json:"value"`
}

// Kinds of rule.
const (
	RuleAuthor  = "author"
	RuleWord    = "word"
	RuleTrusted = "trusted" // an author whose posts skip the queue
)

// Session is a logged-in user of the admin console.
type Session struct {
	User, Role, CSRF string
	// Credential is a fingerprint of the account's password hash at login.
	Credential string
	Expires    time.Time
}

// AdminStore is what the admin console needs from storage.
type AdminStore interface {
	Moderate(ctx context.Context, wall, postID, action, user string) ([]Event, error)
	// AddRule stores a rule and applies it; it returns what it changed and
	// whether the rule is new (an undo takes a new one back).
	AddRule(ctx context.Context, r Rule, user string, catches func(Post) bool) ([]Event, []Change, bool, error)
	// ModerateMany applies one action to several posts and says what each
	// was before; Undo puts them back.
	ModerateMany(ctx context.Context, wall string, ids []string, action, user string) ([]Event, []Change, error)
	Undo(ctx context.Context, wall string, changes []Change, rule *Rule, user string) ([]Event, error)
	// Show applies a show-control action and returns the new state;
	// ShowState is the current one.
	Show(ctx context.Context, wall string, c ShowChange, user string) ([]Event, Show, error)
	ShowState(ctx context.Context, wall string) (Show, error)
	// OpenPoll opens a poll on a wall (closing the one open there);
	// ClosePoll closes it; CurrentPoll is the open one, or the last closed.
	OpenPoll(ctx context.Context, wall string, p Poll, user string) ([]Event, Poll, error)
	ClosePoll(ctx context.Context, wall, id, user string) ([]Event, error)
	CurrentPoll(ctx context.Context, wall string) (*Poll, error)
	// Impressions sums the sponsor showings.
	Tally
	Impressions(ctx context.Context, wall string) ([]Impressions, error)
	// Report reads what a wall achieved (with posts: the shown posts too).
	Report(ctx context.Context, wall string, posts bool) (Report, error)
	// Adjust changes how a post's media shows on every screen.
	Adjust(ctx context.Context, wall, postID string, a Adjustment, user string) ([]Event, error)
	// Forget deletes every post of an author and keeps them from coming back.
	Forget(ctx context.Context, handle, user string) ([]Event, int, error)
	Rules(ctx context.Context) ([]Rule, error)
	Announce(ctx context.Context, wall string, a Announcement, user string) ([]Event, error)
	EndAnnouncement(ctx context.Context, wall, id, user string) ([]Event, error)
	Announcements(ctx context.Context, wall string) ([]Announcement, error)
	Queue(ctx context.Context, wall string, n int) (QueueState, error)
	ReplayAll(ctx context.Context, wall string, after int64, limit int) ([]Event, error)
	CreateSession(ctx context.Context, tokenHash string, s Session) error
	Session(ctx context.Context, tokenHash string) (Session, bool, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	SetDisplay(ctx context.Context, wall string, override, event []byte, user string) ([]Event, error)
}
