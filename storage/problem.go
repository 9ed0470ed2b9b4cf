//go:build cgo

package storage

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// Problem says in a few words, fit for /healthz, why a write failed: what
// an operator must fix (disk space, permissions) rather than SQLite's
// message, which may name files.
func Problem(err error) string {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return "storage error"
	}
	switch se.Code {
	case sqlite3.ErrFull:
		return "the disk is full"
	case sqlite3.ErrReadonly:
		return "the database is read-only"
	case sqlite3.ErrIoErr:
		return "disk I/O error (a full or read-only disk?)"
	case sqlite3.ErrCantOpen, sqlite3.ErrPerm:
		return "the database file cannot be opened for writing"
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return "the database is locked by another process"
	case sqlite3.ErrCorrupt:
		return "the database file is corrupt"
	}
	return "storage error"
}
