package auth

import (
	"context"
	"errors"
	"time"
)

// MCP-token rules (API.md §3.11).
const (
	MaxMCPTokenLifetime = 365 * 24 * time.Hour
	MaxActiveMCPTokens  = 20
	MaxMCPTokenNameLen  = 64
)

// MCPTokenRequest is the input of CreateMCPToken.
type MCPTokenRequest struct {
	Name      string // 1-64 printable characters, unique among live tokens
	Scope     Scope
	ExpiresAt time.Time // mandatory, in the future, at most 365 days ahead
}

// IssuedMCPToken is a created MCP token.
type IssuedMCPToken struct {
	// Token is the wlm_; it is in no other answer.
	Token      Token
	Credential Credential
}

// CreateMCPToken mints a wlm_ for p's user (p must be "I").
// MCP_TOKEN_NAME_TAKEN, MCP_TOKEN_LIMIT_REACHED (20 live), VALIDATION_FAILED.
func (s *Service) CreateMCPToken(ctx context.Context, p Principal, req MCPTokenRequest) (*IssuedMCPToken, error) {
	if err := requireInteractive(p); err != nil {
		return nil, err
	}
	now := s.clock()
	var v validator
	if req.Name == "" {
		v.add("name", "required", "")
	} else if err := checkLabel("name", req.Name, MaxMCPTokenNameLen); err != nil {
		return nil, err
	}
	if req.Scope != ScopeRead && req.Scope != ScopeWrite {
		v.add("scope", "oneof", "read write")
	}
	exp := req.ExpiresAt.UTC().Truncate(time.Millisecond)
	if !exp.After(now) || exp.After(now.Add(MaxMCPTokenLifetime)) {
		v.add("expires_at", "range", "future, at most 365 days")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	tok, err := newOpaqueToken(s.rand, KindMCP)
	if err != nil {
		return nil, err
	}
	id, err := s.newID(PrefixMCP, now)
	if err != nil {
		return nil, err
	}
	c := Credential{ID: id, Kind: KindMCP, Hash: tok.Hash(), UserID: p.UserID, Label: req.Name, Scope: string(req.Scope), CreatedAt: now, ExpiresAt: exp}
	switch _, err := s.store.CreateCredential(ctx, c, Limit{Max: MaxActiveMCPTokens, UniqueLabel: true}); {
	case errors.Is(err, ErrConflict):
		return nil, fail(ErrMCPTokenNameTaken)
	case errors.Is(err, ErrLimitReached):
		e := fail(ErrMCPTokenLimitReached)
		e.Limit = MaxActiveMCPTokens
		return nil, e
	case errors.Is(err, ErrNotFound):
		return nil, fail(ErrUserNotFound)
	case err != nil:
		return nil, storeErr("storing an mcp token", err)
	}
	return &IssuedMCPToken{Token: tok, Credential: c}, nil
}

// ListMCPTokens returns the user's MCP tokens, live ones only unless
// includeRevoked (then revoked and expired ones too, until purged).
func (s *Service) ListMCPTokens(ctx context.Context, userID string, includeRevoked bool) ([]Credential, error) {
	q := CredentialQuery{UserID: userID, Kind: KindMCP}
	if !includeRevoked {
		q.LiveAt = s.now()
	}
	cs, err := s.store.ListCredentials(ctx, q)
	if err != nil {
		return nil, storeErr("listing mcp tokens", err)
	}
	return cs, nil
}

// RevokeMCPToken revokes one of the user's MCP tokens (idempotent) and
// returns it. MCP_TOKEN_NOT_FOUND.
func (s *Service) RevokeMCPToken(ctx context.Context, userID, tokenID string) (Credential, error) {
	var c Credential
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.RevokeCredentials(ctx, userID, Selector{IDs: []string{tokenID}, Kinds: []Kind{KindMCP}}, s.clock()); err != nil {
			return storeErr("revoking an mcp token", err)
		}
		cs, err := s.store.CredentialsByID(ctx, []string{tokenID})
		if err != nil {
			return storeErr("looking an mcp token up", err)
		}
		if len(cs) != 1 || cs[0].UserID != userID || cs[0].Kind != KindMCP {
			return fail(ErrMCPTokenNotFound)
		}
		c = cs[0]
		return nil
	})
	if err != nil {
		return Credential{}, err
	}
	s.invalidate(ctx, userID)
	return c, nil
}

