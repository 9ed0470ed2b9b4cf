package reddit

import (
	"encoding/json"
	"testing"

	"github.com/wallcast/wallcast/sources/sourcetest"
)

// FuzzListing: a listing of any shape is decoded and its posts mapped,
// never a panic.
func FuzzListing(f *testing.F) {
	f.Add(sourcetest.Fixture(f, "new.json"))
	f.Add(sourcetest.Fixture(f, "new_after_1h0c.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l listing
		if json.Unmarshal(data, &l) != nil {
			return
		}
		for _, c := range l.Data.Children {
			if p := c.Data.toPost(); p.NativeID != c.Data.Name {
				t.Fatalf("post %q mapped with id %q", c.Data.Name, p.NativeID)
			}
		}
	})
}
