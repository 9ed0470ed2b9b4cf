package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/wallcast/wallcast/sources/rss"
	"github.com/wallcast/wallcast/wall"
)

// inPost is a post pushed in Wallcast's own schema: the post of the SSE
// contract, where id is the sender's own id for it.
type inPost struct {
	ID             string       `json:"id"`
	URL            string       `json:"url"`
	Network        string       `json:"network"`
	Author         wall.Author  `json:"author"`
	HTML           string       `json:"html"`
	Text           string       `json:"text"`
	Media          []wall.Media `json:"media"`
	Tags           []string     `json:"tags"`
	Lang           string       `json:"lang"`
	Sensitive      bool         `json:"sensitive"`
	ContentWarning string       `json:"content_warning"`
	CreatedAt      *time.Time   `json:"created_at"`
}

// parseWallcast reads one post, a JSON array of posts, or
// {"posts": [...], "deleted": ["id", ...]}.
func parseWallcast(body []byte) ([]wall.Item, error) {
	var batch struct {
		Posts   []inPost `json:"posts"`
		Deleted []string `json:"deleted"`
	}
	trimmed := bytes.TrimSpace(body)
	var err error
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		err = json.Unmarshal(trimmed, &batch.Posts)
	case bytes.Contains(trimmed, []byte(`"posts"`)) || bytes.Contains(trimmed, []byte(`"deleted"`)):
		err = json.Unmarshal(trimmed, &batch)
	default:
		var one inPost
		err = json.Unmarshal(trimmed, &one)
		batch.Posts = []inPost{one}
	}
	if err != nil {
		return nil, fmt.Errorf("body is not a Wallcast post, list of posts or {\"posts\": [...]}: %v", err)
	}
	var items []wall.Item
	for i, p := range batch.Posts {
		if strings.TrimSpace(p.ID) == "" {
			return nil, fmt.Errorf("post %d has no id", i)
		}
		if strings.TrimSpace(p.HTML) == "" && strings.TrimSpace(p.Text) == "" {
			return nil, fmt.Errorf("post %q has neither html nor text", p.ID)
		}
		if p.Author.Name == "" {
			return nil, fmt.Errorf("post %q has no author.name", p.ID)
		}
		post := wall.Post{NativeID: p.ID, URL: p.URL, Network: p.Network, Author: p.Author, HTML: p.HTML, Text: p.Text,
			Media: p.Media, Tags: p.Tags, Lang: p.Lang, Sensitive: p.Sensitive, ContentWarning: p.ContentWarning}
		if post.Network == "" {
			post.Network = "web"
		}
		if p.CreatedAt != nil {
			post.CreatedAt = *p.CreatedAt
		}
		items = append(items, wall.Item{Kind: wall.ItemPost, Post: post})
	}
	for i, id := range batch.Deleted {
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("deleted[%d] is an empty id", i)
		}
		items = append(items, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: id}})
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no posts in the body")
	}
	return items, nil
}

// metaPayload is Meta's webhook notification (Instagram and Facebook pages).
type metaPayload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Time    int64  `json:"time"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// parseMeta maps Instagram comments and mentions-in-comments, and Facebook
// page feed posts and comments. Mentions in media captions carry only ids
// (their content needs the Graph API) and are skipped.
func parseMeta(body []byte) ([]wall.Item, error) {
	var p metaPayload
	if err := json.Unmarshal(body, &p); err != nil || (p.Object != "instagram" && p.Object != "page") {
		return nil, fmt.Errorf("body is not a Meta webhook notification (object instagram or page)")
	}
	var items []wall.Item
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			var v struct {
				ID          string `json:"id"`
				Text        string `json:"text"`
				Message     string `json:"message"`
				PostID      string `json:"post_id"`
				CommentID   string `json:"comment_id"`
				Verb        string `json:"verb"`
				Item        string `json:"item"`
				Link        string `json:"link"`
				Photo       string `json:"photo"`
				CreatedTime any    `json:"created_time"`
				From        struct {
					ID       string `json:"id"`
					Name     string `json:"name"`
					Username string `json:"username"`
				} `json:"from"`
			}
			if err := json.Unmarshal(c.Value, &v); err != nil {
				continue
			}
			post := wall.Post{CreatedAt: time.Unix(e.Time, 0).UTC()}
			switch {
			case p.Object == "instagram" && (c.Field == "comments" || c.Field == "live_comments") && v.ID != "" && v.Text != "":
				post.Network, post.NativeID, post.Text = "instagram", "ig-"+v.ID, v.Text
				post.Author = wall.Author{Name: v.From.Username, Handle: "@" + v.From.Username}
				if v.From.Username != "" {
					post.Author.URL = "https://www.instagram.com/" + url.PathEscape(v.From.Username) + "/"
				}
			case p.Object == "instagram" && c.Field == "mentions" && v.CommentID != "" && v.Text != "":
				post.Network, post.NativeID, post.Text = "instagram", "ig-"+v.CommentID, v.Text
				post.Author = wall.Author{Name: "Instagram"}
			case p.Object == "page" && c.Field == "feed" && v.Message != "":
				id := v.CommentID
				if id == "" {
					id = v.PostID
				}
				if id == "" {
					continue
				}
				if v.Verb == "remove" {
					items = append(items, wall.Item{Kind: wall.ItemDelete, Post: wall.Post{NativeID: "fb-" + id}})
					continue
				}
				if v.Verb != "add" && v.Verb != "edited" && v.Verb != "" {
					continue
				}
				post.Network, post.NativeID, post.Text = "facebook", "fb-"+id, v.Message
				post.Author = wall.Author{Name: v.From.Name}
				if v.PostID != "" {
					post.URL = "https://www.facebook.com/" + url.PathEscape(v.PostID)
				}
				if v.Photo != "" {
					post.Media = []wall.Media{{Type: "image", URL: v.Photo}}
				}
			default:
				continue
			}
			if post.Author.Name == "" {
				post.Author.Name = map[string]string{"instagram": "Instagram", "facebook": "Facebook"}[post.Network]
			}
			items = append(items, wall.Item{Kind: wall.ItemPost, Post: post})
		}
	}
	return items, nil
}

// parseFeed reads a WebSub content distribution: the feed itself, mapped
// as the rss source maps it (the same ids, so pushes and the polling
// fallback deduplicate).
func parseFeed(body []byte) ([]wall.Item, error) {
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("body is not a feed: %v", err)
	}
	var items []wall.Item
	for _, p := range rss.Posts(f) {
		items = append(items, wall.Item{Kind: wall.ItemPost, Post: p})
	}
	return items, nil
}

// public reports whether a callback URL can be reached by a hub on the
// internet: not loopback, not a private address, not localhost.
func public(callback string) bool {
	u, err := url.Parse(callback)
	if err != nil || u.Hostname() == "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
	}
	return true
}

func urlValues(m map[string]string) string {
	v := url.Values{}
	for k, x := range m {
		v.Set(k, x)
	}
	return v.Encode()
}
