package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

const agentCols = `owner_id, agent_id, name, platform, channel, firmware_version, ewsp_versions, targets,
	created_at, updated_at, last_seen, token_hint, token_rotated_at, bound_at`

func scanAgent(sc scanner) (auth.Agent, error) {
	var a auth.Agent
	err := sc.Scan(&a.OwnerID, &a.AgentID, &a.Name, &a.Platform, &a.Channel, &a.FirmwareVersion,
		listCol{&a.EWSPVersions}, targetsCol{&a.Targets}, msTime{&a.CreatedAt}, msTime{&a.UpdatedAt},
		msTime{&a.LastSeen}, &a.TokenHint, msTime{&a.TokenRotatedAt}, msTime{&a.BoundAt})
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Agent{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.Agent{}, fmt.Errorf("sqlstore: reading an agent: %w", err)
	}
	return a, nil
}

func (s authStore) CreateAgent(ctx context.Context, a auth.Agent, limit int) error {
	targets, err := encodeTargets(a.Targets)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding targets: %w", err)
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		var one int
		if err := s.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+s.d.forUpdate, a.OwnerID).Scan(&one); err != nil {
			return notFound(err, "a user")
		}
		switch err := s.queryRow(ctx, `SELECT 1 FROM agents WHERE owner_id = ? AND agent_id = ?`, a.OwnerID, a.AgentID).Scan(&one); {
		case err == nil:
			return auth.ErrConflict
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlstore: checking an agent: %w", err)
		}
		if limit > 0 {
			n, err := s.CountAgents(ctx, a.OwnerID)
			if err != nil {
				return err
			}
			if n >= limit {
				return auth.ErrLimitReached
			}
		}
		res, err := s.exec(ctx, `INSERT INTO agents (`+agentCols+`) VALUES (`+placeholders(14)+`) ON CONFLICT DO NOTHING`,
			a.OwnerID, a.AgentID, a.Name, a.Platform, a.Channel, a.FirmwareVersion, joinList(a.EWSPVersions), targets,
			ms(a.CreatedAt), ms(a.UpdatedAt), ms(a.LastSeen), a.TokenHint, ms(a.TokenRotatedAt), ms(a.BoundAt))
		return insertResult(res, err, "an agent")
	})
}

func (s authStore) Agent(ctx context.Context, ownerID, agentID string) (auth.Agent, error) {
	return scanAgent(s.queryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE owner_id = ? AND agent_id = ?`, ownerID, agentID))
}

func (s authStore) ListAgents(ctx context.Context, ownerID, after string, limit int) ([]auth.Agent, error) {
	rows, err := s.query(ctx, `SELECT `+agentCols+` FROM agents WHERE owner_id = ? AND agent_id > ? ORDER BY agent_id LIMIT ?`,
		ownerID, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listing agents: %w", err)
	}
	return collect(rows, scanAgent)
}

func (s authStore) CountAgents(ctx context.Context, ownerID string) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT count(*) FROM agents WHERE owner_id = ?`, ownerID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: counting agents: %w", err)
	}
	return n, nil
}

