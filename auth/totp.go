package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238, API.md §3.1).
const (
	TOTPDigits       = 6
	TOTPPeriod       = 30 * time.Second
	TOTPAlgorithm    = "SHA1"
	TOTPSecretBytes  = 20 // 160 bits
	TOTPEnrollWindow = 10 * time.Minute
	totpSkew         = 1 // ±1 step
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// limitUser applies the per-user limiter of password and TOTP checks made
// by signed-in users.
func (s *Service) limitUser(userID string) error {
	if ok, d := s.userLimit.allow(userID, s.now()); !ok {
		return rateLimited("user", s.loginBurst, d)
	}
	return nil
}

// totpStep matches code against secret at now ±1 step, in constant time per
// candidate, and returns the matching step.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	step := now.Unix() / int64(TOTPPeriod/time.Second)
	found, match := int64(0), false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		c := step + d
		if c < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(c), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !match {
			found, match = c, true
		}
	}
	return found, match
}

// acceptTOTP checks a TOTP code and records its step, refusing a step not
// newer than the last accepted one (reuse). TOTP_INVALID otherwise.
func (s *Service) acceptTOTP(ctx context.Context, u User, secret, code string, now time.Time) error {
	step, ok := totpStep(secret, code, now)
	if !ok || step <= u.TOTPLastStep {
		return fail(ErrTOTPInvalid)
	}
	switch err := s.store.AcceptTOTPStep(ctx, u.ID, step); {
	case errors.Is(err, ErrConflict):
		return fail(ErrTOTPInvalid)
	case err != nil:
		return userErr(err)
	}
	return nil
}

// useRecoveryCode consumes one recovery code, or TOTP_INVALID.
func (s *Service) useRecoveryCode(ctx context.Context, u User, code string, now time.Time) error {
	canon, ok := normalizeRecoveryCode(code)
	if !ok {
		return fail(ErrTOTPInvalid)
	}
	switch err := s.store.UseRecoveryCode(ctx, u.ID, recoveryHash(u.ID, canon), now); {
	case errors.Is(err, ErrNotFound):
		return fail(ErrTOTPInvalid)
	case err != nil:
		return storeErr("using a recovery code", err)
	}
	return nil
}

// TOTPEnrollment is the answer of EnrollTOTP. Secret and URL (which holds
// the secret) are Tokens: they print redacted; Reveal them into the answer.
type TOTPEnrollment struct {
	Secret    Token // base32, 160 bits
	URL       Token // otpauth://totp/...
	Issuer    string
	Digits    int
	Period    time.Duration
	Algorithm string
	ExpiresAt time.Time
}

// reauth checks p is "I", applies the per-user limiter and verifies the
// password; INVALID_CREDENTIALS when wrong.
func (s *Service) reauth(ctx context.Context, p Principal, password string) (User, error) {
	if err := requireInteractive(p); err != nil {
		return User{}, err
	}
	if err := s.limitUser(p.UserID); err != nil {
		return User{}, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return User{}, userErr(err)
	}
	ok, _, err := s.checkPassword(ctx, u, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, fail(ErrInvalidCredentials)
	}
	return u, nil
}

// EnrollTOTP starts 2FA enrollment for p's user ("I"), after checking the
// password: a fresh secret, live for 10 minutes until ConfirmTOTP.
// INVALID_CREDENTIALS, TOTP_ALREADY_ENABLED.
func (s *Service) EnrollTOTP(ctx context.Context, p Principal, password string) (*TOTPEnrollment, error) {
	u, err := s.reauth(ctx, p, password)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled() {
		return nil, fail(ErrTOTPAlreadyEnabled)
	}
	raw := make([]byte, TOTPSecretBytes)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return nil, fmt.Errorf("auth: reading randomness: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.totpIssuer,
		AccountName: u.Username,
		Period:      uint(TOTPPeriod / time.Second),
		Secret:      raw,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: building the otpauth URL: %w", err)
	}
	secret := Secret(b32.EncodeToString(raw))
	exp := s.clock().Add(TOTPEnrollWindow)
	if _, err := s.store.UpdateUser(ctx, u.ID, UserPatch{TOTPPendingSecret: &secret, TOTPPendingExpiresAt: &exp}); err != nil {
		return nil, userErr(err)
	}
	return &TOTPEnrollment{
		Secret:    Token{kind: KindTOTPSecret, raw: string(secret)},
		URL:       Token{kind: KindTOTPSecret, raw: key.URL()},
		Issuer:    s.totpIssuer,
		Digits:    TOTPDigits,
		Period:    TOTPPeriod,
		Algorithm: TOTPAlgorithm,
		ExpiresAt: exp,
	}, nil
}

