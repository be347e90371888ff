package auth

import (
	"context"
	"errors"
	"time"
)

// bearerKinds are the kinds Authenticate ever admits; download tokens and
// event tickets are query-parameter credentials with their own methods.
const bearerKinds KindSet = 1<<KindJWT | 1<<KindAccount | 1<<KindSession | 1<<KindDevice | 1<<KindMCP

// Authenticate verifies a credential presented as a Bearer value (or in the
// relay auth frame) and returns its Principal. admit lists the kinds the
// endpoint accepts; a well-formed token of another kind — including a
// download token or event ticket, which are never Bearer credentials — is
// TOKEN_SCOPE_MISMATCH without a lookup (API.md §1.4).
//
// Errors, all *Error, checked in this order: AUTH_REQUIRED (zero Token),
// TOKEN_SCOPE_MISMATCH (kind not admitted), INVALID_TOKEN (unknown, owner
// gone; JWT with a bad signature, alg, iss or aud), TOKEN_EXPIRED,
// ACCOUNT_DISABLED (owner disabled: it wins over the revocation that
// disabling implies, so clients learn why), TOKEN_REVOKED (revoked,
// rotated past its grace, older generation, denylisted jti). The role and
// the "I" rule (Principal.Interactive) are the caller's to check.
//
// Verified credentials are cached (Config.CacheSize, CacheTTL): a hit costs
// a SHA-256 of the token and a map lookup. Sessions and MCP tokens get
// their last_used_at written at most once per Config.TouchInterval.
func (s *Service) Authenticate(ctx context.Context, tok Token, admit KindSet) (Principal, error) {
	k := tok.Kind()
	switch {
	case tok.IsZero():
		return Principal{}, fail(ErrAuthRequired)
	case k == KindDownload || k == KindEventTicket:
		return Principal{}, fail(ErrTokenScopeMismatch)
	case !bearerKinds.Has(k):
		return Principal{}, fail(ErrInvalidToken)
	case !admit.Has(k):
		return Principal{}, fail(ErrTokenScopeMismatch)
	}
	now := s.now()
	h := tok.Hash()
	if e := s.cache.get(h, now); e != nil {
		if err := checkLive(e.p.ExpiresAt, e.revokeAt, now); err != nil {
			s.cache.drop(h)
			return Principal{}, err
		}
		s.maybeTouch(ctx, e, now)
		return e.p, nil
	}
	epoch := s.cache.begin()
	var (
		p        Principal
		revokeAt time.Time
		lastUsed time.Time
		err      error
	)
	if k == KindJWT {
		p, err = s.verifyJWT(ctx, tok.raw, now)
	} else {
		p, revokeAt, lastUsed, err = s.verifyOpaque(ctx, h, k, now)
	}
	if err != nil {
		return Principal{}, err
	}
	e := &cacheEntry{p: p, revokeAt: revokeAt, fetched: now}
	e.touched.Store(lastUsed.UnixMilli())
	s.maybeTouch(ctx, e, now)
	s.cache.put(h, e, epoch)
	return p, nil
}

// checkLive applies expiry, then a pending revocation (rotation grace).
func checkLive(expires, revokeAt, now time.Time) error {
	if !expires.IsZero() && !now.Before(expires) {
		return fail(ErrTokenExpired)
	}
	if !revokeAt.IsZero() && !now.Before(revokeAt) {
		return fail(ErrTokenRevoked)
	}
	return nil
}

// maybeTouch writes last_used_at of a session or MCP token when the last
// write is older than the touch interval. A failure is logged, not
// returned: it must not fail an authentication.
func (s *Service) maybeTouch(ctx context.Context, e *cacheEntry, now time.Time) {
	if e.p.Kind != KindSession && e.p.Kind != KindMCP {
		return
	}
	last := e.touched.Load()
	nowMS := now.UnixMilli()
	if nowMS-last < s.touchEvery.Milliseconds() || !e.touched.CompareAndSwap(last, nowMS) {
		return
	}
	if err := s.store.TouchCredential(ctx, e.p.CredentialID, now.UTC().Truncate(time.Millisecond)); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("auth: recording last use failed", "credential_id", e.p.CredentialID, "err", err)
	}
}