func (s authStore) UpdateAgent(ctx context.Context, a auth.Agent) error {
	targets, err := encodeTargets(a.Targets)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding targets: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE agents SET name = ?, platform = ?, channel = ?, firmware_version = ?, ewsp_versions = ?,
		targets = ?, updated_at = ?, last_seen = ?, token_hint = ?, token_rotated_at = ?, bound_at = ?
		WHERE owner_id = ? AND agent_id = ?`,
		a.Name, a.Platform, a.Channel, a.FirmwareVersion, joinList(a.EWSPVersions), targets, ms(a.UpdatedAt),
		ms(a.LastSeen), a.TokenHint, ms(a.TokenRotatedAt), ms(a.BoundAt), a.OwnerID, a.AgentID)
	return affectedOne(res, err, "an agent")
}

// affectedOne maps an UPDATE/DELETE result: no row is auth.ErrNotFound.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlstore: writing %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: writing %s: %w", what, err)
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

func (s authStore) DeleteAgent(ctx context.Context, ownerID, agentID string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `DELETE FROM auth_credentials WHERE user_id = ? AND agent_id = ?`, ownerID, agentID); err != nil {
			return fmt.Errorf("sqlstore: deleting an agent's credentials: %w", err)
		}
		res, err := s.exec(ctx, `DELETE FROM agents WHERE owner_id = ? AND agent_id = ?`, ownerID, agentID)
		return affectedOne(res, err, "an agent")
	})
}

const claimCols = `id, owner_id, hash, code_hint, agent_id, name, platform, channel, created_at, expires_at,
	used_at, install_id, bound_agent_id`

func scanClaim(sc scanner) (auth.ClaimCode, error) {
	var c auth.ClaimCode
	err := sc.Scan(&c.ID, &c.OwnerID, hashCol{&c.Hash}, &c.CodeHint, &c.AgentID, &c.Name, &c.Platform, &c.Channel,
		msTime{&c.CreatedAt}, msTime{&c.ExpiresAt}, msTime{&c.UsedAt}, &c.InstallID, &c.BoundAgentID)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.ClaimCode{}, auth.ErrNotFound
	}
	if err != nil {
		return auth.ClaimCode{}, fmt.Errorf("sqlstore: reading a claim code: %w", err)
	}
	return c, nil
}

func (s authStore) CreateClaimCode(ctx context.Context, c auth.ClaimCode, maxActive int) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		var one int
		if err := s.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+s.d.forUpdate, c.OwnerID).Scan(&one); err != nil {
			return notFound(err, "a user")
		}
		if maxActive > 0 {
			var n int
			if err := s.queryRow(ctx, `SELECT count(*) FROM auth_claim_codes WHERE owner_id = ? AND used_at IS NULL AND expires_at > ?`,
				c.OwnerID, ms(c.CreatedAt)).Scan(&n); err != nil {
				return fmt.Errorf("sqlstore: counting claim codes: %w", err)
			}
			if n >= maxActive {
				return auth.ErrLimitReached
			}
		}
		res, err := s.exec(ctx, `INSERT INTO auth_claim_codes (`+claimCols+`) VALUES (`+placeholders(13)+`) ON CONFLICT DO NOTHING`,
			c.ID, c.OwnerID, c.Hash[:], c.CodeHint, c.AgentID, c.Name, c.Platform, c.Channel, ms(c.CreatedAt),
			ms(c.ExpiresAt), ms(c.UsedAt), c.InstallID, c.BoundAgentID)
		return insertResult(res, err, "a claim code")
	})
}

func (s authStore) ClaimCodeByHash(ctx context.Context, h auth.Hash) (auth.ClaimCode, error) {
	return scanClaim(s.queryRow(ctx, `SELECT `+claimCols+` FROM auth_claim_codes WHERE hash = ?`, h[:]))
}

func (s authStore) ListClaimCodes(ctx context.Context, ownerID string, activeAt time.Time) ([]auth.ClaimCode, error) {
	rows, err := s.query(ctx, `SELECT `+claimCols+` FROM auth_claim_codes WHERE owner_id = ? AND used_at IS NULL AND expires_at > ? ORDER BY id`,
		ownerID, ms(activeAt))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listing claim codes: %w", err)
	}
	return collect(rows, scanClaim)
}

func (s authStore) DeleteClaimCode(ctx context.Context, ownerID, id string) error {
	res, err := s.exec(ctx, `DELETE FROM auth_claim_codes WHERE owner_id = ? AND id = ?`, ownerID, id)
	return affectedOne(res, err, "a claim code")
}

func (s authStore) ConsumeClaimCode(ctx context.Context, h auth.Hash, installID string, at time.Time) (auth.ClaimCode, error) {
	t := ms(at)
	c, err := scanClaim(s.writeRow(ctx, `UPDATE auth_claim_codes SET used_at = ?, install_id = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING `+claimCols, t, installID, h[:], t))
	if !errors.Is(err, auth.ErrNotFound) {
		return c, err
	}
	c, err = s.ClaimCodeByHash(ctx, h)
	switch {
	case err != nil:
		return auth.ClaimCode{}, err
	case !c.UsedAt.IsZero():
		return c, auth.ErrUsed
	case !c.ExpiresAt.After(at):
		return c, auth.ErrExpired
	}
	return c, auth.ErrUsed // consumed and released concurrently: treat as used
}

func (s authStore) SetClaimAgent(ctx context.Context, id, agentID string) error {
	res, err := s.exec(ctx, `UPDATE auth_claim_codes SET bound_agent_id = ? WHERE id = ?`, agentID, id)
	return affectedOne(res, err, "a claim code")
}
