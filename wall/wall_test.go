package wall

import "testing"

// TestForDisplay: screens get every event type but the moderation
// queue's.
func TestForDisplay(t *testing.T) {
	for typ, want := range map[EventType]bool{
		EventPost: true, EventUpdate: true, EventRemove: true, EventPin: true, EventUnpin: true,
		EventAnnounce: true, EventReset: true, EventConfig: true, EventShow: true, EventPoll: true,
		EventPending: false, EventApproved: false, EventRejected: false,
	} {
		if got := ForDisplay(typ); got != want {
			t.Errorf("ForDisplay(%s) = %v, want %v", typ, got, want)
		}
	}
}

// TestNetwork: a post names one of the networks Wallcast knows, or web.
func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{"mastodon": "mastodon", "bluesky": "bluesky", "web": "web", "": "web",
		"Mastodon": "web", "evil network": "web", "x": "x"} {
		if got := Network(in); got != want {
			t.Errorf("Network(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostID: an id is source:native, and never carries what would
// break an SSE frame.
func TestPostID(t *testing.T) {
	for _, tc := range []struct{ source, native, want string }{
		{"masto", "113412", "masto:113412"},
		{"hook", "a\r\nid: 99\n\x00b", "hook:aid: 99b"},
	} {
		if got := PostID(tc.source, tc.native); got != tc.want {
			t.Errorf("PostID(%q, %q) = %q, want %q", tc.source, tc.native, got, tc.want)
		}
	}
}
