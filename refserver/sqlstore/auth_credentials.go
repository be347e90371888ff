package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

const credCols = `id, hash, kind, user_id, agent_id, parent_id, label, created_via, scope, resource, generation,
	created_at, expires_at, last_used_at, revoked_at, used_at`

// liveAt is the SQL condition "not revoked at or before ?, not expired at
// ?" (two arguments, the same time).
const liveAt = `(revoked_at IS NULL OR revoked_at > ?) AND (expires_at IS NULL OR expires_at > ?)`

// liveRows returns a query selecting cols from the credentials of one user
// and kind live at a time, plus extra conditions, and its arguments. It is
// two branches — unrevoked rows through the partial index
// auth_credentials_unrevoked, and the few whose revocation lies in the
// future — so that the revoked rows a user accumulates until Purge are
// never scanned.
func liveRows(cols, userID string, k auth.Kind, at any, extra string, extraArgs ...any) (string, []any) {
	branch := func(revoked string) string {
		return `SELECT ` + cols + ` FROM auth_credentials WHERE user_id = ? AND kind = ? AND ` + revoked +
			` AND (expires_at IS NULL OR expires_at > ?)` + extra
	}
	q := branch(`revoked_at IS NULL`) + ` UNION ALL ` + branch(`revoked_at > ?`)
	args := append([]any{userID, k.String(), at}, extraArgs...)
	args = append(args, userID, k.String(), at, at)
	return q, append(args, extraArgs...)
}

func scanCred(sc scanner) (auth.Credential, error) {
	var c auth.Credential
	err := sc.Scan(&c.ID, hashCol{&c.Hash}, kindCol{&c.Kind}, &c.UserID, strCol{&c.AgentID}, &c.ParentID, &c.Label,
		(*string)(&c.CreatedVia), &c.Scope, &c.Resource, &c.Generation, msTime{&c.CreatedAt}, msTime{&c.ExpiresAt},
		msTime{&c.LastUsedAt}, msTime{&c.RevokedAt}, msTime{&c.UsedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Credential{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Credential{}, fmt.Errorf("sqlstore: reading a credential: %w", err)
	}
	return c, nil
}

func scanID(sc scanner) (string, error) {
	var id string
	return id, sc.Scan(&id)
}

func (s authStore) CreateCredential(ctx context.Context, c auth.Credential, lim auth.Limit) ([]string, error) {
	var evicted []string
	err := s.InTx(ctx, func(ctx context.Context) error {
		evicted = nil
		lock := s.d.forShare
		if lim.Max > 0 || lim.UniqueLabel {
			lock = s.d.forUpdate // serialises the count with concurrent inserts
		}
		var one int
		if err := s.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+lock, c.UserID).Scan(&one); err != nil {
			return notFound(err, "a user")
		}
		if c.AgentID != "" {
			err := s.queryRow(ctx, `SELECT 1 FROM agents WHERE owner_id = ? AND agent_id = ?`+s.d.forShare, c.UserID, c.AgentID).Scan(&one)
			if err != nil {
				return notFound(err, "an agent")
			}
		}
		switch err := s.queryRow(ctx, `SELECT 1 FROM auth_credentials WHERE id = ? OR hash = ?`, c.ID, c.Hash[:]).Scan(&one); {
		case err == nil:
			return auth.ErrConflict
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlstore: checking a credential: %w", err)
		}
		at := ms(c.CreatedAt)
		if lim.UniqueLabel {
			q, args := liveRows("1", c.UserID, c.Kind, at, ` AND label = ?`, c.Label)
			err := s.queryRow(ctx, q+` LIMIT 1`, args...).Scan(&one)
			switch {
			case err == nil:
				return auth.ErrConflict
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlstore: checking a label: %w", err)
			}
		}
		if lim.Max > 0 {
			extra, vias := "", []any{}
			if len(lim.Vias) > 0 {
				extra = ` AND created_via IN (` + placeholders(len(lim.Vias)) + `)`
				for _, v := range lim.Vias {
					vias = append(vias, string(v))
				}
			}
			q, args := liveRows("id", c.UserID, c.Kind, at, extra, vias...)
			var n int
			if err := s.queryRow(ctx, `SELECT count(*) FROM (`+q+`) live`, args...).Scan(&n); err != nil {
				return fmt.Errorf("sqlstore: counting credentials: %w", err)
			}
			if n >= lim.Max {
				if !lim.Evict {
					return auth.ErrLimitReached
				}
				rows, err := s.query(ctx, q+` ORDER BY id LIMIT ?`, append(args, n-lim.Max+1)...)
				if err != nil {
					return fmt.Errorf("sqlstore: listing credentials to evict: %w", err)
				}
				if evicted, err = collect(rows, scanID); err != nil {
					return err
				}
				if err := s.revokeIDs(ctx, evicted, c.CreatedAt); err != nil {
					return err
				}
			}
		}
		res, err := s.exec(ctx, `INSERT INTO auth_credentials (`+credCols+`) VALUES (`+placeholders(16)+`) ON CONFLICT DO NOTHING`,
			c.ID, c.Hash[:], c.Kind.String(), c.UserID, nullStr(c.AgentID), c.ParentID, c.Label, string(c.CreatedVia),
			c.Scope, c.Resource, c.Generation, at, ms(c.ExpiresAt), ms(c.LastUsedAt), ms(c.RevokedAt), ms(c.UsedAt))
		return insertResult(res, err, "a credential")
	})
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// notFound maps sql.ErrNoRows to auth.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return auth.ErrNotFound
	}
	return fmt.Errorf("sqlstore: looking up %s: %w", what, err)
}