// Lifetimes of the query-parameter credentials (API.md §1.4).
const (
	DownloadTokenTTL = 5 * time.Minute
	EventTicketTTL   = 30 * time.Second
	maxResourceKind  = 32
	maxResourceID    = 128
)

// Grant is what a verified download token allows: one resource.
type Grant struct {
	UserID       string
	AgentID      string // when issued to an agent
	Issuer       string // credential id of the principal that asked for it
	ResourceKind string // e.g. "artifact", "snapshot"
	ResourceID   string
	ExpiresAt    time.Time
}

// IssueDownloadToken mints a wdt_ bound to (resourceKind, resourceID, p's
// credential), valid 5 minutes and reusable within them for that resource
// only.
func (s *Service) IssueDownloadToken(ctx context.Context, p Principal, resourceKind, resourceID string) (Token, Grant, error) {
	var v validator
	if resourceKind == "" || len(resourceKind) > maxResourceKind {
		v.add("resource_kind", "range", "1-32")
	}
	if resourceID == "" || len(resourceID) > maxResourceID {
		v.add("resource_id", "range", "1-128")
	}
	if err := v.err(); err != nil {
		return Token{}, Grant{}, err
	}
	now := s.clock()
	tok, err := newOpaqueToken(s.rand, KindDownload)
	if err != nil {
		return Token{}, Grant{}, err
	}
	id, err := s.newID(PrefixCredential, now)
	if err != nil {
		return Token{}, Grant{}, err
	}
	c := Credential{
		ID: id, Kind: KindDownload, Hash: tok.Hash(), UserID: p.UserID, ParentID: p.CredentialID,
		Scope: resourceKind, Resource: resourceID, CreatedAt: now, ExpiresAt: now.Add(DownloadTokenTTL),
	}
	if p.Kind == KindDevice {
		c.AgentID = p.AgentID // deleted with the agent
	}
	switch _, err := s.store.CreateCredential(ctx, c, Limit{}); {
	case errors.Is(err, ErrNotFound):
		return Token{}, Grant{}, fail(ErrInvalidToken)
	case err != nil:
		return Token{}, Grant{}, storeErr("storing a download token", err)
	}
	return tok, grantOf(c), nil
}

func grantOf(c Credential) Grant {
	return Grant{UserID: c.UserID, AgentID: c.AgentID, Issuer: c.ParentID, ResourceKind: c.Scope, ResourceID: c.Resource, ExpiresAt: c.ExpiresAt}
}

// VerifyDownloadToken checks a download token for one resource: another
// kind of token, or another resource, is TOKEN_SCOPE_MISMATCH; unknown
// INVALID_TOKEN; TOKEN_EXPIRED; TOKEN_REVOKED; ACCOUNT_DISABLED.
func (s *Service) VerifyDownloadToken(ctx context.Context, tok Token, resourceKind, resourceID string) (Grant, error) {
	switch k := tok.Kind(); {
	case tok.IsZero():
		return Grant{}, fail(ErrAuthRequired)
	case k == KindDownload:
	case k.opaque() || k == KindJWT:
		return Grant{}, fail(ErrTokenScopeMismatch)
	default:
		return Grant{}, fail(ErrInvalidToken)
	}
	c, err := s.store.CredentialByHash(ctx, tok.Hash())
	if errors.Is(err, ErrNotFound) || (err == nil && c.Kind != KindDownload) {
		return Grant{}, fail(ErrInvalidToken)
	}
	if err != nil {
		return Grant{}, storeErr("looking a download token up", err)
	}
	if err := checkLive(c.ExpiresAt, c.RevokedAt, s.now()); err != nil {
		return Grant{}, err
	}
	if c.Scope != resourceKind || c.Resource != resourceID {
		return Grant{}, fail(ErrTokenScopeMismatch)
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Grant{}, fail(ErrInvalidToken)
	} else if err != nil {
		return Grant{}, storeErr("looking a user up", err)
	}
	if u.Disabled {
		return Grant{}, fail(ErrAccountDisabled)
	}
	return grantOf(c), nil
}

