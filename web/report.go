package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// reports is the report of a wall after the event: JSON, CSV, the
// printable page and its charts.
type reports struct {
	*base
	admin Admin
}

// report reads a wall's report for the console and the exports.
func (s *reports) report(w http.ResponseWriter, r *http.Request, posts bool) (*config.Wall, *wall.Report) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return nil, nil
	}
	rep, err := s.admin.Store.Report(r.Context(), wc.Slug, posts)
	if err != nil {
		s.log.Error("admin: report", "wall", wc.Slug, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return nil, nil
	}
	rep.Title = wc.Title
	w.Header().Set("Cache-Control", "no-store")
	return wc, &rep
}

// reportExport answers report.json (?posts=false leaves the shown posts
// out: the console's live figures) and report.csv.
func (s *reports) reportExport(w http.ResponseWriter, r *http.Request) {
	format := mux.Vars(r)["format"]
	wc, rep := s.report(w, r, format == "csv" || r.URL.Query().Get("posts") != "false")
	if rep == nil {
		return
	}
	name := fmt.Sprintf("wallcast-%s-%s.%s", wc.Slug, rep.To.Format("20060102-1504"), format)
	if format == "json" {
		if r.URL.Query().Get("posts") != "false" {
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		}
		writeJSON(w, rep)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	writeCSV(w, rep)
}

// writeCSV writes a report as one CSV file in sections: every row starts
// with its section's name, and each section starts with a header row
// (section name, then the column names), so a spreadsheet filters on the
// first column.
func writeCSV(w http.ResponseWriter, rep *wall.Report) {
	c := csv.NewWriter(w)
	row := func(cells ...any) {
		rec := make([]string, len(cells))
		for i, v := range cells {
			switch v := v.(type) {
			case time.Time:
				if !v.IsZero() {
					rec[i] = v.UTC().Format(time.RFC3339)
				}
			case float64:
				rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
			case string:
				rec[i] = inert(v)
			default:
				rec[i] = fmt.Sprint(v)
			}
		}
		c.Write(rec)
	}
	t := rep.Totals
	row("summary", "figure", "value")
	for _, f := range []struct {
		k string
		v any
	}{
		{"wall", rep.Wall}, {"title", rep.Title}, {"from", rep.From}, {"to", rep.To}, {"step", rep.Step},
		{"received", t.Received}, {"shown", t.Shown}, {"held", t.Held}, {"rejected", t.Rejected},
		{"contributors", rep.Contributors}, {"moderated", rep.Moderation.Decided},
		{"moderation_p50_seconds", rep.Moderation.P50}, {"moderation_p90_seconds", rep.Moderation.P90},
		{"screens_peak", rep.ScreensPeak.Peak}, {"screens_peak_at", rep.ScreensPeak.At},
	} {
		row("summary", f.k, f.v)
	}
	row("networks", "network", "received", "shown", "held", "rejected")
	for _, n := range rep.Networks {
		row("networks", n.Network, n.Received, n.Shown, n.Held, n.Rejected)
	}
	row("steps", "at", "network", "received", "shown", "held", "rejected")
	for _, s := range rep.Steps {
		row("steps", s.At, s.Network, s.Received, s.Shown, s.Held, s.Rejected)
	}
	row("contributors", "author", "network", "shown_posts")
	for _, c := range rep.TopContributors {
		row("contributors", c.Name, c.Network, c.Posts)
	}
	row("hashtags", "tag", "shown_posts")
	for _, h := range rep.TopHashtags {
		row("hashtags", "#"+h.Name, h.Posts)
	}
	row("screens", "at", "peak")
	for _, sc := range rep.Screens {
		row("screens", sc.At, sc.Peak)
	}
	row("polls", "poll", "question", "option", "tag", "votes", "closed")
	for _, p := range rep.Polls {
		for _, o := range p.Options {
			row("polls", p.ID, p.Question, o.Text, "#"+o.Tag, o.Votes, p.Closed)
		}
	}
	row("sponsors", "sponsor", "shows", "screen_minutes", "minutes")
	for _, im := range rep.Sponsors {
		row("sponsors", im.Sponsor, im.Shows, im.ScreenMinutes, im.Minutes)
	}
	row("posts", "id", "arrived", "created_at", "network", "author", "handle", "url", "status", "text")
	for _, p := range rep.Posts {
		row("posts", p.ID, p.Arrived, p.CreatedAt, p.Network, p.Author.Name, p.Author.Handle, p.URL, p.Status, p.Text)
	}
	c.Flush()
}

// inert keeps a spreadsheet from reading a cell as a formula: post texts
// and names come from anyone, and "=HYPERLINK(…)" in a cell the organiser
// opens is an attack (OWASP's CSV injection). A cell whose first visible
// character (after spaces, zero-width and other invisible characters) is
// = + - @, in ASCII or full width, or that starts with a tab or return,
// gets a leading apostrophe, which spreadsheets show as text.
func inert(v string) string {
	if v == "" {
		return v
	}
	if v[0] == '\t' || v[0] == '\r' {
		return "'" + v
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == '\u3164' || r == '\u115f' || r == '\u1160' {
			continue // spaces, zero-width and format characters, Hangul fillers
		}
		if strings.ContainsRune("=+-@＝＋－＠﹦﹢﹣﹫", r) {
			return "'" + v
		}
		break
	}
	return v
}

// reportPage is the printable report of a wall.
func (s *reports) reportPage(w http.ResponseWriter, r *http.Request) {
	wc, rep := s.report(w, r, true)
	if rep == nil {
		return
	}
	shown := rep.Posts
	if len(shown) > reportPosts {
		shown = shown[len(shown)-reportPosts:]
	}
	slices.Reverse(shown)
	s.render(w, "admin_report.html", reportPage{Session: sessionOf(r), Wall: wc, Report: rep, Shown: shown, More: len(rep.Posts) - len(shown)}, nil)
}

// reportPosts is how many shown posts the report page lists (newest
// first); the exports hold them all.
const reportPosts = 200

type reportPage struct {
	Session wall.Session
	Wall    *config.Wall
	Report  *wall.Report
	Shown   []wall.ShownPost
	More    int
}

// reportChart serves a wall's charts as SVG, drawn here (no script):
// posts.svg, the posts received per step stacked by network; screens.svg,
// the most screens connected per step.
func (s *reports) reportChart(w http.ResponseWriter, r *http.Request) {
	_, rep := s.report(w, r, false)
	if rep == nil {
		return
	}
	var svg []byte
	if mux.Vars(r)["chart"] == "screens" {
		svg = screensChart(rep)
	} else {
		svg = postsChart(rep)
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", brandingCSP)
	w.Write(svg)
}

// networkColors are the networks' colours in the charts.
var networkColors = map[string]string{
	"mastodon": "#6364ff", "bluesky": "#1185fe", "x": "#52606d", "reddit": "#ff4500",
	"rss": "#f5a623", "webhook": "#2a9d8f", "demo": "#9b59b6",
}

func colorOf(network string) string {
	if c, ok := networkColors[network]; ok {
		return c
	}
	return "#8899a6"
}

// chart geometry: the plot area inside a fixed view box.
const (
	chartW, chartH = 720, 220
	padL, padB     = 40, 28
	padT, padR     = 22, 12
)

// steps lists the steps from the one of from to the one of to, empty ones
// included: at least an hour of them (a short event's bars keep their
// width) and at most a week.
func steps(from, to time.Time) []time.Time {
	var ts []time.Time
	for t := from.Truncate(wall.ReportStep); (!t.After(to) || len(ts) < 12) && len(ts) < 7*24*12; t = t.Add(wall.ReportStep) {
		ts = append(ts, t)
	}
	return ts
}

// bars draws one bar per step of the values at, stacked, in the plot area
// scaled to top; title names a piece on hover.
func bars(b *bytes.Buffer, ts []time.Time, top int, pieces func(t time.Time) []bar) {
	plotH := float64(chartH - padT - padB)
	bw := float64(chartW-padL-padR) / float64(max(len(ts), 1))
	for i, t := range ts {
		y := float64(chartH - padB)
		for _, p := range pieces(t) {
			if p.v == 0 {
				continue
			}
			h := plotH * float64(p.v) / float64(top)
			y -= h
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
				float64(padL)+bw*float64(i)+bw*0.1, y, bw*0.8, h, p.color, t.Format("15:04"), html.EscapeString(p.name), p.v)
		}
	}
}

// bar is one piece of a stacked bar.
type bar struct {
	name, color string
	v           int
}

// even is the top of a chart's scale for the largest value n: even, so
// the middle line has a whole number.
func even(n int) int { return max(2, n+n%2) }

// frame opens an SVG chart with its axes: the y scale up to top and time
// labels under the bars.
func frame(b *bytes.Buffer, title string, ts []time.Time, top int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" font-family="sans-serif" font-size="11"><title>%s</title>`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#fff"/>`, chartW, chartH)
	plotH := chartH - padT - padB
	for _, f := range []float64{0, 0.5, 1} {
		y := float64(padT) + float64(plotH)*(1-f)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#dde"/><text x="%d" y="%.1f" text-anchor="end" fill="#555">%d</text>`,
			padL, chartW-padR, y, y, padL-4, y+4, int(float64(top)*f))
	}
	if len(ts) == 0 {
		return
	}
	bw := float64(chartW-padL-padR) / float64(len(ts))
	every := max(1, len(ts)/8)
	for i, t := range ts {
		if i%every == 0 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#555">%s</text>`, float64(padL)+bw*float64(i), chartH-8, t.Format("15:04"))
		}
	}
}

