package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wallcast/wallcast/wall"
)

// tx runs fn in a write transaction with an applier, and returns the events
// it appended once committed.
func (db *DB) tx(ctx context.Context, fn func(a *applier) error) ([]wall.Event, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	a := &applier{tx: tx, ctx: ctx, now: db.now().UnixMilli(), forgetting: db.forgetting.Load(), polling: db.polling.Load()}
	if err := fn(a); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return a.events, nil
}

// reading runs fn in a read-only transaction: what it reads is one
// consistent state, and it does not wait for the writer.
func (db *DB) reading(ctx context.Context, fn func(a *applier) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&applier{tx: tx, ctx: ctx, now: db.now().UnixMilli(), once: true})
}

// read runs one of the applier's readers of a wall in a read-only
// transaction; its error says what it read.
func read[T any](ctx context.Context, db *DB, what, slug string, f func(*applier, string) (T, error)) (T, error) {
	var v T
	err := db.reading(ctx, func(a *applier) (err error) {
		v, err = f(a, slug)
		return err
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("storage %s %s: %w", what, slug, err)
	}
	return v, nil
}

// column reads the one column a query returns, under the transaction.
func column[T any](a *applier, q string, args ...any) ([]T, error) {
	var out []T
	err := a.each(q, args, func(rows *sql.Rows) error {
		var v T
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// each runs a query under the transaction and calls scan on each row.
func (a *applier) each(q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := a.tx.QueryContext(a.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

type applier struct {
	once       bool             // each query runs once: not worth preparing
	forgetting bool             // check new posts against the forgotten authors
	polling    bool             // check new posts for votes
	polls      map[int64]string // polls voted in during the batch, and their walls
	tx         *sql.Tx
	ctx        context.Context
	now        int64
	events     []wall.Event
	stmts      map[string]*sql.Stmt
}

// stmt prepares a query once per transaction: a batch runs the same few
// statements hundreds of times.
func (a *applier) stmt(q string) (*sql.Stmt, error) {
	if st, ok := a.stmts[q]; ok {
		return st, nil
	}
	st, err := a.tx.PrepareContext(a.ctx, q)
	if err != nil {
		return nil, err
	}
	if a.stmts == nil {
		a.stmts = map[string]*sql.Stmt{}
	}
	a.stmts[q] = st
	return st, nil
}

func (a *applier) exec(q string, args ...any) (sql.Result, error) {
	st, err := a.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(a.ctx, args...)
}

func (a *applier) queryRow(q string, args ...any) *sql.Row {
	if a.once {
		return a.tx.QueryRowContext(a.ctx, q, args...)
	}
	st, err := a.stmt(q)
	if err != nil {
		return a.tx.QueryRowContext(a.ctx, q, args...)
	}
	return st.QueryRowContext(a.ctx, args...)
}
