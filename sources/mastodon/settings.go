package mastodon

import (
	"fmt"
	"regexp"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a mastodon source.
type Settings struct {
	Instance       string          `yaml:"instance"`
	AccessToken    string          `yaml:"access_token" config:"secret"`
	Mode           string          `yaml:"mode"` // stream (falls back to polling) or poll
	PollInterval   config.Duration `yaml:"poll_interval"`
	LocalOnly      bool            `yaml:"local_only"`
	IncludeReplies bool            `yaml:"include_replies"`
	IncludeBoosts  bool            `yaml:"include_boosts"`
	UserAgent      string          `yaml:"user_agent"`
	// Lists (ids of the token user's lists) and Accounts ("@user@server")
	// make the source follow people instead of hashtags.
	Lists    []string `yaml:"lists"`
	Accounts []string `yaml:"accounts"`
}

// FollowsPeople says the source follows lists or accounts.
func (s *Settings) FollowsPeople() bool { return len(s.Lists)+len(s.Accounts) > 0 }

var (
	listID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	acct   = regexp.MustCompile(`^@?[A-Za-z0-9_.-]{1,64}(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?$`)
)

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Mode == "" {
		s.Mode = "stream"
	}
	if s.PollInterval == 0 {
		s.PollInterval = config.Duration(30 * time.Second)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	if !config.HTTPURL(s.Instance) {
		out = append(out, config.Problem{Key: "instance", Msg: "a mastodon source needs the base URL of the server", Fix: `write instance: "https://mastodon.social"`})
	}
	if s.Mode != "stream" && s.Mode != "poll" {
		out = append(out, config.Problem{Key: "mode", Msg: fmt.Sprintf("%q is not a mode", s.Mode), Fix: "use stream (with automatic fallback to polling) or poll"})
	}
	for i, id := range s.Lists {
		if !listID.MatchString(id) {
			out = append(out, config.Problem{Key: fmt.Sprintf("lists[%d]", i), Msg: fmt.Sprintf("%q is not a list id", id), Fix: "write the number at the end of the list's address (…/lists/42)"})
		}
	}
	if len(s.Lists) > 0 && s.AccessToken == "" {
		out = append(out, config.Problem{Key: "lists", Msg: "a list is private to its owner: following it needs their access token", Fix: `add access_token: "${MASTODON_TOKEN}" of the list's owner (scope read:lists and read:statuses)`})
	}
	for i, a := range s.Accounts {
		if !acct.MatchString(a) {
			out = append(out, config.Problem{Key: fmt.Sprintf("accounts[%d]", i), Msg: fmt.Sprintf("%q is not an account", a), Fix: `write "@user@server", as the account's profile shows it`})
		}
	}
	if s.PollInterval.D() < time.Second {
		out = append(out, config.Problem{Key: "poll_interval", Msg: "must be at least 1s", Fix: `write a duration such as "30s"`})
	}
	return out
}

// Open builds a mastodon source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{
		Name: src.Name, Instance: s.Instance, AccessToken: s.AccessToken, Stream: s.Mode != "poll",
		PollInterval: s.PollInterval.D(), LocalOnly: s.LocalOnly, IncludeReplies: s.IncludeReplies,
		IncludeBoosts: s.IncludeBoosts, UserAgent: s.UserAgent, Lists: s.Lists, Accounts: s.Accounts,
	}, env.Client, env.Log), nil
}
