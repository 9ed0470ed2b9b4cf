package rss

import (
	"bytes"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/wallcast/wallcast/sources/sourcetest"
)

// FuzzFeed: a feed of any shape (RSS, Atom, JSON Feed) is parsed and its
// items mapped, or refused, never a panic; every mapped post has an id.
func FuzzFeed(f *testing.F) {
	for _, name := range []string{"feed.rss", "feed.atom", "feed.json", "broken.xml"} {
		f.Add(sourcetest.Fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		feed, err := gofeed.NewParser().Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range Posts(feed) {
			if p.NativeID == "" {
				t.Fatalf("a post without an id from %q", data)
			}
		}
	})
}