// postsChart is the posts received per step, stacked by network, with a
// legend.
func postsChart(rep *wall.Report) []byte {
	var b bytes.Buffer
	per := map[time.Time]map[string]int{}
	most := map[time.Time]int{}
	for _, s := range rep.Steps {
		if per[s.At] == nil {
			per[s.At] = map[string]int{}
		}
		per[s.At][s.Network] += s.Received
		most[s.At] += s.Received
	}
	var ts []time.Time
	if !rep.From.IsZero() {
		ts = steps(rep.From, rep.To)
	}
	top := 1
	for _, n := range most {
		top = max(top, n)
	}
	top = even(top)
	frame(&b, "Posts received per 5 minutes, by network", ts, top)
	bars(&b, ts, top, func(t time.Time) []bar {
		var out []bar
		for _, n := range rep.Networks {
			out = append(out, bar{n.Network, colorOf(n.Network), per[t][n.Network]})
		}
		return out
	})
	x := padL
	for _, n := range rep.Networks {
		fmt.Fprintf(&b, `<rect x="%d" y="4" width="9" height="9" fill="%s"/><text x="%d" y="12" fill="#333">%s %d</text>`,
			x, colorOf(n.Network), x+12, html.EscapeString(n.Network), n.Received)
		x += 24 + 7*len(n.Network) + 7*len(strconv.Itoa(n.Received))
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}

// screensChart is the most screens connected at once per step.
func screensChart(rep *wall.Report) []byte {
	var b bytes.Buffer
	peak := map[time.Time]int{}
	for _, sc := range rep.Screens {
		peak[sc.At] = sc.Peak
	}
	var ts []time.Time
	if len(rep.Screens) > 0 {
		ts = steps(rep.Screens[0].At, rep.To)
	}
	top := even(rep.ScreensPeak.Peak)
	frame(&b, "Screens connected (most at once per 5 minutes)", ts, top)
	bars(&b, ts, top, func(t time.Time) []bar { return []bar{{"screens", "#2a9d8f", peak[t]}} })
	b.WriteString(`</svg>`)
	return b.Bytes()
}

// seconds writes a duration given in seconds the way a person reads it:
// "45 s", "3 min 20 s", "—" for none.
func seconds(v float64) string {
	if v <= 0 {
		return "—"
	}
	d := time.Duration(v * float64(time.Second)).Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
}

// scale is the top of a poll's bars: its votes, all options together (at
// least 1).
func scale(p wall.Poll) int {
	n := 0
	for _, o := range p.Options {
		n += o.Votes
	}
	return max(1, n)
}