// verifyOpaque looks an opaque credential up by hash. It returns the
// principal, the credential's pending revocation time and its last use.
func (s *Service) verifyOpaque(ctx context.Context, h Hash, k Kind, now time.Time) (Principal, time.Time, time.Time, error) {
	c, err := s.store.CredentialByHash(ctx, h)
	if errors.Is(err, ErrNotFound) || (err == nil && c.Kind != k) {
		return Principal{}, time.Time{}, time.Time{}, fail(ErrInvalidToken)
	}
	if err != nil {
		return Principal{}, time.Time{}, time.Time{}, storeErr("looking a credential up", err)
	}
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return Principal{}, time.Time{}, time.Time{}, fail(ErrTokenExpired)
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, time.Time{}, time.Time{}, fail(ErrInvalidToken)
	}
	if err != nil {
		return Principal{}, time.Time{}, time.Time{}, storeErr("looking a user up", err)
	}
	if u.Disabled {
		return Principal{}, time.Time{}, time.Time{}, fail(ErrAccountDisabled)
	}
	if err := checkLive(c.ExpiresAt, c.RevokedAt, now); err != nil {
		return Principal{}, time.Time{}, time.Time{}, err
	}
	if k == KindSession && c.Generation != u.Generation {
		return Principal{}, time.Time{}, time.Time{}, fail(ErrTokenRevoked)
	}
	return principalOf(c, u), c.RevokedAt, c.LastUsedAt, nil
}

func principalOf(c Credential, u User) Principal {
	p := Principal{
		UserID:       u.ID,
		Role:         u.Role,
		Kind:         c.Kind,
		CredentialID: c.ID,
		ParentID:     c.ParentID,
		AgentID:      c.AgentID,
		CreatedVia:   c.CreatedVia,
		Generation:   u.Generation,
		IssuedAt:     c.CreatedAt,
		ExpiresAt:    c.ExpiresAt,
	}
	switch c.Kind {
	case KindSession:
		p.Generation = c.Generation
		if c.CreatedVia == ViaPassword {
			p.AuthTime = c.CreatedAt
		}
	case KindMCP:
		p.Scope = Scope(c.Scope)
	}
	return p
}

// verifyJWT checks an access token: signature and claims, then the
// denylist and the user's generation and state.
func (s *Service) verifyJWT(ctx context.Context, raw string, now time.Time) (Principal, error) {
	c, err := s.parseAccess(raw, now)
	if err != nil {
		return Principal{}, err
	}
	u, err := s.store.UserByID(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fail(ErrInvalidToken)
	}
	if err != nil {
		return Principal{}, storeErr("looking a user up", err)
	}
	if u.Disabled {
		return Principal{}, fail(ErrAccountDisabled)
	}
	denied, err := s.store.JTIDenied(ctx, c.ID)
	if err != nil {
		return Principal{}, storeErr("checking the JWT denylist", err)
	}
	if denied || c.Gen != u.Generation {
		return Principal{}, fail(ErrTokenRevoked)
	}
	return Principal{
		UserID:       u.ID,
		Role:         u.Role,
		Kind:         KindJWT,
		CredentialID: c.ID,
		Generation:   c.Gen,
		AuthTime:     time.Unix(c.AuthTime, 0).UTC(),
		IssuedAt:     c.IssuedAt.UTC(),
		ExpiresAt:    c.ExpiresAt.UTC(),
	}, nil
}

// MaxRevalidate bounds the ids of one Revalidate call (API.md §3.12).
const MaxRevalidate = 1000

// Revalidate answers the relay's periodic check (API.md §4.8): of the
// credential ids given (tok_, ses_, mcp_; at most 1000), it returns those
// no longer valid — unknown, revoked (grace ended), expired, of an older
// generation, or whose user is disabled or gone. It bypasses the cache.
func (s *Service) Revalidate(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) > MaxRevalidate {
		return nil, invalid(FieldError{Field: "credential_ids", Rule: "max", Param: "1000"})
	}
	if len(ids) == 0 {
		return nil, nil
	}
	creds, err := s.store.CredentialsByID(ctx, ids)
	if err != nil {
		return nil, storeErr("looking credentials up", err)
	}
	now := s.now()
	byID := make(map[string]Credential, len(creds))
	for _, c := range creds {
		byID[c.ID] = c
	}
	users := make(map[string]*User)
	var revoked []string
	for _, id := range ids {
		c, ok := byID[id]
		if !ok || checkLive(c.ExpiresAt, c.RevokedAt, now) != nil {
			revoked = append(revoked, id)
			continue
		}
		u, seen := users[c.UserID]
		if !seen {
			got, err := s.store.UserByID(ctx, c.UserID)
			switch {
			case err == nil:
				u = &got
			case !errors.Is(err, ErrNotFound):
				return nil, storeErr("looking a user up", err)
			}
			users[c.UserID] = u
		}
		if u == nil || u.Disabled || (c.Kind == KindSession && c.Generation != u.Generation) {
			revoked = append(revoked, id)
		}
	}
	return revoked, nil
}
