package web

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"rsc.io/qr"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/templates"
	"github.com/wallcast/wallcast/wall"
)

// pages serves the walls to screens: the display and embed pages,
// branding, the QR code, sponsor showings, and (streams.go) the screens'
// event streams and their count for the report (screens.go).
type pages struct {
	*base
	store   wall.Reader
	tally   wall.Tally
	hub     *fanout.Hub
	serving func() error
	slots   *slots
	screens screens
	api     *api // its per-client rate bounds the sponsor showings too
}

func (s *pages) routes(r *mux.Router) {
	r.HandleFunc("/", s.index).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}", s.display).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/events", s.events).Methods(http.MethodGet)
	r.HandleFunc("/walls/{slug}/embed", s.embed).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/qr.svg", s.qrCode).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/logo", s.file("logo")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/background", s.file("background")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/custom.css", s.file("custom.css")).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/sponsors/{n:[0-9]+}", s.sponsorImage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/impressions", s.api.limitAPI(s.impression)).Methods(http.MethodPost)
	r.HandleFunc("/embed.js", s.embedScript).Methods(http.MethodGet, http.MethodHead)
}

// uiStrings are the display's own words, per locale (config.Locales;
// TestLocalesAndStrings holds the two together).
var uiStrings = map[string]map[string]string{
	"en": {
		"waiting": "Waiting for the first posts…", "reconnecting": "Reconnecting…",
		"offline": "Offline: showing the last posts received", "posts": "Posts",
		"announcements": "Announcements", "sensitive": "Sensitive content", "demo": "demo",
		"scan": "Scan to open this wall", "post_here": "Post from your phone", "guest": "From the room",
		"translated_from": "Translated from", "original": "Original",
	},
	"fr": {
		"waiting": "En attente des premiers messages…", "reconnecting": "Reconnexion…",
		"offline": "Hors ligne : derniers messages reçus", "posts": "Messages",
		"announcements": "Annonces", "sensitive": "Contenu sensible", "demo": "démo",
		"scan": "Scannez pour ouvrir ce mur", "post_here": "Publiez depuis votre téléphone", "guest": "Depuis la salle",
		"translated_from": "Traduit de :", "original": "Original",
	},
	"de": {
		"waiting": "Warten auf die ersten Beiträge…", "reconnecting": "Verbindung wird wiederhergestellt…",
		"offline": "Offline: die zuletzt empfangenen Beiträge", "posts": "Beiträge",
		"announcements": "Ankündigungen", "sensitive": "Sensible Inhalte", "demo": "Demo",
		"scan": "Scannen, um diese Wand zu öffnen", "post_here": "Poste von deinem Telefon", "guest": "Aus dem Saal",
		"translated_from": "Übersetzt aus:", "original": "Original",
	},
}

func localeStrings(locale string) map[string]string {
	if s, ok := uiStrings[locale]; ok {
		return s
	}
	return uiStrings["en"]
}

// displayPage is what the display and embed templates get.
type displayPage struct {
	Wall       *config.Wall
	URL        string // the wall's public address
	Embed      bool
	T          map[string]string
	Strings    string // T as JSON, for the script
	Display    string // the display settings as JSON, for the script
	Logo       string
	Background string
	CustomCSS  bool
}

// assetURL is where the page finds a logo or background: a URL as given,
// or Wallcast's own route for a file.
func assetURL(slug, name, v string) string {
	if v == "" || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
		return v
	}
	return "/walls/" + slug + "/" + name
}

// DisplayOverride is what a moderator may change of a wall's display from
// the console; empty fields keep the config's value.
type DisplayOverride struct {
	Layout string `json:"layout,omitempty"`
	Theme  string `json:"theme,omitempty"`
}

// effective returns a wall with the console's display override applied.
func (s *pages) effective(ctx context.Context, wc *config.Wall) *config.Wall {
	data, err := s.store.Display(ctx, wc.Slug)
	if err != nil || data == "" {
		return wc
	}
	var o DisplayOverride
	if json.Unmarshal([]byte(data), &o) != nil {
		return wc
	}
	cp := *wc
	if o.Layout != "" {
		cp.Display.Layout = o.Layout
	}
	if o.Theme != "" {
		cp.Display.Theme = o.Theme
	}
	return &cp
}

func (s *pages) page(w http.ResponseWriter, r *http.Request, embed bool) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	wc = s.effective(r.Context(), wc)
	t := localeStrings(wc.Display.Locale)
	ts, _ := json.Marshal(t)
	ds, _ := json.Marshal(displaySettings(wc))
	p := displayPage{
		Wall: wc, URL: s.wallURL(wc.Slug), Embed: embed, T: t, Strings: string(ts), Display: string(ds),
		Logo: assetURL(wc.Slug, "logo", wc.Display.Logo), Background: assetURL(wc.Slug, "background", wc.Display.Background),
		CustomCSS: wc.Display.CustomCSS != "",
	}
	s.render(w, "wall.html", p, wc.EmbedOrigins)
}

