package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Auth returns the auth.Store of this database. It shares the Store's
// pools and transactions: a ctx from InTx works with it.
func (s *Store) Auth() auth.Store { return authStore{s.db} }

// authStore implements auth.Store. Inserts that may hit a unique key use
// ON CONFLICT DO NOTHING and report auth.ErrConflict from the row count,
// and parents are checked (and locked) before foreign keys could fail, so a
// sentinel error never aborts an enclosing PostgreSQL transaction.
type authStore struct{ *db }

var _ auth.Store = authStore{}

const userCols = `id, username, email, role, disabled, password_hash, generation, agents_limit, created_at,
	last_login_at, failed_logins, lockouts, locked_until, totp_secret, totp_enabled_at, totp_pending_secret,
	totp_pending_expires_at, totp_last_step, api_token_hint`

func scanUser(sc scanner) (auth.User, error) {
	var u auth.User
	var limit sql.NullInt64
	err := sc.Scan(&u.ID, &u.Username, &u.Email, (*string)(&u.Role), &u.Disabled, (*string)(&u.PasswordHash),
		&u.Generation, &limit, msTime{&u.CreatedAt}, msTime{&u.LastLoginAt}, &u.FailedLogins, &u.Lockouts,
		msTime{&u.LockedUntil}, (*string)(&u.TOTPSecret), msTime{&u.TOTPEnabledAt}, (*string)(&u.TOTPPendingSecret),
		msTime{&u.TOTPPendingExpiresAt}, &u.TOTPLastStep, &u.APITokenHint)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.User{}, fmt.Errorf("sqlstore: reading a user: %w", err)
	}
	u.AgentsLimit = auth.AgentsLimitDefault
	if limit.Valid {
		u.AgentsLimit = int(limit.Int64)
	}
	return u, nil
}

func agentsLimitArg(n int) any {
	if n == auth.AgentsLimitDefault {
		return nil
	}
	return n
}

func (s authStore) CreateUser(ctx context.Context, u auth.User) error {
	res, err := s.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (`+placeholders(19)+`) ON CONFLICT DO NOTHING`,
		u.ID, u.Username, u.Email, string(u.Role), u.Disabled, string(u.PasswordHash), u.Generation,
		agentsLimitArg(u.AgentsLimit), ms(u.CreatedAt), ms(u.LastLoginAt), u.FailedLogins, u.Lockouts,
		ms(u.LockedUntil), string(u.TOTPSecret), ms(u.TOTPEnabledAt), string(u.TOTPPendingSecret),
		ms(u.TOTPPendingExpiresAt), u.TOTPLastStep, u.APITokenHint)
	return insertResult(res, err, "a user")
}

// insertResult maps an INSERT … ON CONFLICT DO NOTHING result.
func insertResult(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlstore: inserting %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: inserting %s: %w", what, err)
	}
	if n == 0 {
		return auth.ErrConflict
	}
	return nil
}

func (s authStore) CreateFirstUser(ctx context.Context, u auth.User) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if s.d.lockUsers != "" {
			if _, err := s.exec(ctx, s.d.lockUsers); err != nil {
				return fmt.Errorf("sqlstore: locking users: %w", err)
			}
		}
		has, err := s.HasUsers(ctx)
		if err != nil {
			return err
		}
		if has {
			return auth.ErrNotEmpty
		}
		return s.CreateUser(ctx, u)
	})
}

func (s authStore) HasUsers(ctx context.Context) (bool, error) {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM users LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: counting users: %w", err)
	}
	return true, nil
}

func (s authStore) UserByID(ctx context.Context, id string) (auth.User, error) {
	return scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
}

func (s authStore) UserByUsername(ctx context.Context, username string) (auth.User, error) {
	return scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE lower(username) = lower(?)`, username))
}

func (s authStore) ListUsers(ctx context.Context, after string, limit int) ([]auth.User, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listing users: %w", err)
	}
	return collect(rows, scanUser)
}

// sqlLimit maps "no limit" (≤ 0) to a large LIMIT both engines accept.
func sqlLimit(n int) int64 {
	if n <= 0 {
		return 1 << 62
	}
	return int64(n)
}

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: reading rows: %w", err)
	}
	return out, nil
}

// lockAdmins locks every enabled admin row, in id order (so concurrent
// callers cannot deadlock), and returns their ids. Under PostgreSQL's READ
// COMMITTED a caller that waited re-reads the rows, so a concurrent demotion
// is seen.
func (s authStore) lockAdmins(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT id FROM users WHERE role = ? AND disabled = ? ORDER BY id`+s.d.forUpdate, string(auth.RoleAdmin), false)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: locking admins: %w", err)
	}
	return collect(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
}

// lockUser locks one user row (and reports ErrNotFound).
func (s authStore) lockUser(ctx context.Context, id string) (auth.User, error) {
	return scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`+s.d.forUpdate, id))
}

// keepsAnAdmin returns auth.ErrNoAdminLeft if removing user id's admin
// rights would leave no enabled admin. admins is lockAdmins' answer.
func keepsAnAdmin(admins []string, id string) error {
	for _, a := range admins {
		if a != id {
			return nil
		}
	}
	return auth.ErrNoAdminLeft
}

func isEnabledAdmin(u auth.User) bool { return u.Role == auth.RoleAdmin && !u.Disabled }

