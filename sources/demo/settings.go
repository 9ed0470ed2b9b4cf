package demo

import (
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a demo source.
type Settings struct {
	Interval  config.Duration `yaml:"interval"`
	MediaBase string          `yaml:"media_base"` // where the sample media are served (default: base_url)
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Interval == 0 {
		s.Interval = config.Duration(4 * time.Second)
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	return config.CheckInterval(s.Interval, 100*time.Millisecond)
}

// Open builds a demo source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	base := s.MediaBase
	if base == "" {
		base = env.BaseURL
	}
	return New(s.Interval.D(), base), nil
}