// DisplaySettings is what screens are told of a wall's display, at load
// and in config events.
type DisplaySettings struct {
	Layout           string  `json:"layout"`
	Theme            string  `json:"theme"`
	MaxPosts         int     `json:"max_posts"`
	CallToAction     string  `json:"call_to_action,omitempty"`
	Accent           string  `json:"accent,omitempty"`
	FontScale        float64 `json:"font_scale"`
	ShowSensitive    bool    `json:"show_sensitive"`
	QR               bool    `json:"qr"`
	SpotlightSeconds int     `json:"spotlight_seconds"`
	RecycleAfter     int     `json:"recycle_after,omitempty"` // seconds; 0: never
	// Sponsors rotate one card every SponsorEveryPosts new posts or
	// SponsorEverySeconds, whichever comes first.
	Sponsors            []SponsorCard `json:"sponsors,omitempty"`
	SponsorEveryPosts   int           `json:"sponsor_every_posts,omitempty"`
	SponsorEverySeconds int           `json:"sponsor_every_seconds,omitempty"`
	Title               string        `json:"title"`
	Locale              string        `json:"locale"`
	// OverlayPosition is where the overlay layout shows its post.
	OverlayPosition string `json:"overlay_position,omitempty"`
	// Columns is the grid's number of columns (0: as the width holds).
	Columns int `json:"columns,omitempty"`
	// ImageSeconds is how long a carousel shows each picture.
	ImageSeconds int `json:"image_seconds,omitempty"`
	// TranslateTo are the languages the wall's posts are translated into:
	// a screen shows the first, or the one its ?lang= names.
	TranslateTo []string `json:"translate_to,omitempty"`
}

// SponsorCard is a sponsor as screens show it.
type SponsorCard struct {
	Name    string `json:"name"`
	Image   string `json:"image"` // a URL the page can load
	URL     string `json:"url,omitempty"`
	Seconds int    `json:"seconds"`
}

func displaySettings(wc *config.Wall) DisplaySettings {
	d := wc.Display
	var cards []SponsorCard
	for i, sp := range d.Sponsors {
		img := sp.Image
		if !config.HTTPURL(img) {
			img = fmt.Sprintf("/walls/%s/sponsors/%d", url.PathEscape(wc.Slug), i)
		}
		name := sp.Label(i)
		cards = append(cards, SponsorCard{Name: name, Image: img, URL: sp.URL, Seconds: sp.Seconds})
	}
	return DisplaySettings{Sponsors: cards, SponsorEveryPosts: d.SponsorEveryPosts, SponsorEverySeconds: d.SponsorEverySeconds, Layout: d.Layout, Theme: d.Theme, MaxPosts: d.MaxPosts, CallToAction: d.CallToAction,
		Accent: d.Accent, FontScale: d.FontScale, ShowSensitive: d.ShowSensitive, QR: d.ShowQR(),
		SpotlightSeconds: d.SpotlightSeconds, RecycleAfter: int(d.RecycleAfter.D().Seconds()), Title: wc.Title, Locale: d.Locale,
		TranslateTo: d.TranslateTo, OverlayPosition: d.OverlayPosition, Columns: d.Columns, ImageSeconds: d.ImageSeconds}
}

// ConfigEvent is the data of a config event for a wall.
func ConfigEvent(wc *config.Wall) []byte {
	b, _ := json.Marshal(displaySettings(wc))
	return b
}

// ConfigEventFor is the data of a config event for a wall as its screens
// should show it: the config with the console's changes over it.
func (s *pages) configEventFor(ctx context.Context, wc *config.Wall) []byte {
	return ConfigEvent(s.effective(ctx, wc))
}

func (b *base) wallURL(slug string) string {
	return strings.TrimRight(b.Config().Server.BaseURL, "/") + "/walls/" + slug
}

func (s *pages) display(w http.ResponseWriter, r *http.Request) { s.page(w, r, false) }
func (s *pages) embed(w http.ResponseWriter, r *http.Request)   { s.page(w, r, true) }

// file serves a wall's logo, background or custom CSS from disk.
func (s *pages) file(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wc := s.wallOf(w, r)
		if wc == nil {
			return
		}
		v := map[string]string{"logo": wc.Display.Logo, "background": wc.Display.Background, "custom.css": wc.Display.CustomCSS}[name]
		if v == "" || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
			http.NotFound(w, r)
			return
		}
		s.serveBranding(w, r, v)
	}
}

// serveBranding serves a branding file named in the config (relative to
// the config file), inert when opened on its own.
func (s *pages) serveBranding(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	brandingHeaders(w, name)
	http.ServeFile(w, r, config.Resolve(s.Config().File, name))
}

// sponsorImage serves a sponsor's image file.
func (s *pages) sponsorImage(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	n, _ := strconv.Atoi(mux.Vars(r)["n"])
	if n < 0 || n >= len(wc.Display.Sponsors) || config.HTTPURL(wc.Display.Sponsors[n].Image) {
		http.NotFound(w, r)
		return
	}
	s.serveBranding(w, r, wc.Display.Sponsors[n].Image)
}