func (s authStore) UpdateUser(ctx context.Context, id string, p auth.UserPatch) (auth.User, error) {
	var out auth.User
	err := s.InTx(ctx, func(ctx context.Context) error {
		var admins []string
		if p.Role != nil || p.Disabled != nil {
			var err error
			if admins, err = s.lockAdmins(ctx); err != nil {
				return err
			}
		}
		u, err := s.lockUser(ctx, id)
		if err != nil {
			return err
		}
		var sets []string
		var args []any
		set := func(col string, v any) {
			sets = append(sets, col+" = ?")
			args = append(args, v)
		}
		after := u
		if p.Email != nil {
			set("email", *p.Email)
		}
		if p.Role != nil {
			set("role", string(*p.Role))
			after.Role = *p.Role
		}
		if p.Disabled != nil {
			set("disabled", *p.Disabled)
			after.Disabled = *p.Disabled
		}
		if isEnabledAdmin(u) && !isEnabledAdmin(after) {
			if err := keepsAnAdmin(admins, id); err != nil {
				return err
			}
		}
		if p.PasswordHash != nil {
			set("password_hash", string(*p.PasswordHash))
		}
		if p.BumpGeneration {
			sets = append(sets, "generation = generation + 1")
		}
		if p.AgentsLimit != nil {
			set("agents_limit", agentsLimitArg(*p.AgentsLimit))
		}
		if p.LastLoginAt != nil {
			set("last_login_at", ms(*p.LastLoginAt))
		}
		if p.FailedLogins != nil {
			set("failed_logins", *p.FailedLogins)
		}
		if p.Lockouts != nil {
			set("lockouts", *p.Lockouts)
		}
		if p.LockedUntil != nil {
			set("locked_until", ms(*p.LockedUntil))
		}
		if p.TOTPSecret != nil {
			set("totp_secret", string(*p.TOTPSecret))
		}
		if p.TOTPEnabledAt != nil {
			set("totp_enabled_at", ms(*p.TOTPEnabledAt))
		}
		if p.TOTPPendingSecret != nil {
			set("totp_pending_secret", string(*p.TOTPPendingSecret))
		}
		if p.TOTPPendingExpiresAt != nil {
			set("totp_pending_expires_at", ms(*p.TOTPPendingExpiresAt))
		}
		if p.TOTPLastStep != nil {
			set("totp_last_step", *p.TOTPLastStep)
		}
		if p.APITokenHint != nil {
			set("api_token_hint", *p.APITokenHint)
		}
		if len(sets) == 0 {
			out = u
			return nil
		}
		args = append(args, id)
		out, err = scanUser(s.writeRow(ctx, `UPDATE users SET `+strings.Join(sets, ", ")+` WHERE id = ? RETURNING `+userCols, args...))
		return err
	})
	if err != nil {
		return auth.User{}, err
	}
	return out, nil
}

func (s authStore) DeleteUser(ctx context.Context, id string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		admins, err := s.lockAdmins(ctx)
		if err != nil {
			return err
		}
		u, err := s.lockUser(ctx, id)
		if err != nil {
			return err
		}
		if isEnabledAdmin(u) {
			if err := keepsAnAdmin(admins, id); err != nil {
				return err
			}
		}
		// Credentials go first: some reference the user's agents.
		for _, q := range []string{
			`DELETE FROM auth_credentials WHERE user_id = ?`,
			`DELETE FROM auth_jwt_denylist WHERE user_id = ?`,
			`DELETE FROM users WHERE id = ?`,
		} {
			if _, err := s.exec(ctx, q, id); err != nil {
				return fmt.Errorf("sqlstore: deleting a user: %w", err)
			}
		}
		return nil
	})
}

func (s authStore) RecordLoginFailure(ctx context.Context, id string) (int, error) {
	var n int
	err := s.writeRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ? RETURNING failed_logins`, id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, auth.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: recording a login failure: %w", err)
	}
	return n, nil
}

func (s authStore) AcceptTOTPStep(ctx context.Context, id string, step int64) error {
	res, err := s.exec(ctx, `UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, id, step)
	if err != nil {
		return fmt.Errorf("sqlstore: recording a totp step: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: recording a totp step: %w", err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.UserByID(ctx, id); err != nil {
		return err
	}
	return auth.ErrConflict
}

func (s authStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []auth.Hash) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.lockUser(ctx, userID); err != nil {
			return err
		}
		if _, err := s.exec(ctx, `DELETE FROM auth_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("sqlstore: replacing recovery codes: %w", err)
		}
		for _, h := range hashes {
			if _, err := s.exec(ctx, `INSERT INTO auth_recovery_codes (user_id, hash) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, h[:]); err != nil {
				return fmt.Errorf("sqlstore: replacing recovery codes: %w", err)
			}
		}
		return nil
	})
}

func (s authStore) UseRecoveryCode(ctx context.Context, userID string, h auth.Hash, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE auth_recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`, ms(at), userID, h[:])
	if err != nil {
		return fmt.Errorf("sqlstore: using a recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: using a recovery code: %w", err)
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

func (s authStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM auth_recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: counting recovery codes: %w", err)
	}
	return n, nil
}

func (s authStore) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	var out []byte
	err := s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `INSERT INTO auth_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
			return fmt.Errorf("sqlstore: storing a secret: %w", err)
		}
		if err := s.queryRow(ctx, `SELECT value FROM auth_secrets WHERE name = ?`, name).Scan(&out); err != nil {
			return fmt.Errorf("sqlstore: reading a secret: %w", err)
		}
		return nil
	})
	return out, err
}

func (s authStore) PutSecret(ctx context.Context, name string, value []byte) error {
	if _, err := s.exec(ctx, `INSERT INTO auth_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("sqlstore: storing a secret: %w", err)
	}
	return nil
}
