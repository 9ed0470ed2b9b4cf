package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// Key returns this install's key of that name: 32 random bytes made on
// first use and kept.
func (db *DB) Key(ctx context.Context, name string) ([]byte, error) {
	var key []byte
	_, err := db.tx(ctx, func(a *applier) error {
		err := a.queryRow(`SELECT value FROM keys WHERE name = ?`, name).Scan(&key)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		_, err = a.exec(`INSERT INTO keys (name, value) VALUES (?, ?)`, name, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage key %s: %w", name, err)
	}
	return key, nil
}

// SetRoom records a wall's new room code and appends its room event; it
// returns no event when the wall already has that code. A room without a
// URL ends the wall's posts from phones: its screens get {} and joining
// ones get nothing.
func (db *DB) SetRoom(ctx context.Context, slug string, room wall.Room) ([]wall.Event, error) {
	data, err := json.Marshal(room)
	if err != nil {
		return nil, err
	}
	if room.URL == "" {
		data = []byte(`{}`)
	}
	events, err := db.tx(ctx, func(a *applier) error {
		var old string
		err := a.queryRow(`SELECT data FROM rooms WHERE wall = ?`, slug).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		switch {
		case old == string(data), old == "" && room.URL == "":
			return nil
		case room.URL == "":
			_, err = a.exec(`DELETE FROM rooms WHERE wall = ?`, slug)
		default:
			_, err = a.exec(`INSERT INTO rooms (wall, data) VALUES (?, ?) ON CONFLICT (wall) DO UPDATE SET data = excluded.data`, slug, string(data))
		}
		if err != nil {
			return err
		}
		_, err = a.appendEvent(slug, wall.EventRoom, "", data, true)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage room %s: %w", slug, err)
	}
	return events, nil
}

// room reads a wall's room code (nil: none).
func (a *applier) room(slug string) (*wall.Room, error) {
	var data string
	err := a.queryRow(`SELECT data FROM rooms WHERE wall = ?`, slug).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r wall.Room
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, err
	}
	return &r, nil
}