func (s authStore) revokeIDs(ctx context.Context, ids []string, at time.Time) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxIDs)]
		ids = ids[len(chunk):]
		args := []any{ms(at)}
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := s.exec(ctx, `UPDATE auth_credentials SET revoked_at = ? WHERE id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return fmt.Errorf("sqlstore: revoking credentials: %w", err)
		}
	}
	return nil
}

func (s authStore) CredentialByHash(ctx context.Context, h auth.Hash) (auth.Credential, error) {
	return scanCred(s.queryRow(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE hash = ?`, h[:]))
}

// maxIDs bounds the ids of one IN list.
const maxIDs = 1000

func (s authStore) CredentialsByID(ctx context.Context, ids []string) ([]auth.Credential, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > maxIDs {
		return nil, fmt.Errorf("sqlstore: CredentialsByID: %d ids, at most %d", len(ids), maxIDs)
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.query(ctx, `SELECT `+credCols+` FROM auth_credentials WHERE id IN (`+placeholders(len(ids))+`) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: looking credentials up: %w", err)
	}
	return collect(rows, scanCred)
}

func (s authStore) ListCredentials(ctx context.Context, q auth.CredentialQuery) ([]auth.Credential, error) {
	var query string
	var args []any
	if q.LiveAt.IsZero() {
		query = `SELECT ` + credCols + ` FROM auth_credentials WHERE user_id = ? AND kind = ? AND id > ?`
		args = []any{q.UserID, q.Kind.String(), q.After}
	} else {
		query, args = liveRows(credCols, q.UserID, q.Kind, ms(q.LiveAt), ` AND id > ?`, q.After)
	}
	rows, err := s.query(ctx, query+` ORDER BY id LIMIT ?`, append(args, sqlLimit(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listing credentials: %w", err)
	}
	return collect(rows, scanCred)
}

func (s authStore) RevokeCredentials(ctx context.Context, userID string, sel auth.Selector, at time.Time) ([]string, error) {
	if len(sel.IDs) > maxIDs {
		return nil, fmt.Errorf("sqlstore: RevokeCredentials: %d ids, at most %d", len(sel.IDs), maxIDs)
	}
	t := ms(at)
	where := []string{`user_id = ?`, liveAt}
	args := []any{t, userID, t, t}
	if len(sel.IDs) > 0 {
		where = append(where, `id IN (`+placeholders(len(sel.IDs))+`)`)
		for _, id := range sel.IDs {
			args = append(args, id)
		}
	}
	if len(sel.Kinds) > 0 {
		where = append(where, `kind IN (`+placeholders(len(sel.Kinds))+`)`)
		for _, k := range sel.Kinds {
			args = append(args, k.String())
		}
	}
	if sel.ParentID != "" {
		where = append(where, `parent_id = ?`)
		args = append(args, sel.ParentID)
	}
	if sel.AgentID != "" {
		where = append(where, `agent_id = ?`)
		args = append(args, sel.AgentID)
	}
	rows, err := s.writeRows(ctx, `UPDATE auth_credentials SET revoked_at = ? WHERE `+strings.Join(where, " AND ")+` RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoking credentials: %w", err)
	}
	ids, err := collect(rows, scanID)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

func (s authStore) ConsumeCredential(ctx context.Context, h auth.Hash, at time.Time) (auth.Credential, error) {
	t := ms(at)
	c, err := scanCred(s.writeRow(ctx, `UPDATE auth_credentials SET used_at = ? WHERE hash = ? AND used_at IS NULL AND `+liveAt+` RETURNING `+credCols,
		t, h[:], t, t))
	if err == nil {
		c.UsedAt = time.Time{} // as it was before
		return c, nil
	}
	if !errors.Is(err, auth.ErrNotFound) {
		return auth.Credential{}, err
	}
	c, err = s.CredentialByHash(ctx, h)
	switch {
	case err != nil:
		return auth.Credential{}, err
	case !c.UsedAt.IsZero():
		return c, auth.ErrUsed
	case !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(at):
		return c, auth.ErrExpired
	case !c.RevokedAt.IsZero() && !c.RevokedAt.After(at):
		return c, auth.ErrRevoked
	}
	// Consumed concurrently between the two statements.
	return c, auth.ErrUsed
}

func (s authStore) TouchCredential(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE auth_credentials SET last_used_at = ? WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: touching a credential: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: touching a credential: %w", err)
	} else if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

func (s authStore) DenyJTI(ctx context.Context, jti, userID string, until time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO auth_jwt_denylist (jti, user_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE excluded.expires_at > auth_jwt_denylist.expires_at`,
		jti, userID, until.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlstore: denylisting a jti: %w", err)
	}
	return nil
}

func (s authStore) JTIDenied(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM auth_jwt_denylist WHERE jti = ?`, jti).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlstore: checking the jwt denylist: %w", err)
	}
	return true, nil
}

func (s authStore) Purge(ctx context.Context, before time.Time) (int, error) {
	t := ms(before)
	total := 0
	err := s.InTx(ctx, func(ctx context.Context) error {
		total = 0
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM auth_credentials WHERE expires_at < ? OR revoked_at < ?`, []any{t, t}},
			{`DELETE FROM auth_claim_codes WHERE expires_at < ?`, []any{t}},
			{`DELETE FROM auth_jwt_denylist WHERE expires_at < ?`, []any{t}},
		} {
			res, err := s.exec(ctx, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("sqlstore: purging: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlstore: purging: %w", err)
			}
			total += int(n)
		}
		return nil
	})
	return total, err
}
