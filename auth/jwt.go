package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTIssuer is both the iss and the aud of access tokens.
const JWTIssuer = "wakelink"

// accessClaims are the claims of an access token (API.md §1.4).
type accessClaims struct {
	Role     Role  `json:"role"`
	Gen      int64 `json:"gen"`
	AuthTime int64 `json:"auth_time"`
	jwt.RegisteredClaims
}

// AccessToken is an issued JWT.
type AccessToken struct {
	Token     Token
	JTI       string
	ExpiresAt time.Time
}

// issueAccess mints a JWT for u. authTime is when the password was last
// proved; cap, if not zero, bounds the expiry (a session's end).
func (s *Service) issueAccess(u User, authTime, now, cap time.Time) (AccessToken, error) {
	jti, err := s.newID("", now)
	if err != nil {
		return AccessToken{}, err
	}
	exp := now.Add(s.accessTTL)
	if !cap.IsZero() && cap.Before(exp) {
		exp = cap
	}
	claims := accessClaims{
		Role:     u.Role,
		Gen:      u.Generation,
		AuthTime: authTime.Unix(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    JWTIssuer,
			Audience:  jwt.ClaimStrings{JWTIssuer},
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        jti,
		},
	}
	s.keyMu.RLock()
	key := s.jwtKey
	s.keyMu.RUnlock()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return AccessToken{}, fmt.Errorf("auth: signing a JWT: %w", err)
	}
	return AccessToken{Token: Token{kind: KindJWT, raw: signed}, JTI: jti, ExpiresAt: time.Unix(exp.Unix(), 0).UTC()}, nil
}

// parseAccess checks a JWT's signature, alg, iss, aud and expiry against
// now and returns its claims. Errors: INVALID_TOKEN, TOKEN_EXPIRED (only
// for an otherwise valid token).
func (s *Service) parseAccess(raw string, now time.Time) (*accessClaims, error) {
	s.keyMu.RLock()
	key := s.jwtKey
	s.keyMu.RUnlock()
	var c accessClaims
	// Claims are checked below rather than by golang-jwt's validator, so an
	// expired token with a bad iss or aud is INVALID_TOKEN, not
	// TOKEN_EXPIRED. The signature and alg are checked first either way.
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation(),
	)
	if err != nil || c.Issuer != JWTIssuer || !slices.Contains(c.Audience, JWTIssuer) ||
		c.ExpiresAt == nil || c.IssuedAt == nil || c.ID == "" || !strings.HasPrefix(c.Subject, PrefixUser) ||
		(c.NotBefore != nil && now.Before(c.NotBefore.Time)) {
		return nil, fail(ErrInvalidToken)
	}
	if !now.Before(c.ExpiresAt.Time) {
		return nil, fail(ErrTokenExpired)
	}
	return &c, nil
}

// RotateSigningKey replaces the JWT key with a fresh one, stored through the
// Store (API.md §3.7: a restore rotates it), so every JWT issued before is
// INVALID_TOKEN. Other nodes pick the key up when they restart. It fails
// when the key comes from Config.JWTKey.
func (s *Service) RotateSigningKey(ctx context.Context) error {
	if s.keyCfg {
		return errors.New("auth: the JWT key comes from the configuration")
	}
	key := make([]byte, MinJWTKeyLen)
	if _, err := io.ReadFull(s.rand, key); err != nil {
		return fmt.Errorf("auth: reading randomness: %w", err)
	}
	if err := s.store.PutSecret(ctx, jwtKeySecret, key); err != nil {
		return storeErr("storing the JWT key", err)
	}
	swap := func() {
		s.keyMu.Lock()
		s.jwtKey = key
		s.keyMu.Unlock()
		s.cache.invalidateAll()
	}
	s.store.AfterCommit(ctx, swap)
	return nil
}