// TOTPConfirmation is the answer of ConfirmTOTP.
type TOTPConfirmation struct {
	EnabledAt time.Time
	// RecoveryCodes are shown once (xxxx-xxxx); only hashes are stored.
	RecoveryCodes []Token
}

// ConfirmTOTP turns 2FA on with the first valid code of a live enrollment
// and returns 10 recovery codes. TOTP_NOT_ENROLLED, TOTP_ALREADY_ENABLED,
// TOTP_INVALID.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) (*TOTPConfirmation, error) {
	if err := requireInteractive(p); err != nil {
		return nil, err
	}
	if err := s.limitUser(p.UserID); err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, userErr(err)
	}
	if u.TOTPEnabled() {
		return nil, fail(ErrTOTPAlreadyEnabled)
	}
	now := s.clock()
	if u.TOTPPendingSecret == "" || !now.Before(u.TOTPPendingExpiresAt) {
		return nil, fail(ErrTOTPNotEnrolled)
	}
	codes, hashes, err := s.newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.acceptTOTP(ctx, u, string(u.TOTPPendingSecret), code, now); err != nil {
			return err
		}
		empty, none := Secret(""), time.Time{}
		secret := u.TOTPPendingSecret
		if _, err := s.store.UpdateUser(ctx, u.ID, UserPatch{
			TOTPSecret: &secret, TOTPEnabledAt: &now, TOTPPendingSecret: &empty, TOTPPendingExpiresAt: &none,
		}); err != nil {
			return userErr(err)
		}
		if err := s.store.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
			return userErr(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &TOTPConfirmation{EnabledAt: now, RecoveryCodes: codes}, nil
}

func (s *Service) newRecoveryCodes(userID string) ([]Token, []Hash, error) {
	codes := make([]Token, RecoveryCodeCount)
	hashes := make([]Hash, RecoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode(s.rand)
		if err != nil {
			return nil, nil, err
		}
		codes[i], hashes[i] = c, recoveryHash(userID, c.raw)
	}
	return codes, hashes, nil
}

// RegenerateRecoveryCodes replaces the recovery codes (the old set is
// void) after checking the password and a TOTP code. INVALID_CREDENTIALS,
// TOTP_NOT_ENABLED, TOTP_INVALID.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, password, code string) ([]Token, error) {
	u, err := s.reauth(ctx, p, password)
	if err != nil {
		return nil, err
	}
	if !u.TOTPEnabled() {
		return nil, fail(ErrTOTPNotEnabled)
	}
	codes, hashes, err := s.newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.acceptTOTP(ctx, u, string(u.TOTPSecret), code, s.clock()); err != nil {
			return err
		}
		return userErr0(s.store.ReplaceRecoveryCodes(ctx, u.ID, hashes))
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns 2FA off after checking the password and a TOTP or
// recovery code. INVALID_CREDENTIALS, TOTP_NOT_ENABLED, TOTP_INVALID.
func (s *Service) DisableTOTP(ctx context.Context, p Principal, password, code string) error {
	u, err := s.reauth(ctx, p, password)
	if err != nil {
		return err
	}
	if !u.TOTPEnabled() {
		return fail(ErrTOTPNotEnabled)
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		now := s.clock()
		if _, ok := totpStep(string(u.TOTPSecret), code, now); ok {
			if err := s.acceptTOTP(ctx, u, string(u.TOTPSecret), code, now); err != nil {
				return err
			}
		} else if err := s.useRecoveryCode(ctx, u, code, now); err != nil {
			return err
		}
		var patch UserPatch
		addTOTPOff(&patch)
		if _, err := s.store.UpdateUser(ctx, u.ID, patch); err != nil {
			return userErr(err)
		}
		return userErr0(s.store.ReplaceRecoveryCodes(ctx, u.ID, nil))
	})
}

// addTOTPOff adds the fields that turn 2FA off to a patch.
func addTOTPOff(p *UserPatch) {
	empty, none := Secret(""), time.Time{}
	p.TOTPSecret, p.TOTPEnabledAt = &empty, &none
	p.TOTPPendingSecret, p.TOTPPendingExpiresAt = &empty, &none
}
