package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// TestReportThroughTheServer: posts held, approved and rejected in the
// console, screens connected, then the report as JSON, CSV (sections, every
// shown post, no cell a spreadsheet runs as a formula), the printable page
// and its SVG charts.
func TestReportThroughTheServer(t *testing.T) {
	ae := newAdminEnv(t)
	ae.ingest("1", "@ana@m.example", "first #devconf")
	ae.ingest("2", "@bo@m.example", "=HYPERLINK(\"http://evil.example\",\"click\") #devconf")
	ae.ingest("3", "@bo@m.example", "spam #devconf")
	b := newBrowser(t, ae.url)
	b.login("ana", "correct horse")
	for _, a := range []string{"s:1/approve", "s:2/approve", "s:3/reject"} {
		if resp, body := b.post("/admin/api/walls/devconf/posts/"+a, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", a, resp.Status, body)
		}
	}
	// Two screens; the server notes the most at once.
	ae.open("/walls/devconf/events")
	ae.open("/walls/devconf/events")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ae.srv.NoteScreens(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	var rep wall.Report
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, body := b.do("GET", "/admin/api/walls/devconf/report.json?posts=false", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("report.json: %s %s", resp.Status, body)
		}
		rep = wall.Report{}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.ScreensPeak.Peak == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("screens peak = %+v, want 2", rep.ScreensPeak)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := (wall.Counts{Received: 3, Shown: 2, Held: 3, Rejected: 1}); rep.Totals != want || rep.Title == "" || rep.Posts != nil {
		t.Errorf("report = %+v (title %q, %d posts), want totals %+v and no posts", rep.Totals, rep.Title, len(rep.Posts), want)
	}
	if rep.Contributors != 2 || rep.Moderation.Decided != 3 || len(rep.TopHashtags) != 1 || rep.TopHashtags[0].Name != "devconf" {
		t.Errorf("contributors %d, moderation %+v, hashtags %+v", rep.Contributors, rep.Moderation, rep.TopHashtags)
	}

	resp, body := b.do("GET", "/admin/api/walls/devconf/report.json", nil)
	if err := json.Unmarshal([]byte(body), &rep); err != nil || len(rep.Posts) != 2 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("report.json with posts: %d posts, %v, %q", len(rep.Posts), err, resp.Header.Get("Content-Disposition"))
	}

	resp, body = b.do("GET", "/admin/api/walls/devconf/report.csv", nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv content type %q", ct)
	}
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	sections := map[string]int{}
	var posts [][]string
	for _, row := range rows {
		sections[row[0]]++
		if row[0] == "posts" && row[1] != "id" {
			posts = append(posts, row)
		}
		if row[0] == "summary" && row[1] == "received" && row[2] != "3" {
			t.Errorf("csv summary received = %s", row[2])
		}
	}
	for _, s := range []string{"summary", "networks", "steps", "contributors", "hashtags", "screens", "polls", "sponsors", "posts"} {
		if sections[s] == 0 {
			t.Errorf("csv has no %s section", s)
		}
	}
	if len(posts) != 2 || !strings.HasPrefix(posts[1][9], "'=HYPERLINK") {
		t.Errorf("csv posts = %q", posts)
	}

	resp, page := b.do("GET", "/admin/walls/devconf/report", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Posts received") || !strings.Contains(page, "report/posts.svg") || !strings.Contains(page, "@ana@m.example") {
		t.Errorf("report page: %s\n%s", resp.Status, page)
	}
	for _, chart := range []string{"posts", "screens"} {
		resp, svg := b.do("GET", "/admin/walls/devconf/report/"+chart+".svg", nil)
		if resp.Header.Get("Content-Type") != "image/svg+xml" || !wellFormed(svg) || !strings.Contains(svg, "<rect") {
			t.Errorf("%s.svg: %s %q\n%s", chart, resp.Status, resp.Header.Get("Content-Type"), svg)
		}
	}
	if _, svg := b.do("GET", "/admin/walls/devconf/report/posts.svg", nil); !strings.Contains(svg, "demo 3") {
		t.Errorf("posts.svg has no legend for the demo network:\n%s", svg)
	}
	// Without a session: nothing.
	anon := newBrowser(t, ae.url)
	if resp, _ := anon.do("GET", "/admin/api/walls/devconf/report.csv", nil); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusSeeOther {
		t.Errorf("report.csv without a session: %s", resp.Status)
	}
}

func wellFormed(s string) bool {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); err == io.EOF {
			return true
		} else if err != nil {
			return false
		}
	}
}
