package x

import (
	"html"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// message is one line of the filtered stream.
type message struct {
	Data          *tweet   `json:"data"`
	Includes      includes `json:"includes"`
	MatchingRules []struct {
		ID  string `json:"id"`
		Tag string `json:"tag"`
	} `json:"matching_rules"`
	Errors []struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Type   string `json:"type"`
	} `json:"errors"`
}

type tweet struct {
	ID                string    `json:"id"`
	Text              string    `json:"text"`
	AuthorID          string    `json:"author_id"`
	CreatedAt         time.Time `json:"created_at"`
	Lang              string    `json:"lang"`
	PossiblySensitive bool      `json:"possibly_sensitive"`
	ReferencedTweets  []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
	Attachments struct {
		MediaKeys []string `json:"media_keys"`
	} `json:"attachments"`
	Entities struct {
		URLs []struct {
			Start       int    `json:"start"`
			End         int    `json:"end"`
			URL         string `json:"url"`
			ExpandedURL string `json:"expanded_url"`
			DisplayURL  string `json:"display_url"`
			MediaKey    string `json:"media_key"`
		} `json:"urls"`
		Hashtags []struct {
			Start int    `json:"start"`
			End   int    `json:"end"`
			Tag   string `json:"tag"`
		} `json:"hashtags"`
		Mentions []struct {
			Start    int    `json:"start"`
			End      int    `json:"end"`
			Username string `json:"username"`
		} `json:"mentions"`
	} `json:"entities"`
}

type includes struct {
	Users []struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		Username        string `json:"username"`
		ProfileImageURL string `json:"profile_image_url"`
	} `json:"users"`
	Media []struct {
		MediaKey        string `json:"media_key"`
		Type            string `json:"type"` // photo, video, animated_gif
		URL             string `json:"url"`
		PreviewImageURL string `json:"preview_image_url"`
		AltText         string `json:"alt_text"`
		// Variants are a video's files: MP4s at several bit rates and an
		// HLS playlist.
		Variants []struct {
			BitRate     int    `json:"bit_rate"`
			ContentType string `json:"content_type"`
			URL         string `json:"url"`
		} `json:"variants"`
	} `json:"media"`
}

// span is an entity to render at rune offsets [start, end).
type span struct {
	start, end int
	html       string // "" drops the text (the t.co link of attached media)
}

// post maps a tweet and what the response included about it.
func post(t tweet, inc includes) wall.Post {
	p := wall.Post{NativeID: t.ID, Network: "x", CreatedAt: t.CreatedAt, Lang: t.Lang, Sensitive: t.PossiblySensitive}
	if p.Lang == "und" || p.Lang == "zxx" {
		p.Lang = ""
	}
	for _, r := range t.ReferencedTweets {
		switch r.Type {
		case "replied_to":
			p.Reply = true
		case "retweeted":
			p.Repost = true
		}
	}
	username := ""
	for _, u := range inc.Users {
		if u.ID == t.AuthorID {
			username = u.Username
			// The default image is 48 px; the 400 px one reads across a hall.
			p.Author = wall.Author{Name: u.Name, Handle: "@" + u.Username, URL: "https://x.com/" + u.Username,
				Avatar: strings.Replace(u.ProfileImageURL, "_normal.", "_400x400.", 1)}
		}
	}
	if username != "" {
		p.URL = "https://x.com/" + username + "/status/" + t.ID
	} else {
		p.URL = "https://x.com/i/web/status/" + t.ID
		p.Author.Name = "X user " + t.AuthorID
	}
	for _, k := range t.Attachments.MediaKeys {
		for _, m := range inc.Media {
			if m.MediaKey != k {
				continue
			}
			switch m.Type {
			case "photo":
				p.Media = append(p.Media, wall.Media{Type: "image", URL: m.URL, Alt: m.AltText})
			case "video", "animated_gif":
				// The MP4 of the highest bit rate plays on every screen
				// (HLS does not in every browser); without one, the
				// preview frame.
				best, rate := "", -1
				for _, v := range m.Variants {
					if v.ContentType == "video/mp4" && v.BitRate > rate {
						best, rate = v.URL, v.BitRate
					}
				}
				typ := map[string]string{"video": "video", "animated_gif": "gifv"}[m.Type]
				if best == "" {
					typ, best = "image", m.PreviewImageURL
				}
				p.Media = append(p.Media, wall.Media{Type: typ, URL: best, Preview: m.PreviewImageURL, Alt: m.AltText})
			}
		}
	}
	var spans []span
	for _, u := range t.Entities.URLs {
		if u.MediaKey != "" || strings.Contains(u.ExpandedURL, "/photo/") || strings.Contains(u.ExpandedURL, "/video/") {
			spans = append(spans, span{u.Start, u.End, ""})
			continue
		}
		href := u.ExpandedURL
		if href == "" {
			href = u.URL
		}
		label := u.DisplayURL
		if label == "" {
			label = href
		}
		spans = append(spans, span{u.Start, u.End, `<a href="` + html.EscapeString(href) + `">` + html.EscapeString(label) + `</a>`})
	}
	for _, h := range t.Entities.Hashtags {
		spans = append(spans, span{h.Start, h.End, `<a href="https://x.com/hashtag/` + url.PathEscape(h.Tag) + `">#` + html.EscapeString(h.Tag) + `</a>`})
		p.Tags = append(p.Tags, h.Tag)
	}
	for _, m := range t.Entities.Mentions {
		spans = append(spans, span{m.Start, m.End, `<a href="https://x.com/` + url.PathEscape(m.Username) + `">@` + html.EscapeString(m.Username) + `</a>`})
	}
	p.HTML = render(t.Text, spans)
	return p
}

// render turns tweet text into HTML with its entities linked. Entity
// offsets count Unicode code points; overlapping or out-of-range entities
// are skipped. The API sends &amp;, &lt; and &gt; escaped in text.
func render(text string, spans []span) string {
	runes := []rune(text)
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	b.WriteString("<p>")
	pos := 0
	plain := func(rs []rune) {
		s := html.EscapeString(html.UnescapeString(string(rs)))
		b.WriteString(strings.ReplaceAll(s, "\n", "<br>"))
	}
	for _, sp := range spans {
		if sp.start < pos || sp.end > len(runes) || sp.end <= sp.start {
			continue
		}
		plain(runes[pos:sp.start])
		b.WriteString(sp.html)
		pos = sp.end
	}
	plain(runes[pos:])
	b.WriteString("</p>")
	return strings.Replace(b.String(), " </p>", "</p>", 1)
}
