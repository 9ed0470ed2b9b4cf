package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"rsc.io/qr"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/templates"
)

// strings are the display's own words, per locale (config.Locales).
var uiStrings = map[string]map[string]string{
	"en": {
		"waiting": "Waiting for the first posts…", "reconnecting": "Reconnecting…",
		"offline": "Offline: showing the last posts received", "posts": "Posts",
		"announcements": "Announcements", "sensitive": "Sensitive content", "demo": "demo",
		"scan": "Scan to open this wall",
	},
	"fr": {
		"waiting": "En attente des premiers messages…", "reconnecting": "Reconnexion…",
		"offline": "Hors ligne : derniers messages reçus", "posts": "Messages",
		"announcements": "Annonces", "sensitive": "Contenu sensible", "demo": "démo",
		"scan": "Scannez pour ouvrir ce mur",
	},
	"de": {
		"waiting": "Warten auf die ersten Beiträge…", "reconnecting": "Verbindung wird wiederhergestellt…",
		"offline": "Offline: die zuletzt empfangenen Beiträge", "posts": "Beiträge",
		"announcements": "Ankündigungen", "sensitive": "Sensible Inhalte", "demo": "Demo",
		"scan": "Scannen, um diese Wand zu öffnen",
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
func (s *Server) effective(ctx context.Context, wc *config.Wall) *config.Wall {
	if s.admin.Store == nil {
		return wc
	}
	data, err := s.admin.Store.Display(ctx, wc.Slug)
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

func (s *Server) page(w http.ResponseWriter, r *http.Request, embed bool) {
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
	Title            string  `json:"title"`
	Locale           string  `json:"locale"`
}

func displaySettings(wc *config.Wall) DisplaySettings {
	d := wc.Display
	return DisplaySettings{Layout: d.Layout, Theme: d.Theme, MaxPosts: d.MaxPosts, CallToAction: d.CallToAction,
		Accent: d.Accent, FontScale: d.FontScale, ShowSensitive: d.ShowSensitive, QR: d.ShowQR(),
		SpotlightSeconds: d.SpotlightSeconds, RecycleAfter: int(d.RecycleAfter.D().Seconds()), Title: wc.Title, Locale: d.Locale}
}

// ConfigEvent is the data of a config event for a wall.
func ConfigEvent(wc *config.Wall) []byte {
	b, _ := json.Marshal(displaySettings(wc))
	return b
}

// ConfigEventFor is the data of a config event for a wall as its screens
// should show it: the config with the console's changes over it.
func (s *Server) ConfigEventFor(ctx context.Context, wc *config.Wall) []byte {
	return ConfigEvent(s.effective(ctx, wc))
}

func (s *Server) wallURL(slug string) string {
	return strings.TrimRight(s.Config().Server.BaseURL, "/") + "/walls/" + slug
}

func (s *Server) display(w http.ResponseWriter, r *http.Request) { s.page(w, r, false) }
func (s *Server) embed(w http.ResponseWriter, r *http.Request)   { s.page(w, r, true) }

// file serves a wall's logo, background or custom CSS from disk.
func (s *Server) file(name string) http.HandlerFunc {
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
		w.Header().Set("Cache-Control", "public, max-age=300")
		brandingHeaders(w, v)
		http.ServeFile(w, r, config.Resolve(s.Config().File, v))
	}
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

// qrCode serves a QR code of the wall's public address as SVG, made here:
// no external service sees the audience's screens.
func (s *Server) qrCode(w http.ResponseWriter, r *http.Request) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return
	}
	u := s.wallURL(wc.Slug)
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
		svg, _ = qrCache.LoadOrStore(u, []byte(b.String()))
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", brandingCSP)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(svg.([]byte))
}

// embedScript serves /embed.js: one script tag puts a wall into any page.
func (s *Server) embedScript(w http.ResponseWriter, r *http.Request) {
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
