package mastodon

import (
	"html"
	"strings"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// status is the part of Mastodon's Status entity a wall uses.
type status struct {
	ID               string                  `json:"id"`
	URI              string                  `json:"uri"`
	URL              string                  `json:"url"`
	CreatedAt        time.Time               `json:"created_at"`
	EditedAt         string                  `json:"edited_at"` // null until edited
	Content          string                  `json:"content"`
	SpoilerText      string                  `json:"spoiler_text"`
	Sensitive        bool                    `json:"sensitive"`
	Language         string                  `json:"language"`
	InReplyToID      *string                 `json:"in_reply_to_id"`
	Account          account                 `json:"account"`
	MediaAttachments []attachment            `json:"media_attachments"`
	Tags             []struct{ Name string } `json:"tags"`
	Emojis           []emoji                 `json:"emojis"`
	Reblog           *status                 `json:"reblog"`
}

type account struct {
	Username     string    `json:"username"`
	Acct         string    `json:"acct"`
	DisplayName  string    `json:"display_name"`
	URL          string    `json:"url"`
	Avatar       string    `json:"avatar"`
	AvatarStatic string    `json:"avatar_static"`
	Bot          bool      `json:"bot"`
	CreatedAt    time.Time `json:"created_at"`
	Emojis       []emoji   `json:"emojis"`
}

type attachment struct {
	Type        string  `json:"type"` // image, gifv, video, audio, unknown
	URL         string  `json:"url"`
	PreviewURL  string  `json:"preview_url"`
	RemoteURL   *string `json:"remote_url"`
	Description *string `json:"description"`
}

type emoji struct {
	Shortcode string `json:"shortcode"`
	URL       string `json:"url"`
	StaticURL string `json:"static_url"`
}

// post maps a status; ok is false for what this source is set to skip.
func (s *Source) post(st status) (wall.Post, bool) {
	repost := false
	if st.Reblog != nil {
		if !s.cfg.IncludeBoosts {
			return wall.Post{}, false
		}
		st, repost = *st.Reblog, true
	}
	reply := st.InReplyToID != nil && *st.InReplyToID != ""
	if reply && !s.cfg.IncludeReplies {
		return wall.Post{}, false
	}
	p := wall.Post{
		NativeID:       st.ID,
		Network:        "mastodon",
		URL:            st.URL,
		HTML:           withEmoji(st.Content, st.Emojis),
		ContentWarning: st.SpoilerText,
		Sensitive:      st.Sensitive,
		Lang:           st.Language,
		Reply:          reply,
		Repost:         repost,
		CreatedAt:      st.CreatedAt,
	}
	if p.URL == "" {
		p.URL = st.URI
	}
	a := st.Account
	p.Author = wall.Author{Name: a.DisplayName, Handle: "@" + a.Acct, Avatar: a.AvatarStatic, URL: a.URL, Joined: a.CreatedAt}
	if p.Author.Name == "" {
		p.Author.Name = a.Username
	}
	if !strings.Contains(a.Acct, "@") {
		p.Author.Handle += "@" + s.host // a local account
	}
	if p.Author.Avatar == "" {
		p.Author.Avatar = a.Avatar
	}
	for _, t := range st.Tags {
		p.Tags = append(p.Tags, t.Name)
	}
	for _, m := range st.MediaAttachments {
		typ := m.Type
		if typ != "image" && typ != "video" && typ != "gifv" && typ != "audio" {
			continue
		}
		md := wall.Media{Type: typ, URL: m.URL, Preview: m.PreviewURL}
		if m.Description != nil {
			md.Alt = *m.Description
		}
		p.Media = append(p.Media, md)
	}
	return p, true
}

// withEmoji turns :shortcode: into the server's custom emoji images.
func withEmoji(content string, emojis []emoji) string {
	for _, e := range emojis {
		src := e.StaticURL
		if src == "" {
			src = e.URL
		}
		code := html.EscapeString(e.Shortcode)
		img := `<img class="emoji" src="` + html.EscapeString(src) + `" alt=":` + code + `:" title=":` + code + `:">`
		content = strings.ReplaceAll(content, ":"+e.Shortcode+":", img)
	}
	return content
}
