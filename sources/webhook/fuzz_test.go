package webhook

import (
	"testing"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// FuzzBodies: a pushed body of any flavour is parsed or refused with an
// error, never a panic; every item it gives has an id.
func FuzzBodies(f *testing.F) {
	for i, name := range []string{"post.json", "batch.json", "bad_batch.json", "meta_instagram.json", "meta_page.json", "websub.atom"} {
		f.Add(byte(i), sourcetest.Fixture(f, name))
	}
	f.Add(byte(0), []byte(`{"posts":[{"id":"1","author":{"name":"A"},"text":"x"}],"deleted":["2"]}`))
	f.Fuzz(func(t *testing.T, flavor byte, body []byte) {
		parse := []func([]byte) ([]wall.Item, error){parseWallcast, parseMeta, parseFeed}[int(flavor)%3]
		items, err := parse(body)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Post.NativeID == "" {
				t.Fatalf("an item without an id from %q", body)
			}
		}
	})
}
