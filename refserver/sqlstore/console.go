package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// Console returns the console.Store of this database. It shares the
// Store's pools and transactions with Auth: a ctx from InTx works with
// both, so a console use case commits auth's changes, its audit row and
// its idempotency record together.
func (s *Store) Console() console.Store { return consoleStore{s.db} }

// consoleStore implements console.Store. Like authStore it reports
// uniqueness violations from row counts (ON CONFLICT DO NOTHING) and
// checks parents first, so a sentinel never aborts an enclosing
// PostgreSQL transaction.
type consoleStore struct{ *db }

var _ console.Store = consoleStore{}

// settingsName is the console_settings row of the server settings.
const settingsName = "server"

func (s consoleStore) Settings(ctx context.Context, def console.Settings) (console.Settings, error) {
	var doc string
	err := s.queryRow(ctx, `SELECT value FROM console_settings WHERE name = ?`, settingsName).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return console.Settings{}, console.ErrStoreNotFound
	}
	if err != nil {
		return console.Settings{}, fmt.Errorf("sqlstore: reading settings: %w", err)
	}
	set := def // fields the document lacks keep their defaults
	if err := json.Unmarshal([]byte(doc), &set); err != nil {
		return console.Settings{}, fmt.Errorf("sqlstore: decoding settings: %w", err)
	}
	return set, nil
}

func (s consoleStore) InitSettings(ctx context.Context, set console.Settings) (console.Settings, error) {
	doc, err := json.Marshal(set)
	if err != nil {
		return console.Settings{}, fmt.Errorf("sqlstore: encoding settings: %w", err)
	}
	var out console.Settings
	err = s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `INSERT INTO console_settings (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			settingsName, string(doc), time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("sqlstore: storing settings: %w", err)
		}
		var err error
		out, err = s.Settings(ctx, set)
		return err
	})
	return out, err
}

func (s consoleStore) PutSettings(ctx context.Context, set console.Settings) error {
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding settings: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO console_settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		settingsName, string(doc), time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlstore: storing settings: %w", err)
	}
	return nil
}

func (s consoleStore) UISettings(ctx context.Context, userID string) (console.UISettings, error) {
	var ui console.UISettings
	err := s.queryRow(ctx, `SELECT locale, theme FROM console_ui_settings WHERE user_id = ?`, userID).Scan(&ui.Locale, &ui.Theme)
	if errors.Is(err, sql.ErrNoRows) {
		return ui, console.ErrStoreNotFound
	}
	if err != nil {
		return ui, fmt.Errorf("sqlstore: reading ui settings: %w", err)
	}
	return ui, nil
}

func (s consoleStore) PutUISettings(ctx context.Context, userID string, ui console.UISettings) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		var one int
		switch err := s.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+s.d.forShare, userID).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return console.ErrStoreNotFound
		case err != nil:
			return fmt.Errorf("sqlstore: looking up a user: %w", err)
		}
		if _, err := s.exec(ctx, `INSERT INTO console_ui_settings (user_id, locale, theme) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, theme = excluded.theme`,
			userID, ui.Locale, ui.Theme); err != nil {
			return fmt.Errorf("sqlstore: storing ui settings: %w", err)
		}
		return nil
	})
}

const auditCols = `id, at, actor_id, actor_kind, action, target, result, remote_ip`

func (s consoleStore) AppendAudit(ctx context.Context, r console.AuditRecord) error {
	res, err := s.exec(ctx, `INSERT INTO console_audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.ID, ms(r.At), r.ActorID, string(r.ActorKind), r.Action, r.Target, r.Result, r.RemoteIP)
	return consoleInsert(res, err, "an audit row")
}

// consoleInsert maps an INSERT … ON CONFLICT DO NOTHING result.
func consoleInsert(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlstore: inserting %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: inserting %s: %w", what, err)
	}
	if n == 0 {
		return console.ErrStoreConflict
	}
	return nil
}

func scanAudit(sc scanner) (console.AuditRecord, error) {
	var r console.AuditRecord
	if err := sc.Scan(&r.ID, msTime{&r.At}, &r.ActorID, (*string)(&r.ActorKind), &r.Action, &r.Target, &r.Result, &r.RemoteIP); err != nil {
		return r, fmt.Errorf("sqlstore: reading an audit row: %w", err)
	}
	return r, nil
}

func (s consoleStore) ListAudit(ctx context.Context, q console.AuditQuery) ([]console.AuditRecord, int, error) {
	var (
		where []string
		args  []any
	)
	if q.ActorID != "" {
		where, args = append(where, `actor_id = ?`), append(args, q.ActorID)
	}
	if q.Action != "" {
		where, args = append(where, `action = ?`), append(args, q.Action)
	}
	if !q.From.IsZero() {
		where, args = append(where, `at >= ?`), append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where, args = append(where, `at <= ?`), append(args, q.To.UnixMilli())
	}
	var total int
	if err := s.queryRow(ctx, `SELECT count(*) FROM console_audit`+whereSQL(where), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: counting audit rows: %w", err)
	}
	if q.Before != "" {
		where, args = append(where, `id < ?`), append(args, q.Before)
	}
	rows, err := s.query(ctx, `SELECT `+auditCols+` FROM console_audit`+whereSQL(where)+` ORDER BY id DESC LIMIT ?`,
		append(args, sqlLimit(q.Limit))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: listing audit rows: %w", err)
	}
	out, err := collect(rows, scanAudit)
	return out, total, err
}

