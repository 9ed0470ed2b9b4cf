package upstream

import "testing"

func TestRedact(t *testing.T) {
	cases := []struct{ in, redacted, public string }{
		{`x x: Get "https://api.x.com/2/tweets/search/recent?query=%23devconf&api_key=SECRET1": dial tcp: i/o timeout`,
			`x x: Get "https://api.x.com/2/tweets/search/recent?…": dial tcp: i/o timeout`,
			`x x: Get "https://api.x.com/2/tweets/search/recent?…": dial tcp: i/o timeout`},
		{`rss feed: fetch https://user:SECRET2@feeds.example/rss.xml#frag: HTTP 500: <html>token=SECRET3 oops</html>`,
			`rss feed: fetch https://feeds.example/rss.xml: HTTP 500: <html>token=… oops</html>`,
			`rss feed: fetch https://feeds.example/rss.xml: HTTP 500`},
		{`reddit r: token: Authorization: Basic SECRET4 refused`, `reddit r: token: Authorization: Basic … refused`, `reddit r: token: Authorization: Basic … refused`},
		{`mastodon m: stream #devconf ended: sse: line longer than the limit`, `mastodon m: stream #devconf ended: sse: line longer than the limit`, `mastodon m: stream #devconf ended: sse: line longer than the limit`},
	}
	for _, c := range cases {
		if got := Redact(c.in); got != c.redacted {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.redacted)
		}
		if got := Public(c.in); got != c.public {
			t.Errorf("Public(%q)\n got %q\nwant %q", c.in, got, c.public)
		}
	}
}
