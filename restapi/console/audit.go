package console

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Audit actions of API.md §3.10 written by this package (later issues add
// release, rollout, key, backup and MCP actions).
const (
	AuditLogin           = "auth.login"
	AuditLoginFailed     = "auth.login_failed"
	AuditLocked          = "auth.locked"
	AuditTokenRotated    = "auth.token_rotated"
	AuditPasswordChanged = "auth.password_changed"
	AuditTOTPEnabled     = "auth.totp_enabled"
	AuditTOTPDisabled    = "auth.totp_disabled"
	AuditAgentCreated    = "agent.created"
	AuditAgentDeleted    = "agent.deleted"
	AuditAgentRotated    = "agent.token_rotated"
	AuditClaimCreated    = "claim.created"
	AuditClaimUsed       = "claim.used"
	AuditUserCreated     = "user.created"
	AuditUserUpdated     = "user.updated"
	AuditUserDeleted     = "user.deleted"
	AuditSettingsUpdated = "settings.updated"

	auditSuccess = "success"
)

// newIDs returns the entropy of audit ids: crypto/rand, increasing within
// a millisecond.
func newIDs() *ulid.LockedMonotonicReader {
	return &ulid.LockedMonotonicReader{MonotonicReader: ulid.Monotonic(rand.Reader, 0)}
}

// newAuditID returns "aud_" + a lowercase ULID of t.
func (s *Service) newAuditID(t time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(t), s.ids)
	if err != nil {
		return "", err
	}
	return "aud_" + strings.ToLower(id.String()), nil
}

// audit appends a success row for c's action on target, with ctx (inside
// the use case's transaction).
func (s *Service) audit(ctx context.Context, c Caller, action, target string) error {
	kind, id := c.actor()
	return s.auditRow(ctx, AuditRecord{ActorKind: kind, ActorID: id, Action: action, Target: target,
		Result: auditSuccess, RemoteIP: ipString(c.RemoteIP)})
}

// auditRow fills the id and time of r and appends it.
func (s *Service) auditRow(ctx context.Context, r AuditRecord) error {
	r.At = s.now()
	id, err := s.newAuditID(r.At)
	if err != nil {
		return err
	}
	r.ID = id
	return s.store.AppendAudit(ctx, r)
}

// auditOutside appends a row in its own transaction (for login, whose
// changes auth commits itself, outside any transaction of ours); a failure
// is logged and counted, never returned.
func (s *Service) auditOutside(ctx context.Context, r AuditRecord) {
	if err := s.auditRow(context.WithoutCancel(ctx), r); err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Warn("console: writing an audit row failed", "action", r.Action, "actor_id", r.ActorID, "err", err)
	}
}

// AuditEntry is one row of GET /admin/audit.
type AuditEntry struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	ActorID   *string   `json:"actor_id"`
	ActorKind ActorKind `json:"actor_kind"`
	Action    string    `json:"action"`
	Target    *string   `json:"target"`
	Result    string    `json:"result"`
	RemoteIP  *string   `json:"remote_ip"`
}

// AuditPage is a page of the audit log.
type AuditPage struct {
	Items      []AuditEntry `json:"items"`
	NextCursor *string      `json:"next_cursor"`
	Total      int          `json:"total"`
}

// ListAuditRequest is GET /admin/audit's query.
type ListAuditRequest struct {
	ActorID string
	Action  string
	From    time.Time // zero: unbounded; inclusive
	To      time.Time // zero: unbounded; inclusive
	Limit   int       // 0: 50; 1-200
	Cursor  string
}

// ListAudit is GET /admin/audit (Auth A): newest first, keyset pagination.
func (s *Service) ListAudit(ctx context.Context, c Caller, req ListAuditRequest) (*AuditPage, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	var v validator
	limit := pageLimit(&v, req.Limit)
	if len(req.ActorID) > 64 {
		v.add("actor_id", "max", "64")
	}
	if len(req.Action) > 64 {
		v.add("action", "max", "64")
	}
	if !req.From.IsZero() && !req.To.IsZero() && req.To.Before(req.From) {
		v.add("to", "gtefield", "from")
	}
	cur, err := decodeCursor(req.Cursor, cursorAudit, "", false)
	if err != nil {
		v.errs = append(v.errs, cursorFieldError)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	q := AuditQuery{ActorID: req.ActorID, Action: req.Action, From: req.From.UTC(), To: req.To.UTC(), Limit: limit + 1}
	if cur != nil {
		q.Before = cur.ID
	}
	rows, total, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, s.wrap("listing the audit log", err)
	}
	page := &AuditPage{Items: make([]AuditEntry, 0, min(len(rows), limit)), Total: total}
	if len(rows) > limit {
		rows = rows[:limit]
		next := encodeCursor(cursor{List: cursorAudit, ID: rows[len(rows)-1].ID})
		page.NextCursor = &next
	}
	for _, r := range rows {
		page.Items = append(page.Items, AuditEntry{
			ID: r.ID, At: r.At.UTC(), ActorID: strPtr(r.ActorID), ActorKind: r.ActorKind, Action: r.Action,
			Target: strPtr(r.Target), Result: r.Result, RemoteIP: strPtr(r.RemoteIP),
		})
	}
	return page, nil
}
