// Package youtube is the source for a YouTube live chat. It finds the
// broadcast's chat (from a video, or the live video of a channel, followed
// from one broadcast to the next), then polls liveChat/messages with its
// page token, never sooner than the API's pollingIntervalMillis. Text
// messages, Super Chats and Super Stickers become posts; a deleted
// message and a banned user's messages leave the wall. The page token is
// the cursor, so a restart goes on where it stopped.
package youtube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// DefaultAPIBase is Google's API host.
const DefaultAPIBase = "https://www.googleapis.com"

// Config is a youtube source's settings.
type Config struct {
	Name      string
	VideoID   string // the broadcast to follow, or
	ChannelID string // the channel whose live broadcast to follow
	APIKey    string
	APIBase   string
	UserAgent string
	// MinInterval is the least time between two polls of the chat, even
	// when the API asks for less.
	MinInterval time.Duration
	// LookEvery is how often the source looks for a broadcast while there
	// is none live.
	LookEvery time.Duration
}

// Source follows one live chat at a time.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	recent *upstream.Recent
	now    func() time.Time
}

// New returns a youtube source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 6 * time.Second
	}
	if cfg.LookEvery <= 0 {
		cfg.LookEvery = time.Minute
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), recent: upstream.NewRecent(8192), now: time.Now}
}

// cursor is where the source stands: the chat and the next page of it.
type cursor struct {
	Chat  string `json:"chat"`
	Video string `json:"video"`
	Page  string `json:"page,omitempty"`
}

// apiError is Google's error body.
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"errors"`
	} `json:"error"`
}

// reasonError is an API refusal with its reason (quotaExceeded,
// liveChatEnded, liveChatNotFound, ...).
type reasonError struct {
	Status int
	Reason string
	Msg    string
}

func (e *reasonError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Reason, e.Msg)
}

var errEnded = errors.New("the broadcast's chat has ended")

// Run finds the live chat and polls it until ctx ends or a poll fails.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	var cur cursor
	if sub.Cursor != "" {
		if err := json.Unmarshal([]byte(sub.Cursor), &cur); err != nil {
			s.log.Warn("youtube: ignoring unreadable cursor", "err", err)
		}
	}
	for {
		video, chat, err := s.find(ctx)
		if err != nil {
			return s.stated(ctx, err)
		}
		if chat == "" {
			what := "no live broadcast on the channel"
			if s.cfg.VideoID != "" {
				what = "the video has no live chat now (not started, or ended)"
			}
			upstream.SetState(ctx, wall.StatePolling, what+"; looking again every "+s.cfg.LookEvery.String())
			if upstream.Sleep(ctx, s.cfg.LookEvery) != nil {
				return nil
			}
			continue
		}
		if cur.Chat != chat {
			cur = cursor{Chat: chat, Video: video}
		}
		err = s.follow(ctx, &cur, emit)
		if errors.Is(err, errEnded) {
			s.log.Info("youtube: the broadcast ended; looking for the next", "video", cur.Video)
			cur = cursor{}
			if upstream.Sleep(ctx, s.cfg.LookEvery) != nil {
				return nil
			}
			continue
		}
		if err != nil {
			return s.stated(ctx, err)
		}
		return nil
	}
}

// stated turns the API's refusals into what the supervisor should do.
func (s *Source) stated(ctx context.Context, err error) error {
	var re *reasonError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Reason {
	case "quotaExceeded", "dailyLimitExceeded":
		d := untilQuotaReset(s.now())
		upstream.SetState(ctx, wall.StateBackoff, "YouTube API quota spent: waiting for its reset at midnight Pacific time")
		return upstream.RetryExactly(fmt.Errorf("youtube %s: the API quota is spent: %w", s.cfg.Name, err), d)
	case "keyInvalid", "accessNotConfigured", "forbidden", "ipRefererBlocked":
		if re.Status == http.StatusBadRequest || re.Status == http.StatusForbidden {
			return upstream.Permanent(fmt.Errorf("youtube %s: %w: check api_key (a key with the YouTube Data API v3 enabled)", s.cfg.Name, err))
		}
	case "rateLimitExceeded", "userRateLimitExceeded":
		return upstream.RetryAfter(fmt.Errorf("youtube %s: %w", s.cfg.Name, err), 30*time.Second)
	}
	return fmt.Errorf("youtube %s: %w", s.cfg.Name, err)
}

// untilQuotaReset is the wait until the next midnight in California, when
// YouTube's daily quota starts again.
func untilQuotaReset(now time.Time) time.Duration {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		loc = time.FixedZone("PST", -8*3600)
	}
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 5, 0, loc)
	return next.Sub(now)
}

// get calls the API and decodes its answer into out.
func (s *Source) get(ctx context.Context, path string, q url.Values, out any) error {
	q.Set("key", s.cfg.APIKey)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.cfg.APIBase+"/youtube/v3/"+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	defer upstream.Arm(ctx)()
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err) // the supervisor strips the key from what it logs
	}
	defer resp.Body.Close()
	body, err := upstream.ReadBody(upstream.AliveReader(ctx, resp.Body))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ae apiError
		if json.Unmarshal(body, &ae) == nil && ae.Error.Code != 0 {
			re := &reasonError{Status: resp.StatusCode, Msg: ae.Error.Message}
			if len(ae.Error.Errors) > 0 {
				re.Reason = ae.Error.Errors[0].Reason
			}
			return fmt.Errorf("%s: %w", path, re)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return fmt.Errorf("%s: %w", path, upstream.CheckResponse(resp))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: not the API's JSON: %w", path, err)
	}
	return nil
}
