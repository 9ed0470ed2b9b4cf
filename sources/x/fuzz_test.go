package x

import (
	"encoding/json"
	"testing"

	"github.com/wallcast/wallcast/sources/sourcetest"
)

// FuzzStreamMessage: a filtered-stream envelope of any shape is decoded
// and its tweet mapped, never a panic (entity offsets beyond the text
// included); a mapped post keeps the tweet's id.
func FuzzStreamMessage(f *testing.F) {
	for _, line := range sourcetest.FixtureLines(f, "stream.ndjson") {
		f.Add(line)
	}
	f.Add([]byte(`{"data":{"id":"9","text":"ab","entities":{"urls":[{"start":5,"end":1,"url":"x"}],"hashtags":[{"start":-3,"end":99,"tag":"t"}]}}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var msg message
		if json.Unmarshal(line, &msg) != nil || msg.Data == nil {
			return
		}
		if p := post(*msg.Data, msg.Includes); p.NativeID != msg.Data.ID {
			t.Fatalf("tweet %q mapped with id %q", msg.Data.ID, p.NativeID)
		}
	})
}
