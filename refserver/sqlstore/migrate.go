package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/<engine>/NNNN_name.sql, one file per
// version and engine, numbered from 1 without gaps; both engines carry the
// same versions. A new store (ota, console) adds its tables in the next
// version. They are embedded, and Open applies the pending ones in order
// inside one transaction, recording each in schema_migrations, so opening
// is idempotent, concurrent openers (several nodes) apply each version
// once, and a failed migration leaves the schema as it was.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the engine's migrations in version order.
func migrations(e Engine) ([]migration, error) {
	dir := path.Join("migrations", string(e))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading migrations: %w", err)
	}
	var ms []migration
	for _, ent := range entries {
		name := ent.Name()
		num, rest, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("sqlstore: migration file %s: want NNNN_name.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration file %s: bad version", name)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: reading migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: %s migrations: version %d missing", e, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the latest migration version this binary knows.
func SchemaVersion() int {
	ms, err := migrations(SQLite)
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the pending migrations.
func (s *db) migrate(ctx context.Context) error {
	ms, err := migrations(s.engine)
	if err != nil {
		return err
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		tx := s.txOf(ctx).tx
		if s.d.migrationLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.migrationLock); err != nil {
				return fmt.Errorf("sqlstore: locking for migrations: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return fmt.Errorf("sqlstore: creating schema_migrations: %w", err)
		}
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("sqlstore: reading the schema version: %w", err)
		}
		if int(cur.Int64) > len(ms) {
			return fmt.Errorf("sqlstore: the database schema (version %d) is newer than this program's (%d)", cur.Int64, len(ms))
		}
		for _, m := range ms[cur.Int64:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("sqlstore: recording migration %d: %w", m.version, err)
			}
			s.log.Info("sqlstore: migration applied", "engine", s.engine, "version", m.version, "name", m.name)
		}
		return nil
	})
}
