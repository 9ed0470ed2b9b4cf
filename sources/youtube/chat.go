package youtube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// video is what videos?part=liveStreamingDetails,snippet says of one.
type video struct {
	ID      string `json:"id"`
	Snippet struct {
		ChannelID            string `json:"channelId"`
		Title                string `json:"title"`
		LiveBroadcastContent string `json:"liveBroadcastContent"` // live, upcoming, none
	} `json:"snippet"`
	LiveStreamingDetails struct {
		ActiveLiveChatID string `json:"activeLiveChatId"`
		ActualEndTime    string `json:"actualEndTime"`
	} `json:"liveStreamingDetails"`
}

// find returns the video and its active live chat ("" when none is live).
// A channel's live video is found among the newest of its uploads
// (playlistItems and videos: 2 quota units a look; search would be 100).
func (s *Source) find(ctx context.Context) (videoID, chatID string, err error) {
	ids := []string{s.cfg.VideoID}
	if s.cfg.ChannelID != "" {
		var pl struct {
			Items []struct {
				ContentDetails struct {
					VideoID string `json:"videoId"`
				} `json:"contentDetails"`
			} `json:"items"`
		}
		uploads := "UU" + strings.TrimPrefix(s.cfg.ChannelID, "UC")
		if err := s.get(ctx, "playlistItems", url.Values{"part": {"contentDetails"}, "playlistId": {uploads}, "maxResults": {"10"}}, &pl); err != nil {
			return "", "", err
		}
		ids = ids[:0]
		for _, it := range pl.Items {
			if id := it.ContentDetails.VideoID; id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return "", "", nil
		}
	}
	var vl struct {
		Items []video `json:"items"`
	}
	if err := s.get(ctx, "videos", url.Values{"part": {"liveStreamingDetails,snippet"}, "id": {strings.Join(ids, ",")}}, &vl); err != nil {
		return "", "", err
	}
	if s.cfg.VideoID != "" && len(vl.Items) == 0 {
		return "", "", upstream.Permanent(fmt.Errorf("youtube %s: no video %q: check video_id", s.cfg.Name, s.cfg.VideoID))
	}
	for _, v := range vl.Items {
		if chat := v.LiveStreamingDetails.ActiveLiveChatID; chat != "" && v.LiveStreamingDetails.ActualEndTime == "" {
			return v.ID, chat, nil
		}
	}
	return "", "", nil
}

// page is one answer of liveChat/messages.
type page struct {
	NextPageToken         string    `json:"nextPageToken"`
	PollingIntervalMillis int64     `json:"pollingIntervalMillis"`
	OfflineAt             string    `json:"offlineAt"`
	Items                 []message `json:"items"`
}

// message is a liveChatMessage resource.
type message struct {
	ID      string `json:"id"`
	Snippet struct {
		Type               string `json:"type"`
		PublishedAt        string `json:"publishedAt"`
		DisplayMessage     string `json:"displayMessage"`
		TextMessageDetails struct {
			MessageText string `json:"messageText"`
		} `json:"textMessageDetails"`
		SuperChatDetails struct {
			AmountDisplayString string `json:"amountDisplayString"`
			UserComment         string `json:"userComment"`
		} `json:"superChatDetails"`
		SuperStickerDetails struct {
			AmountDisplayString  string `json:"amountDisplayString"`
			SuperStickerMetadata struct {
				AltText string `json:"altText"`
			} `json:"superStickerMetadata"`
		} `json:"superStickerDetails"`
		MessageDeletedDetails struct {
			DeletedMessageID string `json:"deletedMessageId"`
		} `json:"messageDeletedDetails"`
		UserBannedDetails struct {
			BannedUserDetails struct {
				ChannelID string `json:"channelId"`
			} `json:"bannedUserDetails"`
			BanType string `json:"banType"`
		} `json:"userBannedDetails"`
	} `json:"snippet"`
	AuthorDetails struct {
		ChannelID       string `json:"channelId"`
		ChannelURL      string `json:"channelUrl"`
		DisplayName     string `json:"displayName"`
		ProfileImageURL string `json:"profileImageUrl"`
	} `json:"authorDetails"`
}

