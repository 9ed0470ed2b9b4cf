package fanout

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzLastEventID: any header or query value gives an answer, never a
// panic; a valid one is a number that is not negative.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"0", "42", " 7 ", "-1", "garbage", "99999999999999999999", ""} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, header, query string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: url.Values{"lastEventId": {query}}.Encode()}}
		r.Header.Set("Last-Event-ID", header)
		n, present, valid := LastEventID(r)
		if valid && (!present || n < 0) {
			t.Fatalf("%q / %q: %d present=%v valid=%v", header, query, n, present, valid)
		}
		if (header != "" || query != "") != present {
			t.Fatalf("%q / %q: present=%v", header, query, present)
		}
	})
}
