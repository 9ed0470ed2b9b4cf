//go:build !cgo

package storage

// Problem says in a few words why a write failed. Without cgo there is no
// SQLite to ask.
func Problem(err error) string { return "storage error" }
