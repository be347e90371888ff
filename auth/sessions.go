package auth

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxLabelLen bounds a session label (characters).
const MaxLabelLen = 64

// SessionRequest asks for a session token.
type SessionRequest struct {
	// Label is an optional label of at most 64 printable characters.
	Label string
	// Relay mints the session a relay connection authenticated with a wl_
	// gets (created_via relay): counted under the relay cap apart from the
	// sessions of POST /auth/session (API.md §4.2).
	Relay bool
}

// IssuedSession is a freshly minted session token.
type IssuedSession struct {
	// Token is the wls_; it is in no other answer.
	Token   Token
	Session Credential
	// Evicted are the ids of the oldest sessions revoked to respect the
	// cap: the caller kicks relay connections carrying them (4001).
	Evicted []string
}

// CreateSession mints a wls_ for p: from a JWT (created_via password) or a
// wl_ (api_token; relay when req.Relay); a wls_ or any other kind is
// TOKEN_SCOPE_MISMATCH. Its lifetime is the SessionTTL setting, fixed now.
// At most MaxSessionsPerUser sessions of POST /auth/session and, apart,
// MaxRelaySessionsPerUser relay sessions live per user: the oldest of the
// same pool are revoked (Evicted).
func (s *Service) CreateSession(ctx context.Context, p Principal, req SessionRequest) (*IssuedSession, error) {
	set := s.Settings()
	lim := Limit{Evict: true}
	var via CreatedVia
	switch {
	case req.Relay && p.Kind == KindAccount:
		via = ViaRelay
		lim.Max, lim.Vias = set.MaxRelaySessionsPerUser, []CreatedVia{ViaRelay}
	case !req.Relay && p.Kind == KindJWT:
		via = ViaPassword
	case !req.Relay && p.Kind == KindAccount:
		via = ViaAPIToken
	default:
		return nil, fail(ErrTokenScopeMismatch)
	}
	if via != ViaRelay {
		lim.Max, lim.Vias = set.MaxSessionsPerUser, []CreatedVia{ViaPassword, ViaAPIToken}
	}
	if err := checkLabel("label", req.Label, MaxLabelLen); err != nil {
		return nil, err
	}
	now := s.clock()
	tok, err := newOpaqueToken(s.rand, KindSession)
	if err != nil {
		return nil, err
	}
	id, err := s.newID(PrefixSession, now)
	if err != nil {
		return nil, err
	}
	c := Credential{
		ID:         id,
		Kind:       KindSession,
		Hash:       tok.Hash(),
		UserID:     p.UserID,
		Label:      req.Label,
		CreatedVia: via,
		Generation: p.Generation,
		CreatedAt:  now,
		ExpiresAt:  now.Add(set.SessionTTL),
	}
	if p.Kind == KindAccount {
		c.ParentID = p.CredentialID
	}
	evicted, err := s.store.CreateCredential(ctx, c, lim)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fail(ErrUserNotFound)
	case err != nil:
		return nil, storeErr("creating a session", err)
	}
	if len(evicted) > 0 {
		s.invalidate(ctx, p.UserID)
	}
	return &IssuedSession{Token: tok, Session: c, Evicted: evicted}, nil
}

// checkLabel validates an optional free-text label: valid UTF-8, at most
// max printable characters.
func checkLabel(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid(FieldError{Field: field, Rule: "utf8"})
	}
	if utf8.RuneCountInString(s) > max {
		return invalid(FieldError{Field: field, Rule: "max", Param: strconv.Itoa(max)})
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return invalid(FieldError{Field: field, Rule: "printable"})
		}
	}
	return nil
}

// ListSessions returns the user's live sessions, oldest first (at most the
// two caps together).
func (s *Service) ListSessions(ctx context.Context, userID string) ([]Credential, error) {
	cs, err := s.store.ListCredentials(ctx, CredentialQuery{UserID: userID, Kind: KindSession, LiveAt: s.now()})
	if err != nil {
		return nil, storeErr("listing sessions", err)
	}
	return cs, nil
}

// DeleteSession revokes one live session of the user; it returns the
// revoked ids for the kick (4001). SESSION_NOT_FOUND if the user has no
// such live session.
func (s *Service) DeleteSession(ctx context.Context, userID, sessionID string) ([]string, error) {
	ids, err := s.store.RevokeCredentials(ctx, userID, Selector{IDs: []string{sessionID}, Kinds: []Kind{KindSession}}, s.clock())
	if err != nil {
		return nil, storeErr("revoking a session", err)
	}
	if len(ids) == 0 {
		return nil, fail(ErrSessionNotFound)
	}
	s.invalidate(ctx, userID)
	return ids, nil
}

// Logout revokes the presented credential: a JWT's jti is denylisted until
// its expiry, a session is revoked. A wl_ (or any other kind) is
// TOKEN_SCOPE_MISMATCH. It returns the revoked credential ids (the
// session's, for the kick; none for a JWT).
func (s *Service) Logout(ctx context.Context, p Principal) ([]string, error) {
	switch p.Kind {
	case KindJWT:
		if err := s.store.DenyJTI(ctx, p.CredentialID, p.UserID, p.ExpiresAt); err != nil {
			return nil, storeErr("denylisting a JWT", err)
		}
		s.invalidate(ctx, p.UserID)
		return nil, nil
	case KindSession:
		ids, err := s.store.RevokeCredentials(ctx, p.UserID, Selector{IDs: []string{p.CredentialID}}, s.clock())
		if err != nil {
			return nil, storeErr("revoking a session", err)
		}
		s.invalidate(ctx, p.UserID)
		return ids, nil
	}
	return nil, fail(ErrTokenScopeMismatch)
}

