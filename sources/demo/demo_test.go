package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

func TestDemoPostsAreMarkedAndResume(t *testing.T) {
	s := New(time.Millisecond, "http://localhost:8080")
	ctx, cancel := context.WithCancel(context.Background())
	var got []wall.Item
	err := s.Run(ctx, wall.Subscription{Hashtags: []string{"devconf", "dc26"}, Cursor: "5"}, func(_ context.Context, it wall.Item) error {
		got = append(got, it)
		if len(got) == len(samples)-5 {
			// Every sample is out: the source stays quiet from here on.
			time.AfterFunc(50*time.Millisecond, cancel)
		}
		return nil
	})
	if len(got) != len(samples)-5 {
		t.Fatalf("%d posts from cursor 5 of %d samples: a sample came twice", len(got), len(samples))
	}
	if err != nil {
		t.Fatal(err)
	}
	first := got[0]
	if first.Post.NativeID != "5" || first.Cursor != "6" {
		t.Errorf("resumed at %q cursor %q, want 5 and 6", first.Post.NativeID, first.Cursor)
	}
	for _, it := range got {
		p := it.Post
		if !p.Demo || !strings.Contains(p.Text, "#"+p.Tags[0]) || p.Author.Name == "" {
			t.Fatalf("post = %+v", p)
		}
		for _, m := range p.Media {
			if !strings.HasPrefix(m.URL, "http://localhost:8080/static/demo/") || m.Alt == "" {
				t.Errorf("media = %+v", m)
			}
		}
	}
	if got[0].Post.Tags[0] == got[1].Post.Tags[0] {
		t.Error("posts do not cycle through the subscription's hashtags")
	}
}
