package sqlstore

import (
	"context"
	"fmt"
)

// CountRows counts a table's rows (tests only).
func CountRows(ctx context.Context, s *Store, table string) (int, error) {
	var n int
	err := s.rd(ctx).QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// ExecForTest runs a statement on the write pool (tests only).
func ExecForTest(ctx context.Context, s *Store, query string) error {
	_, err := s.w.ExecContext(ctx, query)
	return err
}

// PragmaForTest reads a SQLite pragma through the read pool (tests only).
func PragmaForTest(ctx context.Context, s *Store, name string) (string, error) {
	var v any
	if err := s.r.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}