// impression counts one showing of a sponsor's card, reported by a screen:
// {"sponsor": n, "seconds": s, "token": t}. It counts only as JSON from
// the wall's own pages (an Origin header, where the browser sends one,
// is this server's), with the token a connected stream of the wall got
// after its catch-up, at most once per card per stream per the card's
// length, for at most the card's seconds.
func (s *pages) impression(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "send application/json", http.StatusUnsupportedMediaType)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !s.ownOrigin(r, o) {
		http.Error(w, "only the wall's own pages report showings", http.StatusForbidden)
		return
	}
	var body struct {
		Sponsor int    `json:"sponsor"`
		Seconds int    `json:"seconds"`
		Token   string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<10)).Decode(&body); err != nil ||
		body.Sponsor < 0 || body.Sponsor >= len(wc.Display.Sponsors) || body.Seconds < 1 {
		http.Error(w, `body is {"sponsor": n, "seconds": s, "token": t} for a sponsor of this wall`, http.StatusBadRequest)
		return
	}
	sp := displaySettings(wc).Sponsors[body.Sponsor]
	// A card may be reported a little early (timers, a busy page): one
	// second of slack.
	if !s.screens.showing(body.Token, wc.Slug, body.Sponsor, time.Duration(max(sp.Seconds-1, 1))*time.Second, time.Now()) {
		http.Error(w, "not counted: no connected screen of this wall has that token, or it counted this card within its length", http.StatusTooManyRequests)
		return
	}
	if s.tally == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.tally.Impression(r.Context(), wc.Slug, sp.Name, min(body.Seconds, sp.Seconds)); err != nil {
		s.log.Error("sponsor impression", "err", err)
		http.Error(w, "not counted", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ownOrigin reports whether an Origin header is this server's: its
// base_url's, or the scheme and host the request came to.
func (s *pages) ownOrigin(r *http.Request, origin string) bool {
	return ownOrigin(s.Config(), r, origin)
}

// ownOrigin reports whether an Origin header is this server's.
func ownOrigin(c *config.Config, r *http.Request, origin string) bool {
	if u, err := url.Parse(c.Server.BaseURL); err == nil && strings.EqualFold(origin, u.Scheme+"://"+u.Host) {
		return true
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}

// brandingCSP is the policy of a branding file or QR code opened on its
// own: an SVG is a document that could run script; this one cannot, and
// loads nothing.
const brandingCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// brandingHeaders keeps a branding file inert when opened directly: no
// script, nothing loaded, and an SVG is downloaded rather than shown as a
// page (an <img> ignores the disposition).
func brandingHeaders(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Security-Policy", brandingCSP)
	if strings.HasSuffix(strings.ToLower(name), ".svg") {
		w.Header().Set("Content-Disposition", "attachment")
	}
}

var qrCache sync.Map // URL -> SVG bytes

// roomCode is what a room code may look like in a QR code's request.
var roomCode = regexp.MustCompile(`^[A-Z0-9]{4,8}$`)

// hasUploads reports whether a wall takes posts from phones.
func hasUploads(c *config.Config, wc *config.Wall) bool {
	for _, name := range wc.Sources {
		if src := c.Source(name); src != nil && src.Type == "uploads" {
			return true
		}
	}
	return false
}

// qrCode serves a QR code of the wall's public address as SVG, made here:
// no external service sees the audience's screens.
func (s *pages) qrCode(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	u, room := s.wallURL(wc.Slug), ""
	if hasUploads(s.Config(), wc) {
		// The wall takes posts from phones: its QR code opens the form,
		// with the room code the screen shows (only its letters).
		if room = r.URL.Query().Get("code"); !roomCode.MatchString(room) {
			room = ""
		}
		u = PostURL(s.Config().Server.BaseURL, wc.Slug, room)
	}
	svg, ok := qrCache.Load(u)
	if !ok {
		code, err := qr.Encode(u, qr.M)
		if err != nil {
			http.Error(w, "cannot encode the address", http.StatusInternalServerError)
			return
		}
		var b strings.Builder
		const quiet = 4
		n := code.Size + 2*quiet
		fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
		for y := 0; y < code.Size; y++ {
			for x := 0; x < code.Size; x++ {
				if code.Black(x, y) {
					fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
				}
			}
		}
		b.WriteString(`"/></svg>`)
		svg = []byte(b.String())
		if room == "" { // the codes change: only the plain addresses are kept
			svg, _ = qrCache.LoadOrStore(u, svg)
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", brandingCSP)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(svg.([]byte))
}

// embedScript serves /embed.js: one script tag puts a wall into any page.
func (s *pages) embedScript(w http.ResponseWriter, r *http.Request) {
	b, err := templates.FS.ReadFile("static/embed.js")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}

func (s *pages) index(w http.ResponseWriter, r *http.Request) {
	s.render(w, "index.html", s.Config(), nil)
}
