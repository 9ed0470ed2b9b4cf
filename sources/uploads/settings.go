package uploads

import (
	"errors"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of an uploads source.
type Settings struct {
	// Walls are the walls it posts to (walls may also name it in their
	// sources).
	Walls         []string        `yaml:"walls"`
	MaxPhotoBytes int64           `yaml:"max_photo_bytes"`
	MaxPixels     int             `yaml:"max_pixels"` // the longest side after resizing
	MaxText       int             `yaml:"max_text"`   // characters
	PerDevice     config.Rate     `yaml:"per_device"`
	PerAddress    config.Rate     `yaml:"per_address"`
	RoomCode      *bool           `yaml:"room_code"`
	RoomCodeEvery config.Duration `yaml:"room_code_every"`
	AskName       *bool           `yaml:"ask_name"`
	ConsentText   string          `yaml:"consent_text"`
}

// Feeds are the walls the source names itself (config.Feeder).
func (s *Settings) Feeds() []string { return s.Walls }

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.MaxPhotoBytes == 0 {
		s.MaxPhotoBytes = 15 << 20
	}
	if s.MaxPixels == 0 {
		s.MaxPixels = 1600
	}
	if s.MaxText == 0 {
		s.MaxText = 280
	}
	if s.PerDevice.N == 0 {
		s.PerDevice = config.Rate{N: 3, Per: 10 * time.Minute}
	}
	if s.PerAddress.N == 0 {
		// A venue's Wi-Fi puts hundreds of phones behind one address.
		s.PerAddress = config.Rate{N: 120, Per: 10 * time.Minute}
	}
	if s.RoomCode == nil {
		on := true
		s.RoomCode = &on
	}
	if s.RoomCodeEvery == 0 {
		s.RoomCodeEvery = config.Duration(10 * time.Minute)
	}
	if s.AskName == nil {
		on := true
		s.AskName = &on
	}
	if s.ConsentText == "" {
		s.ConsentText = "I agree that my photo, text and name are shown on the event's screens and its web pages."
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	if s.MaxPhotoBytes < 64<<10 || s.MaxPhotoBytes > 100<<20 {
		out = append(out, config.Problem{Key: "max_photo_bytes", Msg: "must be between 65536 and 104857600 bytes", Fix: "write max_photo_bytes: 15728640 (15 MB)"})
	}
	if s.MaxPixels < 64 || s.MaxPixels > 8192 {
		out = append(out, config.Problem{Key: "max_pixels", Msg: "must be between 64 and 8192", Fix: "write max_pixels: 1600"})
	}
	if s.MaxText < 1 || s.MaxText > 5000 {
		out = append(out, config.Problem{Key: "max_text", Msg: "must be between 1 and 5000 characters", Fix: "write max_text: 280"})
	}
	if d := s.RoomCodeEvery.D(); d < time.Minute || d > 24*time.Hour {
		out = append(out, config.Problem{Key: "room_code_every", Msg: "must be between 1m and 24h", Fix: "write room_code_every: 10m"})
	}
	if len([]rune(s.ConsentText)) > 500 {
		out = append(out, config.Problem{Key: "consent_text", Msg: "is longer than 500 characters", Fix: "say it in one or two sentences and link the privacy notice from the wall's page"})
	}
	return out
}

// Open builds an uploads source: the form at /walls/{slug}/post hands it
// what phones send.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	if env.Media == nil || len(env.Key) == 0 {
		return nil, errors.New("uploads " + src.Name + ": uploads need the server's media store and key")
	}
	return New(Config{Name: src.Name, Settings: *s, BaseURL: env.BaseURL}, env.Key, env.Media, env.Log), nil
}
