package web

import (
	"slices"
	"testing"

	"github.com/wallcast/wallcast/config"
)

// TestLocalesAndStrings: every language the config accepts has the
// display's words, each the same set of words as English, and no words
// stand for a language the config refuses.
func TestLocalesAndStrings(t *testing.T) {
	for _, l := range config.Locales {
		if _, ok := uiStrings[l]; !ok {
			t.Errorf("config.Locales has %q, the display has no words for it", l)
		}
	}
	for l, words := range uiStrings {
		if !slices.Contains(config.Locales, l) {
			t.Errorf("the display speaks %q, config.Locales does not list it", l)
		}
		for k := range uiStrings["en"] {
			if words[k] == "" {
				t.Errorf("%s has no %q", l, k)
			}
		}
		for k := range words {
			if _, ok := uiStrings["en"][k]; !ok {
				t.Errorf("%s has %q, English does not", l, k)
			}
		}
	}
}
