package upstream

import (
	"encoding/json"
	"slices"
)

// Seen is one post a polling source emitted: its id, its place in the
// timeline (a rank that grows with newness, compared as NewerID compares)
// and its version (when it was last edited).
type Seen struct {
	ID, Rank, Version string
}

// Window remembers the newest posts a polling source emitted, so that a
// later read of the timeline's newest page finds what a poll of new
// posts never sees: a post edited since (its version changed) and a post
// deleted (remembered, inside the span the page covers, and not on it).
// It is kept in the source's cursor, so a restart still sees the edits
// and deletes made while it was down. The zero value has no bound; use
// NewWindow for a bound.
type Window struct {
	size    int
	entries []Seen // newest first
}

// NewWindow remembers up to size posts: a page of the timeline.
func NewWindow(size int) *Window { return &Window{size: size} }

// Add remembers an emitted post (again: with its new version).
func (w *Window) Add(s Seen) {
	w.entries = slices.DeleteFunc(w.entries, func(e Seen) bool { return e.ID == s.ID })
	i, _ := slices.BinarySearchFunc(w.entries, s.Rank, func(e Seen, rank string) int {
		switch {
		case NewerID(e.Rank, rank):
			return -1
		case NewerID(rank, e.Rank):
			return 1
		}
		return 0
	})
	w.entries = slices.Insert(w.entries, i, s)
	if w.size > 0 && len(w.entries) > w.size {
		w.entries = w.entries[:w.size]
	}
}

// Take remembers what another window holds (one read back from a
// cursor), within this one's bound.
func (w *Window) Take(from *Window) {
	if from == nil {
		return
	}
	for _, e := range from.entries {
		w.Add(e)
	}
}

// Entries are the remembered posts, newest first.
func (w *Window) Entries() []Seen { return slices.Clone(w.entries) }

// Has reports whether the window remembers id.
func (w *Window) Has(id string) bool {
	return slices.ContainsFunc(w.entries, func(e Seen) bool { return e.ID == id })
}

// Len is how many posts the window holds.
func (w *Window) Len() int { return len(w.entries) }

// Compare reads the timeline's newest page (any order); complete says the
// page holds the whole timeline (the server gave fewer than it was asked
// for). It returns the remembered posts whose version differs on the
// page, and the ids of the remembered posts gone from the span the page
// covers; it forgets the gone ones. Posts it does not remember are not
// its business (new ones are the poll's). The caller Adds an edited post
// once its update is emitted.
func (w *Window) Compare(page []Seen, complete bool) (edited []Seen, gone []string) {
	on := make(map[string]Seen, len(page))
	oldest := ""
	for _, s := range page {
		on[s.ID] = s
		if oldest == "" || NewerID(oldest, s.Rank) {
			oldest = s.Rank
		}
	}
	keep := w.entries[:0]
	for _, e := range w.entries {
		s, ok := on[e.ID]
		switch {
		case ok && s.Version != e.Version:
			edited = append(edited, s)
		case !ok && (complete || (oldest != "" && !NewerID(oldest, e.Rank))):
			gone = append(gone, e.ID)
			continue
		}
		keep = append(keep, e)
	}
	w.entries = keep
	return edited, gone
}

// MarshalJSON writes the window as [[id, rank, version], ...], newest first.
func (w *Window) MarshalJSON() ([]byte, error) {
	out := make([][3]string, len(w.entries))
	for i, e := range w.entries {
		out[i] = [3]string{e.ID, e.Rank, e.Version}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote; the size stays as it was.
func (w *Window) UnmarshalJSON(b []byte) error {
	var in [][3]string
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	w.entries = w.entries[:0]
	for _, e := range in {
		if e[0] != "" {
			w.Add(Seen{ID: e[0], Rank: e[1], Version: e[2]})
		}
	}
	return nil
}