// follow polls the chat from cur until it ends (errEnded), ctx ends, or a
// poll fails.
func (s *Source) follow(ctx context.Context, cur *cursor, emit wall.Emit) error {
	upstream.SetState(ctx, wall.StatePolling, "live chat of "+cur.Video)
	for {
		q := url.Values{"liveChatId": {cur.Chat}, "part": {"snippet,authorDetails"}, "maxResults": {"2000"}}
		if cur.Page != "" {
			q.Set("pageToken", cur.Page)
		}
		var pg page
		err := s.get(ctx, "liveChat/messages", q, &pg)
		var re *reasonError
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case errors.As(err, &re) && (re.Reason == "liveChatEnded" || re.Reason == "liveChatNotFound" || re.Reason == "liveChatDisabled"):
			return errEnded
		case errors.As(err, &re) && re.Status == http.StatusBadRequest && cur.Page != "":
			// A page token too old to use: start from the chat's recent
			// messages (repeats are skipped).
			s.log.Warn("youtube: page token refused; reading the chat from its recent messages", "err", err)
			cur.Page = ""
			continue
		case err != nil:
			return err
		}
		upstream.Alive(ctx)
		for _, m := range pg.Items {
			if err := s.emitMessage(ctx, cur, m, emit); err != nil {
				return err
			}
		}
		if pg.NextPageToken != "" && pg.NextPageToken != cur.Page {
			cur.Page = pg.NextPageToken
			c, _ := json.Marshal(cur)
			if err := emit(ctx, wall.Item{Kind: wall.ItemCursor, Cursor: string(c)}); err != nil {
				return err
			}
		}
		if pg.OfflineAt != "" {
			return errEnded
		}
		wait := max(time.Duration(pg.PollingIntervalMillis)*time.Millisecond, s.cfg.MinInterval)
		if upstream.Sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// emitMessage maps one chat message: a post, a delete, or nothing.
func (s *Source) emitMessage(ctx context.Context, cur *cursor, m message, emit wall.Emit) error {
	sn := m.Snippet
	switch sn.Type {
	case "messageDeletedEvent":
		if id := sn.MessageDeletedDetails.DeletedMessageID; id != "" {
			return emit(ctx, wall.Item{Kind: wall.ItemDelete, IfKnown: true, Post: wall.Post{NativeID: cur.Chat + "/" + id}})
		}
		return nil
	case "userBannedEvent":
		if who := sn.UserBannedDetails.BannedUserDetails.ChannelID; who != "" {
			return emit(ctx, wall.Item{Kind: wall.ItemDelete, Sweep: true, Post: wall.Post{NativeID: cur.Chat + "/", Author: wall.Author{Handle: who}}})
		}
		return nil
	}
	p, ok := s.post(cur, m)
	if !ok || s.recent.Has(p.NativeID) {
		return nil
	}
	if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p}); err != nil {
		return err
	}
	s.recent.Add(p.NativeID)
	return nil
}

// post maps a text message, a Super Chat or a Super Sticker (the amount
// in bold before the words).
func (s *Source) post(cur *cursor, m message) (wall.Post, bool) {
	sn := m.Snippet
	var amount, text string
	switch sn.Type {
	case "textMessageEvent":
		text = sn.TextMessageDetails.MessageText
		if text == "" {
			text = sn.DisplayMessage
		}
	case "superChatEvent":
		amount, text = sn.SuperChatDetails.AmountDisplayString, sn.SuperChatDetails.UserComment
	case "superStickerEvent":
		amount, text = sn.SuperStickerDetails.AmountDisplayString, sn.SuperStickerDetails.SuperStickerMetadata.AltText
	default:
		return wall.Post{}, false // joins of members, polls, tombstones: not posts
	}
	if m.ID == "" || (text == "" && amount == "") {
		if m.ID == "" {
			s.log.Warn("youtube: chat message without id skipped", "type", sn.Type)
		}
		return wall.Post{}, false
	}
	a := m.AuthorDetails
	created, err := time.Parse(time.RFC3339Nano, sn.PublishedAt)
	if err != nil {
		created = time.Now()
	}
	body := html.EscapeString(text)
	plain := text
	if amount != "" {
		body = "<strong>" + html.EscapeString(amount) + "</strong> " + body
		plain = strings.TrimSpace(amount + " " + text)
	}
	name := strings.TrimSpace(a.DisplayName)
	if name == "" {
		name = a.ChannelID
	}
	return wall.Post{
		NativeID: cur.Chat + "/" + m.ID, Network: "youtube",
		URL:    "https://www.youtube.com/watch?v=" + url.QueryEscape(cur.Video),
		Author: wall.Author{Name: name, Handle: a.ChannelID, Avatar: a.ProfileImageURL, URL: a.ChannelURL},
		HTML:   "<p>" + strings.TrimSpace(body) + "</p>", Text: plain, CreatedAt: created.UTC(),
	}, true
}
