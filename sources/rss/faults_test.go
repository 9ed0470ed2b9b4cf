package rss

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sources/sourcetest"
	"github.com/wallcast/wallcast/wall"
)

// liveFeed is an RSS 2.0 feed that grows: the twenty newest items, an
// ETag per version, and 304 Not Modified for the version a reader has.
type liveFeed struct{ feed *sourcetest.Feed }

func (l liveFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/feed.xml" {
		http.NotFound(w, r)
		return
	}
	n := l.feed.Len()
	etag := `"v` + strconv.Itoa(n) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>DevConf news</title><link>https://devconf.example/</link><description>News</description><language>fr</language>
`)
	for i := n; i >= max(1, n-19); i-- {
		fmt.Fprintf(w, `<item><title>%s</title><link>https://devconf.example/news/%d</link><guid isPermaLink="false">devconf-news-%d</guid><pubDate>%s</pubDate><description>&lt;p&gt;%s&lt;/p&gt;</description></item>
`, sourcetest.FaultText(i), i, i, l.feed.Time(i).UTC().Format(time.RFC1123Z), sourcetest.FaultText(i))
	}
	fmt.Fprint(w, "</channel></rss>\n")
}

// TestFaults: between a feed and the adapter, every fault of the matrix;
// the next poll brings what a broken one missed.
func TestFaults(t *testing.T) {
	sourcetest.RunFaults(t, sourcetest.Network{
		Upstream: func(f *sourcetest.Feed) http.Handler { return liveFeed{f} },
		Open: func(base string, client *http.Client) wall.Source {
			return New(Config{Name: "news", URL: base + "/feed.xml", Interval: 50 * time.Millisecond, UserAgent: "test"}, client, sourcetest.Quiet)
		},
		Stall: time.Second,
	})
}
