package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/wall"
)

// feeds publish what a wall's screens show as JSON Feed 1.1 and Atom,
// for signage players, newsletters and archives that do not speak SSE:
// the same visible posts with their sanitised HTML and media, newest
// first, cacheable (ETag, If-None-Match).
type feeds struct {
	*base
	store wall.Reader
	api   *api // the per-client rate
}

func (s *feeds) routes(r *mux.Router) {
	r.HandleFunc("/walls/{slug}/feed.json", s.api.limitAPI(s.jsonFeed)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/walls/{slug}/feed.atom", s.api.limitAPI(s.atomFeed)).Methods(http.MethodGet, http.MethodHead)
}

// posts reads the wall's visible posts, newest first (at most max_posts).
func (s *feeds) posts(w http.ResponseWriter, r *http.Request) (string, string, []wall.Post, bool) {
	wc := s.wallOf(w, r)
	if wc == nil {
		return "", "", nil, false
	}
	posts, _, err := s.store.Posts(r.Context(), wc.Slug, 0, wc.Display.MaxPosts)
	if err != nil {
		s.log.Error("feed", "wall", wc.Slug, "err", err)
		http.Error(w, "the posts cannot be read now", http.StatusServiceUnavailable)
		return "", "", nil, false
	}
	title := wc.Title
	if title == "" {
		title = wc.Slug
	}
	return wc.Slug, title, posts, true
}

// jsonFeedDoc is a JSON Feed 1.1 document (https://jsonfeed.org/version/1.1).
type jsonFeedDoc struct {
	Version     string         `json:"version"`
	Title       string         `json:"title"`
	HomePageURL string         `json:"home_page_url"`
	FeedURL     string         `json:"feed_url"`
	Items       []jsonFeedItem `json:"items"`
}

type jsonFeedItem struct {
	ID            string           `json:"id"`
	URL           string           `json:"url,omitempty"`
	Title         string           `json:"title,omitempty"`
	ContentHTML   string           `json:"content_html"`
	ContentText   string           `json:"content_text,omitempty"`
	DatePublished string           `json:"date_published,omitempty"`
	Authors       []jsonFeedAuthor `json:"authors,omitempty"`
	Tags          []string         `json:"tags,omitempty"`
	Language      string           `json:"language,omitempty"`
	Image         string           `json:"image,omitempty"`
	Attachments   []jsonFeedFile   `json:"attachments,omitempty"`
}

type jsonFeedAuthor struct {
	Name   string `json:"name,omitempty"`
	URL    string `json:"url,omitempty"`
	Avatar string `json:"avatar,omitempty"`
}

type jsonFeedFile struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	Title    string `json:"title,omitempty"`
}

func (s *feeds) jsonFeed(w http.ResponseWriter, r *http.Request) {
	slug, title, posts, ok := s.posts(w, r)
	if !ok {
		return
	}
	page := s.wallURL(slug)
	doc := jsonFeedDoc{Version: "https://jsonfeed.org/version/1.1", Title: title, HomePageURL: page, FeedURL: page + "/feed.json", Items: []jsonFeedItem{}}
	for _, p := range posts {
		it := jsonFeedItem{ID: p.ID, URL: p.URL, ContentHTML: p.HTML, ContentText: p.Text, Tags: p.Tags, Language: p.Lang}
		if !p.CreatedAt.IsZero() {
			it.DatePublished = p.CreatedAt.UTC().Format(time.RFC3339)
		}
		if p.Author.Name != "" || p.Author.URL != "" {
			it.Authors = []jsonFeedAuthor{{Name: authorName(p.Author), URL: p.Author.URL, Avatar: p.Author.Avatar}}
		}
		for _, m := range shownMedia(p, s.Config().Server.BaseURL) {
			it.Attachments = append(it.Attachments, jsonFeedFile{URL: m.URL, MimeType: mediaType(m), Title: m.Alt})
			if it.Image == "" && m.Type == "image" {
				it.Image = m.URL
			}
		}
		doc.Items = append(doc.Items, it)
	}
	body, _ := json.Marshal(doc)
	cached(w, r, "application/feed+json", body)
}

