// Package templates holds the HTML pages and static files (JS, CSS) of
// Wallcast, embedded in the binary.
package templates

import "embed"

// FS holds the pages (*.html) and static/.
//
//go:embed *.html static
var FS embed.FS