// IssueEventTicket mints a wet_ for p: valid 30 s, single use, accepted by
// GET /events only.
func (s *Service) IssueEventTicket(ctx context.Context, p Principal) (Token, time.Time, error) {
	now := s.clock()
	tok, err := newOpaqueToken(s.rand, KindEventTicket)
	if err != nil {
		return Token{}, time.Time{}, err
	}
	id, err := s.newID(PrefixCredential, now)
	if err != nil {
		return Token{}, time.Time{}, err
	}
	c := Credential{ID: id, Kind: KindEventTicket, Hash: tok.Hash(), UserID: p.UserID, ParentID: p.CredentialID, CreatedAt: now, ExpiresAt: now.Add(EventTicketTTL)}
	switch _, err := s.store.CreateCredential(ctx, c, Limit{}); {
	case errors.Is(err, ErrNotFound):
		return Token{}, time.Time{}, fail(ErrInvalidToken)
	case err != nil:
		return Token{}, time.Time{}, storeErr("storing an event ticket", err)
	}
	return tok, c.ExpiresAt, nil
}

// RedeemEventTicket consumes an event ticket (single use) and returns the
// principal of its issuer (Kind KindEventTicket, ParentID the issuer's
// credential id). INVALID_TOKEN (unknown or already used),
// TOKEN_EXPIRED, TOKEN_SCOPE_MISMATCH (another kind), ACCOUNT_DISABLED.
func (s *Service) RedeemEventTicket(ctx context.Context, tok Token) (Principal, error) {
	switch k := tok.Kind(); {
	case tok.IsZero():
		return Principal{}, fail(ErrAuthRequired)
	case k == KindEventTicket:
	case k.opaque() || k == KindJWT:
		return Principal{}, fail(ErrTokenScopeMismatch)
	default:
		return Principal{}, fail(ErrInvalidToken)
	}
	c, err := s.store.ConsumeCredential(ctx, tok.Hash(), s.clock())
	switch {
	case err == nil && c.Kind != KindEventTicket, errors.Is(err, ErrNotFound), errors.Is(err, ErrUsed):
		return Principal{}, fail(ErrInvalidToken)
	case errors.Is(err, ErrExpired):
		return Principal{}, fail(ErrTokenExpired)
	case errors.Is(err, ErrRevoked):
		return Principal{}, fail(ErrTokenRevoked)
	case err != nil:
		return Principal{}, storeErr("consuming an event ticket", err)
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fail(ErrInvalidToken)
	} else if err != nil {
		return Principal{}, storeErr("looking a user up", err)
	}
	if u.Disabled {
		return Principal{}, fail(ErrAccountDisabled)
	}
	return principalOf(c, u), nil
}

// DefaultRetention is how long Purge keeps revoked and expired rows, so
// that such tokens answer TOKEN_REVOKED/TOKEN_EXPIRED rather than
// INVALID_TOKEN for a while.
const DefaultRetention = 7 * 24 * time.Hour

// Purge deletes credentials, claim codes and denylisted JWT ids that
// expired or were revoked more than retention ago (0 means
// DefaultRetention). The Service starts no goroutine: the server calls
// Purge periodically (hourly is plenty).
func (s *Service) Purge(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	n, err := s.store.Purge(ctx, s.clock().Add(-retention))
	if err != nil {
		return 0, storeErr("purging", err)
	}
	return n, nil
}