// LogoutResult is the answer of LogoutEverywhere.
type LogoutResult struct {
	// RevokedSessions are the ses_ ids revoked.
	RevokedSessions []string
	// APIToken is the new wl_ when one was asked for, else nil.
	APIToken *IssuedAPIToken
	// Revoked lists every credential id revoked (sessions, and the old wl_
	// when rotated), for kicks.
	Revoked []string
}

// LogoutEverywhere revokes every JWT and session of p's user (generation
// bump) and, with rotateAPIToken, the wl_ too (a new one is returned). p
// must be interactive ("I"). Device and MCP tokens survive.
func (s *Service) LogoutEverywhere(ctx context.Context, p Principal, rotateAPIToken bool) (*LogoutResult, error) {
	if err := requireInteractive(p); err != nil {
		return nil, err
	}
	var res LogoutResult
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		res = LogoutResult{}
		now := s.clock()
		if _, err := s.store.UpdateUser(ctx, p.UserID, UserPatch{BumpGeneration: true}); err != nil {
			return userErr(err)
		}
		ids, err := s.store.RevokeCredentials(ctx, p.UserID, Selector{Kinds: []Kind{KindSession}}, now)
		if err != nil {
			return storeErr("revoking sessions", err)
		}
		res.RevokedSessions = ids
		res.Revoked = append(res.Revoked, ids...)
		if rotateAPIToken {
			t, err := s.mintAPIToken(ctx, p.UserID, now)
			if err != nil {
				return err
			}
			res.APIToken = t
			res.Revoked = append(res.Revoked, t.Revoked...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, p.UserID)
	return &res, nil
}

// Refresh issues a new JWT for p: a JWT (refreshable until its auth_time +
// Config.ReauthAfter, else REAUTH_REQUIRED) keeps its auth_time; a session
// created via password gives one expiring no later than the session. Any
// other credential is TOKEN_SCOPE_MISMATCH.
func (s *Service) Refresh(ctx context.Context, p Principal) (AccessToken, error) {
	now := s.clock()
	var cap time.Time
	switch {
	case p.Kind == KindJWT:
		if !now.Before(p.AuthTime.Add(s.reauthAfter)) {
			return AccessToken{}, fail(ErrReauthRequired)
		}
	case p.Kind == KindSession && p.CreatedVia == ViaPassword:
		cap = p.ExpiresAt
	default:
		return AccessToken{}, fail(ErrTokenScopeMismatch)
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return AccessToken{}, userErr(err)
	}
	if u.Disabled {
		return AccessToken{}, fail(ErrAccountDisabled)
	}
	if u.Generation != p.Generation {
		return AccessToken{}, fail(ErrTokenRevoked)
	}
	return s.issueAccess(u, p.AuthTime, now, cap)
}

// IssuedAPIToken is a freshly minted account token (wl_).
type IssuedAPIToken struct {
	// Token is the wl_; it is in no other answer.
	Token     Token
	ID        string // its tok_ credential id
	Hint      string
	RotatedAt time.Time
	// Revoked are the credential ids revoked: the previous wl_ and every
	// session minted from it (kick 4001).
	Revoked []string
}

// RotateAPIToken replaces the user's wl_ (and revokes every session minted
// from the old one). p must be interactive ("I").
func (s *Service) RotateAPIToken(ctx context.Context, p Principal) (*IssuedAPIToken, error) {
	if err := requireInteractive(p); err != nil {
		return nil, err
	}
	var t *IssuedAPIToken
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		t, err = s.mintAPIToken(ctx, p.UserID, s.clock())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, p.UserID)
	return t, nil
}

// revokeAPITokens revokes the user's wl_ and the sessions minted from it.
func (s *Service) revokeAPITokens(ctx context.Context, userID string, now time.Time) ([]string, error) {
	old, err := s.store.RevokeCredentials(ctx, userID, Selector{Kinds: []Kind{KindAccount}}, now)
	if err != nil {
		return nil, storeErr("revoking the account token", err)
	}
	revoked := old
	for _, id := range old {
		ids, err := s.store.RevokeCredentials(ctx, userID, Selector{Kinds: []Kind{KindSession}, ParentID: id}, now)
		if err != nil {
			return nil, storeErr("revoking sessions", err)
		}
		revoked = append(revoked, ids...)
	}
	return revoked, nil
}

// mintAPIToken revokes the user's wl_ (and its sessions) and mints a new
// one; call it inside a transaction.
func (s *Service) mintAPIToken(ctx context.Context, userID string, now time.Time) (*IssuedAPIToken, error) {
	revoked, err := s.revokeAPITokens(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	tok, err := newOpaqueToken(s.rand, KindAccount)
	if err != nil {
		return nil, err
	}
	id, err := s.newID(PrefixCredential, now)
	if err != nil {
		return nil, err
	}
	c := Credential{ID: id, Kind: KindAccount, Hash: tok.Hash(), UserID: userID, CreatedAt: now}
	if _, err := s.store.CreateCredential(ctx, c, Limit{}); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fail(ErrUserNotFound)
		}
		return nil, storeErr("storing the account token", err)
	}
	hint := tok.Hint()
	if _, err := s.store.UpdateUser(ctx, userID, UserPatch{APITokenHint: &hint}); err != nil {
		return nil, userErr(err)
	}
	s.invalidate(ctx, userID)
	return &IssuedAPIToken{Token: tok, ID: id, Hint: hint, RotatedAt: now, Revoked: revoked}, nil
}

// userErr maps a Store error about a user.
func userErr(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return fail(ErrUserNotFound)
	case errors.Is(err, ErrNoAdminLeft):
		return fail(ErrLastAdmin)
	}
	return storeErr("updating a user", err)
}