// atom is an Atom 1.0 feed (RFC 4287).
type atom struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel    string `xml:"rel,attr,omitempty"`
	Href   string `xml:"href,attr"`
	Type   string `xml:"type,attr,omitempty"`
	Title  string `xml:"title,attr,omitempty"`
	Length string `xml:"length,attr,omitempty"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Author     atomAuthor     `xml:"author"`
	Content    atomContent    `xml:"content"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
}

type atomAuthor struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

func (s *feeds) atomFeed(w http.ResponseWriter, r *http.Request) {
	slug, title, posts, ok := s.posts(w, r)
	if !ok {
		return
	}
	page := s.wallURL(slug)
	updated := time.Unix(0, 0).UTC()
	var entries []atomEntry
	for _, p := range posts {
		at := p.CreatedAt.UTC()
		if at.IsZero() {
			at = time.Unix(0, 0).UTC()
		}
		updated = maxTime(updated, at)
		e := atomEntry{
			ID: page + "#" + p.ID, Title: headline(p.Text), Updated: at.Format(time.RFC3339), Published: at.Format(time.RFC3339),
			Author:  atomAuthor{Name: authorName(p.Author), URI: p.Author.URL},
			Content: atomContent{Type: "html", Body: p.HTML},
		}
		if p.URL != "" {
			e.Links = append(e.Links, atomLink{Rel: "alternate", Href: p.URL})
		}
		for _, m := range shownMedia(p, s.Config().Server.BaseURL) {
			e.Links = append(e.Links, atomLink{Rel: "enclosure", Href: m.URL, Type: mediaType(m), Title: m.Alt})
		}
		for _, t := range p.Tags {
			e.Categories = append(e.Categories, atomCategory{Term: t})
		}
		entries = append(entries, e)
	}
	doc := atom{ID: page, Title: title, Updated: updated.Format(time.RFC3339), Entries: entries,
		Links: []atomLink{{Rel: "self", Href: page + "/feed.atom", Type: "application/atom+xml"}, {Rel: "alternate", Href: page, Type: "text/html"}}}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(doc); err != nil {
		s.log.Error("atom feed", "wall", slug, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	cached(w, r, "application/atom+xml; charset=utf-8", buf.Bytes())
}

// cached answers body with an ETag of its bytes, or 304 when the client
// has it already.
func cached(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=30")
	h.Set("Access-Control-Allow-Origin", "*") // public, read-only, no credentials
	for _, t := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t = strings.TrimSpace(t); t == etag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", contentType)
	w.Write(body)
}

// shownMedia are the media a screen shows: not those a moderator hid; the
// pictures of Wallcast's own media store with the server's address.
func shownMedia(p wall.Post, base string) []wall.Media {
	var out []wall.Media
	for _, m := range p.Media {
		if m.Hidden || m.URL == "" {
			continue
		}
		if _, ok := media.NameOf(m.URL); ok {
			m.URL = strings.TrimRight(base, "/") + m.URL
		}
		out = append(out, m)
	}
	return out
}

// mediaType is a media item's MIME type, from its URL's extension, or a
// generic one of its kind.
func mediaType(m wall.Media) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(strings.SplitN(m.URL, "?", 2)[0]))); t != "" {
		return t
	}
	switch m.Type {
	case "video", "gifv":
		return "video/mp4"
	case "audio":
		return "audio/mpeg"
	}
	return "image/jpeg"
}

// authorName is how a feed names a post's author.
func authorName(a wall.Author) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Handle != "" {
		return a.Handle
	}
	return "unknown"
}

// headline is an entry's title: the start of its text, on one line.
func headline(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(t) <= 80 {
		return t
	}
	r := []rune(t)
	return string(r[:79]) + "…"
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
