//go:build cgo

package storage

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mattn/go-sqlite3"
)

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("apply: %w", sqlite3.Error{Code: sqlite3.ErrFull}), "the disk is full"},
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, "the database is read-only"},
		{sqlite3.Error{Code: sqlite3.ErrIoErr}, "disk I/O error (a full or read-only disk?)"},
		{errors.New("/var/lib/wallcast/secret-path.db: boom"), "storage error"},
	} {
		if got := Problem(tc.err); got != tc.want {
			t.Errorf("Problem(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
