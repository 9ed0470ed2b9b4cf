package reddit

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a reddit source.
type Settings struct {
	ClientID     string          `yaml:"client_id"`
	ClientSecret string          `yaml:"client_secret" config:"secret"`
	UserAgent    string          `yaml:"user_agent"`
	Subreddits   []string        `yaml:"subreddits"`
	Query        string          `yaml:"query"`
	TokenURL     string          `yaml:"token_url"`
	APIBase      string          `yaml:"api_base"`
	Interval     config.Duration `yaml:"interval"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.TokenURL == "" {
		s.TokenURL = "https://www.reddit.com/api/v1/access_token"
	}
	if s.APIBase == "" {
		s.APIBase = "https://oauth.reddit.com"
	}
	if s.Interval == 0 {
		s.Interval = config.Duration(time.Minute)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

var subredditName = regexp.MustCompile(`^[A-Za-z0-9_]{2,21}$`)

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	out := config.CheckInterval(s.Interval, time.Second)
	if s.ClientID == "" || s.ClientSecret == "" {
		out = append(out, config.Problem{Msg: "a reddit source needs client_id and client_secret", Fix: `create an app at https://www.reddit.com/prefs/apps and write client_id: "${REDDIT_CLIENT_ID}", client_secret: "${REDDIT_CLIENT_SECRET}"`})
	}
	if len(s.Subreddits) == 0 {
		out = append(out, config.Problem{Msg: "a reddit source needs subreddits", Fix: "add subreddits: [devconf]"})
	}
	for j, sr := range s.Subreddits {
		if !subredditName.MatchString(strings.TrimPrefix(sr, "r/")) {
			out = append(out, config.Problem{Key: fmt.Sprintf("subreddits[%d]", j), Msg: fmt.Sprintf("%q is not a subreddit name", sr), Fix: "write the name without r/, such as devconf"})
		}
	}
	if s.UserAgent == "" || s.UserAgent == config.DefaultUserAgent {
		out = append(out, config.Problem{Msg: "Reddit needs a descriptive user_agent", Fix: `write user_agent: "server:wallcast-devconf:1.0 (by /u/yourname)"`})
	}
	return out
}

// Open builds a reddit source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{Name: src.Name, ClientID: s.ClientID, ClientSecret: s.ClientSecret, UserAgent: s.UserAgent,
		Subreddits: s.Subreddits, Query: s.Query, TokenURL: s.TokenURL, APIBase: s.APIBase, Interval: s.Interval.D()}, env.Client, env.Log), nil
}