func whereSQL(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

const idemCols = `user_id, idem_key, fingerprint, response, created_at, expires_at`

func scanIdem(sc scanner) (console.IdempotencyRecord, error) {
	var (
		r  console.IdempotencyRecord
		fp []byte
	)
	err := sc.Scan(&r.UserID, &r.Key, &fp, &r.Response, msTime{&r.CreatedAt}, msTime{&r.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return r, console.ErrStoreNotFound
	}
	if err != nil {
		return r, fmt.Errorf("sqlstore: reading an idempotency record: %w", err)
	}
	copy(r.Fingerprint[:], fp)
	return r, nil
}

func (s consoleStore) ClaimIdempotency(ctx context.Context, r console.IdempotencyRecord) (console.IdempotencyRecord, error) {
	var out console.IdempotencyRecord
	err := s.InTx(ctx, func(ctx context.Context) error {
		// Inserts, or replaces an expired record; a live one (committed,
		// or waited for on PostgreSQL) leaves the row count at 0.
		res, err := s.exec(ctx, `INSERT INTO console_idempotency (`+idemCols+`) VALUES (?, ?, ?, NULL, ?, ?)
			ON CONFLICT (user_id, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, response = NULL,
			created_at = excluded.created_at, expires_at = excluded.expires_at
			WHERE console_idempotency.expires_at <= excluded.created_at`,
			r.UserID, r.Key, r.Fingerprint[:], ms(r.CreatedAt), ms(r.ExpiresAt))
		if err != nil {
			return fmt.Errorf("sqlstore: claiming an idempotency key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlstore: claiming an idempotency key: %w", err)
		} else if n > 0 {
			return nil
		}
		prev, err := scanIdem(s.queryRow(ctx, `SELECT `+idemCols+` FROM console_idempotency WHERE user_id = ? AND idem_key = ?`, r.UserID, r.Key))
		if err != nil {
			return err
		}
		out = prev
		return console.ErrStoreConflict
	})
	return out, err
}

func (s consoleStore) CompleteIdempotency(ctx context.Context, userID, key string, response []byte) error {
	res, err := s.exec(ctx, `UPDATE console_idempotency SET response = ? WHERE user_id = ? AND idem_key = ?`, response, userID, key)
	if err != nil {
		return fmt.Errorf("sqlstore: completing an idempotency record: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: completing an idempotency record: %w", err)
	} else if n == 0 {
		return console.ErrStoreNotFound
	}
	return nil
}

func (s consoleStore) Purge(ctx context.Context, idempotencyBefore, auditBefore time.Time) (int, error) {
	total := 0
	del := func(q string, at time.Time) error {
		if at.IsZero() {
			return nil
		}
		res, err := s.exec(ctx, q, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("sqlstore: purging: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		return nil
	}
	if err := del(`DELETE FROM console_idempotency WHERE expires_at < ?`, idempotencyBefore); err != nil {
		return total, err
	}
	err := del(`DELETE FROM console_audit WHERE at < ?`, auditBefore)
	return total, err
}

// resetTables are emptied by Reset, children first. Later stores (ota)
// add theirs here. auth_secrets (the JWT key) and schema_migrations stay.
var resetTables = []string{
	"console_idempotency", "console_audit", "console_ui_settings", "console_settings",
	"auth_recovery_codes", "auth_jwt_denylist", "auth_claim_codes", "auth_credentials", "agents", "users",
}

func (s consoleStore) Reset(ctx context.Context) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		for _, t := range resetTables {
			if _, err := s.exec(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("sqlstore: emptying %s: %w", t, err)
			}
		}
		return nil
	})
}

func (s consoleStore) InsertUsers(ctx context.Context, users []auth.User) error {
	as := authStore(s)
	return s.InTx(ctx, func(ctx context.Context) error {
		for _, u := range users {
			switch err := as.CreateUser(ctx, u); {
			case errors.Is(err, auth.ErrConflict):
				return console.ErrStoreConflict
			case err != nil:
				return err
			}
		}
		return nil
	})
}

func (s consoleStore) Ping(ctx context.Context) error {
	var one int
	if err := s.rd(ctx).QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

func (s consoleStore) Engine() string { return string(s.engine) }

// Unavailable reports failures of the database itself (API.md §1.9:
// SERVICE_UNAVAILABLE): the pool closed, a connection that could not be
// made or broke, a network error or timeout, PostgreSQL refusing service
// (connection exceptions, insufficient resources, shutting down, lock
// timeouts, deadlocks, serialization failures) and SQLite busy or locked
// beyond its busy timeout.
func (s consoleStore) Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var (
		ne  net.Error
		ce  *pgconn.ConnectError
		pe  *pgconn.PgError
		sle *sqlite.Error
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne), errors.As(err, &ce):
		return true
	case errors.As(err, &pe):
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),       // insufficient resources
			strings.HasPrefix(pe.Code, "57P"),      // operator intervention (shutdown)
			pe.Code == "55P03",                     // lock not available
			pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	case errors.As(err, &sle):
		switch sle.Code() & 0xff { // primary result code
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	return strings.Contains(err.Error(), "sql: database is closed")
}
