package upstream

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestWindow(t *testing.T) {
	w := NewWindow(3)
	for _, id := range []string{"10", "12", "9", "11"} {
		w.Add(Seen{ID: id, Rank: id})
	}
	b, _ := json.Marshal(w)
	if string(b) != `[["12","12",""],["11","11",""],["10","10",""]]` {
		t.Fatalf("window = %s (the newest three, newest first)", b)
	}
	var back Window
	if err := json.Unmarshal(b, &back); err != nil || back.Len() != 3 {
		t.Fatalf("unmarshal: %v, %d", err, back.Len())
	}
	for _, c := range []struct {
		name     string
		page     []Seen
		complete bool
		edited   string
		gone     string
	}{
		{"unchanged", []Seen{{"13", "13", ""}, {"12", "12", ""}, {"11", "11", ""}, {"10", "10", ""}}, false, "[]", "[]"},
		{"an edit", []Seen{{"12", "12", "t1"}, {"11", "11", ""}, {"10", "10", ""}}, false, "[{12 12 t1}]", "[]"},
		// 11 is missing between 12 and 10: deleted.
		{"a delete inside the span", []Seen{{"13", "13", ""}, {"12", "12", ""}, {"10", "10", ""}}, false, "[]", "[11]"},
		{"the page holds everything", []Seen{{"10", "10", ""}}, true, "[]", "[12]"},
	} {
		edited, gone := back.Compare(c.page, c.complete)
		if fmt.Sprint(edited) != c.edited && !(c.edited == "[]" && len(edited) == 0) || fmt.Sprint(gone) != c.gone && !(c.gone == "[]" && len(gone) == 0) {
			t.Errorf("%s: edited %v gone %v, want %s %s", c.name, edited, gone, c.edited, c.gone)
		}
	}
	// Out of sight is not gone: a full page of newer posts says nothing of 10.
	w = NewWindow(3)
	w.Add(Seen{ID: "10", Rank: "10"})
	if _, gone := w.Compare([]Seen{{"20", "20", ""}, {"19", "19", ""}}, false); len(gone) != 0 || w.Len() != 1 {
		t.Errorf("gone %v for a post older than the page", gone)
	}
}
