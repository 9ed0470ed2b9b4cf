package youtube

import (
	"regexp"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a youtube source.
type Settings struct {
	VideoID      string          `yaml:"video_id"`
	ChannelID    string          `yaml:"channel_id"`
	APIKey       string          `yaml:"api_key" config:"secret"`
	APIBase      string          `yaml:"api_base"`
	PollInterval config.Duration `yaml:"poll_interval"`
	LookEvery    config.Duration `yaml:"look_every"`
	UserAgent    string          `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.APIBase == "" {
		s.APIBase = DefaultAPIBase
	}
	if s.PollInterval == 0 {
		s.PollInterval = config.Duration(6 * time.Second)
	}
	if s.LookEvery == 0 {
		s.LookEvery = config.Duration(time.Minute)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

var (
	videoID   = regexp.MustCompile(`^[A-Za-z0-9_-]{11}$`)
	channelID = regexp.MustCompile(`^UC[A-Za-z0-9_-]{22}$`)
)

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	switch {
	case (s.VideoID == "") == (s.ChannelID == ""):
		out = append(out, config.Problem{Msg: "a youtube source follows one video_id or one channel_id", Fix: `write video_id: "dQw4w9WgXcQ" (the v= of the broadcast's URL) or channel_id: "UC…" (its live broadcasts, one after the other)`})
	case s.VideoID != "" && !videoID.MatchString(s.VideoID):
		out = append(out, config.Problem{Key: "video_id", Msg: "not a YouTube video id", Fix: "write the 11 characters after v= in the broadcast's URL"})
	case s.ChannelID != "" && !channelID.MatchString(s.ChannelID):
		out = append(out, config.Problem{Key: "channel_id", Msg: "not a YouTube channel id", Fix: "write the channel's id, UC and 22 characters (Settings → Advanced settings on YouTube), not its @handle"})
	}
	if s.APIKey == "" {
		out = append(out, config.Problem{Key: "api_key", Msg: "a youtube source needs an API key", Fix: `write api_key: ${YOUTUBE_API_KEY}, a Google Cloud key with the YouTube Data API v3 enabled`})
	}
	if !config.HTTPURL(s.APIBase) {
		out = append(out, config.Problem{Key: "api_base", Msg: "not an http(s) URL", Fix: "leave it out for " + DefaultAPIBase})
	}
	if s.PollInterval.D() < time.Second {
		out = append(out, config.Problem{Key: "poll_interval", Msg: "must be at least 1s", Fix: `write "6s" (3,000 quota units an hour) or more`})
	}
	if s.LookEvery.D() < 10*time.Second {
		out = append(out, config.Problem{Key: "look_every", Msg: "must be at least 10s", Fix: `write "1m"`})
	}
	return out
}

// Open builds a youtube source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{
		Name: src.Name, VideoID: s.VideoID, ChannelID: s.ChannelID, APIKey: s.APIKey, APIBase: s.APIBase,
		UserAgent: s.UserAgent, MinInterval: s.PollInterval.D(), LookEvery: s.LookEvery.D(),
	}, env.Client, env.Log), nil
}
