package web

import "testing"

// TestInert: a cell a spreadsheet would run as a formula gets a leading
// apostrophe, also behind spaces, zero-width characters and full-width
// forms; ordinary text is left alone.
func TestInert(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"},
		{"\u200b=cmd", "'\u200b=cmd"},
		{"\ufeff@SUM(A1)", "'\ufeff@SUM(A1)"},
		{"＝HYPERLINK(\"x\")", "'＝HYPERLINK(\"x\")"},
		{" \u00a0＋1", "' \u00a0＋1"},
		{"-2", "'-2"},
		{"\tx", "'\tx"},
		{"hello = world", "hello = world"},
		{"@ana", "'@ana"},
		{"", ""},
		{"   ", "   "},
	} {
		if got := inert(tc.in); got != tc.want {
			t.Errorf("inert(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
