package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// CreateSession stores a session under the hash of its token.
func (db *DB) CreateSession(ctx context.Context, tokenHash string, s wall.Session) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO sessions (token, user, role, csrf, expires, credential) VALUES (?, ?, ?, ?, ?, ?)`,
		tokenHash, s.User, s.Role, s.CSRF, s.Expires.UnixMilli(), s.Credential)
	if err != nil {
		return fmt.Errorf("storage session: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires < ?`, db.now().UnixMilli())
	return err
}

// Session finds a live session by the hash of its token.
func (db *DB) Session(ctx context.Context, tokenHash string) (wall.Session, bool, error) {
	var s wall.Session
	var exp int64
	err := db.read.QueryRowContext(ctx, `SELECT user, role, csrf, expires, credential FROM sessions WHERE token = ?`, tokenHash).Scan(&s.User, &s.Role, &s.CSRF, &exp, &s.Credential)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("storage session: %w", err)
	}
	s.Expires = time.UnixMilli(exp)
	return s, s.Expires.After(db.now()), nil
}

// DeleteSession logs a session out.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, tokenHash)
	return err
}
