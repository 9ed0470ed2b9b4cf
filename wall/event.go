package wall

import (
	"context"
	"encoding/json"
	"time"
)

// Event types on a wall's log. The display stream carries all but Pending,
// Approved and Rejected, which belong to the moderation queue.
const (
	EventPost     = "post"
	EventUpdate   = "update"
	EventRemove   = "remove"
	EventPin      = "pin"
	EventUnpin    = "unpin"
	EventAnnounce = "announce"
	EventReset    = "reset"
	EventConfig   = "config"
	EventPending  = "pending"
	EventApproved = "approved"
	EventRejected = "rejected"
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
	Type string
	Data json.RawMessage // one line of JSON
}

// ForDisplay reports whether screens receive events of this type.
func ForDisplay(typ string) bool {
	switch typ {
	case EventPending, EventApproved, EventRejected:
		return false
	}
	return true
}

// Target is one wall that an item goes to, and the fate ingest chose there.
type Target struct {
	Wall   string
	Status string // StatusVisible, StatusPending or StatusRejected
	Reason string // why a post was rejected
}

// Write is one item of an ingest batch: a sanitised item and its walls.
type Write struct {
	Source  string
	Item    Item
	Targets []Target
}

// Snapshot is what a screen needs to start: the newest visible posts and the
// head of the wall's log they are consistent with.
type Snapshot struct {
	Head  int64
	Posts []Post
}

// Store is the persistence that the wall service and ingest need.
type Store interface {
	// Apply commits a batch and returns the events it appended, in order.
	Apply(ctx context.Context, batch []Write) ([]Event, error)
	// Snapshot returns up to n visible posts (pinned first, then oldest to
	// newest) and the wall's head sequence, read in one transaction.
	Snapshot(ctx context.Context, wall string, n int) (Snapshot, error)
	// Replay returns up to limit display events after seq. ok is false when
	// seq is older than retention or newer than the log: the screen must reset.
	Replay(ctx context.Context, wall string, after int64, limit int) (events []Event, ok bool, err error)
	// Posts returns a page of visible posts, newest first, older than before
	// (0: from the newest), and the cursor for the next page (0: no more).
	Posts(ctx context.Context, wall string, before int64, limit int) (posts []Post, next int64, err error)
	// Cursor returns the saved cursor of a source, "" if none.
	Cursor(ctx context.Context, source string) (string, error)
}

// Clock is time.Now, replaceable in tests.
type Clock func() time.Time
