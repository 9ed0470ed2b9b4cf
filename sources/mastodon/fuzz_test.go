package mastodon

import (
	"encoding/json"
	"testing"

	"github.com/wallcast/wallcast/sources/sourcetest"
)

// FuzzStatus: a status of any shape is decoded and mapped or skipped,
// never a panic; a mapped post keeps the status's id.
func FuzzStatus(f *testing.F) {
	f.Add(sourcetest.Fixture(f, "status.json"))
	f.Add([]byte(`{"id":"1","content":"<p>x</p>","account":{"acct":"a"},"reblog":{"id":"2","account":{}},"media_attachments":[{"type":"image","url":"https://m/a.png","description":null}],"emojis":[{"shortcode":"x","url":"javascript:1"}]}`))
	s := newSource("https://m.example", "")
	f.Fuzz(func(t *testing.T, data []byte) {
		var st status
		if json.Unmarshal(data, &st) != nil {
			return
		}
		if p, ok := s.post(st); ok && p.NativeID == "" && st.ID != "" && st.Reblog == nil {
			t.Fatalf("status %q lost its id", st.ID)
		}
	})
}
