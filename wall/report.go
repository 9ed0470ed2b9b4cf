package wall

import "time"

// ReportStep is the width of the report's time steps (Report.Step).
const ReportStep = 5 * time.Minute

// Counts are what became of the posts a wall took.
type Counts struct {
	Received int `json:"received"` // taken by the wall's sources
	Shown    int `json:"shown"`    // on screens at some time
	Held     int `json:"held"`     // held for a moderator on arrival
	Rejected int `json:"rejected"` // rejected, by a filter or a moderator
}

// Add adds c2 to c.
func (c *Counts) Add(c2 Counts) {
	c.Received += c2.Received
	c.Shown += c2.Shown
	c.Held += c2.Held
	c.Rejected += c2.Rejected
}

// Step is the counts of one network in one time step, by arrival.
type Step struct {
	At      time.Time `json:"at"`
	Network string    `json:"network"`
	Counts
}

// Top is a name and how many posts it has, in a top list.
type Top struct {
	Name    string `json:"name"`
	Network string `json:"network,omitempty"`
	Posts   int    `json:"posts"`
}

// ScreenCount is the most screens connected at once in a step.
type ScreenCount struct {
	At   time.Time `json:"at"`
	Peak int       `json:"peak"`
}

// ShownPost is a post that was on a wall's screens, for the export.
type ShownPost struct {
	Post
	Arrived time.Time `json:"arrived"`
	Status  string    `json:"status"` // now: visible, removed or rejected
}

// Report is what a wall achieved: the live analytics of the console and
// the report after the event.
type Report struct {
	Wall     string    `json:"wall"`
	Title    string    `json:"title"`
	From     time.Time `json:"from,omitzero"` // the first arrival
	To       time.Time `json:"to"`            // when the report was made
	Step     string    `json:"step"`          // the width of a step: 5m
	Totals   Counts    `json:"totals"`
	Networks []Step    `json:"networks"` // totals per network (At is zero)
	Steps    []Step    `json:"steps"`    // per network and step, steps with posts only
	// Contributors is how many authors posted to the wall; the tops count
	// the posts that were shown.
	Contributors    int   `json:"contributors"`
	TopContributors []Top `json:"top_contributors"`
	TopHashtags     []Top `json:"top_hashtags"`
	// Moderation is the time from arrival to the first decision on the
	// posts held for a moderator (or the classifier).
	Moderation struct {
		Decided int     `json:"decided"`
		P50     float64 `json:"p50_seconds"`
		P90     float64 `json:"p90_seconds"`
	} `json:"moderation"`
	Screens     []ScreenCount `json:"screens"` // per step
	ScreensPeak ScreenCount   `json:"screens_peak"`
	Polls       []Poll        `json:"polls"`
	Sponsors    []Impressions `json:"sponsors"`
	Posts       []ShownPost   `json:"posts,omitempty"` // the shown posts, oldest first
}

// Decision is one moderation decision on a post, from the audit log.
type Decision struct {
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}
