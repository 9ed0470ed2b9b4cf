package bluesky

import (
	"testing"

	"github.com/wallcast/wallcast/sources/sourcetest"
)

// FuzzJetstreamMessage: a Jetstream message of any shape is looked at,
// never a panic (facet byte offsets that cut a character, or run past the
// text, included).
func FuzzJetstreamMessage(f *testing.F) {
	for _, line := range sourcetest.FixtureLines(f, "jetstream.jsonl") {
		f.Add(line)
	}
	s := newTestSource(nil, "http://127.0.0.1:1")
	m := newMatcher([]string{"devconf"}, []string{"open source"})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, ok := s.handle(data, m)
		if ok && p.item.Post.NativeID == "" {
			t.Fatalf("an item without an id from %q", data)
		}
	})
}
