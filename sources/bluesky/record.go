package bluesky

import (
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wallcast/wallcast/wall"
)

// record is an app.bsky.feed.post record.
type record struct {
	Type      string          `json:"$type"`
	Text      string          `json:"text"`
	CreatedAt string          `json:"createdAt"`
	Langs     []string        `json:"langs"`
	Tags      []string        `json:"tags"`
	Facets    []facet         `json:"facets"`
	Reply     json.RawMessage `json:"reply"`
	Embed     *embed          `json:"embed"`
	Labels    *struct {
		Values []struct {
			Val string `json:"val"`
		} `json:"values"`
	} `json:"labels"`
}

type facet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []struct {
		Type string `json:"$type"`
		Tag  string `json:"tag"`
		URI  string `json:"uri"`
		DID  string `json:"did"`
	} `json:"features"`
}

type blob struct {
	Ref struct {
		Link string `json:"$link"`
	} `json:"ref"`
	MimeType string `json:"mimeType"`
}

type embed struct {
	Type   string `json:"$type"`
	Images []struct {
		Alt   string `json:"alt"`
		Image blob   `json:"image"`
	} `json:"images"`
	Video    *blob  `json:"video"`
	Alt      string `json:"alt"`
	External *struct {
		URI   string `json:"uri"`
		Title string `json:"title"`
		Thumb *blob  `json:"thumb"`
	} `json:"external"`
	Media *embed `json:"media"` // recordWithMedia
}

const (
	tagFeature     = "app.bsky.richtext.facet#tag"
	linkFeature    = "app.bsky.richtext.facet#link"
	mentionFeature = "app.bsky.richtext.facet#mention"
)

// hashtags returns the record's tags: from tag facets and the tags field.
func (r *record) hashtags() []string {
	var out []string
	for _, f := range r.Facets {
		for _, ft := range f.Features {
			if ft.Type == tagFeature && ft.Tag != "" {
				out = append(out, ft.Tag)
			}
		}
	}
	return append(out, r.Tags...)
}

// post maps a record of repository did with record key rkey.
func (s *Source) post(did, rkey string, r *record) wall.Post {
	p := wall.Post{
		NativeID: did + ":" + rkey,
		Network:  "bluesky",
		URL:      "https://bsky.app/profile/" + did + "/post/" + rkey,
		HTML:     richText(r.Text, r.Facets),
		Tags:     r.hashtags(),
		Reply:    len(r.Reply) > 0 && string(r.Reply) != "null",
		Author:   wall.Author{Name: did, Handle: did, URL: "https://bsky.app/profile/" + did},
	}
	if len(r.Langs) > 0 {
		p.Lang = r.Langs[0]
	}
	if t, err := time.Parse(time.RFC3339Nano, r.CreatedAt); err == nil {
		p.CreatedAt = t
	}
	if r.Labels != nil {
		for _, l := range r.Labels.Values {
			switch l.Val {
			case "porn", "sexual", "nudity", "graphic-media", "gore":
				p.Sensitive = true
			}
		}
	}
	p.Media = s.media(did, r.Embed)
	return p
}

func (s *Source) media(did string, e *embed) []wall.Media {
	if e == nil {
		return nil
	}
	cdn := func(kind, cid string) string {
		return s.cfg.CDN + "/img/" + kind + "/plain/" + url.PathEscape(did) + "/" + url.PathEscape(cid) + "@jpeg"
	}
	var out []wall.Media
	switch {
	case len(e.Images) > 0:
		for _, im := range e.Images {
			if cid := im.Image.Ref.Link; cid != "" {
				out = append(out, wall.Media{Type: "image", URL: cdn("feed_fullsize", cid), Preview: cdn("feed_thumbnail", cid), Alt: im.Alt})
			}
		}
	case e.Video != nil && e.Video.Ref.Link != "":
		// Bluesky serves its videos as HLS only: screens whose browser
		// plays HLS play it, the others keep the poster frame.
		base := s.cfg.Video + "/watch/" + url.PathEscape(did) + "/" + url.PathEscape(e.Video.Ref.Link)
		out = append(out, wall.Media{Type: "video", URL: base + "/playlist.m3u8", Preview: base + "/thumbnail.jpg", Alt: e.Alt})
	case e.External != nil && e.External.Thumb != nil && e.External.Thumb.Ref.Link != "":
		out = append(out, wall.Media{Type: "image", URL: cdn("feed_thumbnail", e.External.Thumb.Ref.Link), Alt: e.External.Title})
	case e.Media != nil:
		return s.media(did, e.Media)
	}
	return out
}

// richText renders post text as HTML, with facets as links. Facet offsets
// are UTF-8 byte offsets into the text; a facet that is out of range,
// overlaps another or splits a character is ignored.
func richText(text string, facets []facet) string {
	fs := append([]facet(nil), facets...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Index.ByteStart < fs[j].Index.ByteStart })
	var b strings.Builder
	b.WriteString("<p>")
	pos := 0
	for _, f := range fs {
		start, end := f.Index.ByteStart, f.Index.ByteEnd
		if start < pos || end <= start || end > len(text) || !boundary(text, start) || !boundary(text, end) {
			continue
		}
		href := ""
		for _, ft := range f.Features {
			switch ft.Type {
			case linkFeature:
				href = ft.URI
			case tagFeature:
				href = "https://bsky.app/hashtag/" + url.PathEscape(ft.Tag)
			case mentionFeature:
				href = "https://bsky.app/profile/" + ft.DID
			}
		}
		if href == "" {
			continue
		}
		b.WriteString(plain(text[pos:start]))
		b.WriteString(`<a href="` + html.EscapeString(href) + `">` + plain(text[start:end]) + `</a>`)
		pos = end
	}
	b.WriteString(plain(text[pos:]))
	b.WriteString("</p>")
	return b.String()
}

func boundary(s string, i int) bool { return i == len(s) || utf8.RuneStart(s[i]) }

func plain(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}
