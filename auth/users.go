package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Username and email bounds (API.md §3.0).
const (
	MinUsernameLen = 3
	MaxUsernameLen = 32
	MaxEmailLen    = 254
)

// NewAccount is the input of Setup, Register and CreateUser.
type NewAccount struct {
	Username string // case-insensitive; stored lower-case
	Password string
	Email    string // optional
	// Role and AgentsLimit are used by CreateUser only (admin): Role
	// defaults to user; AgentsLimit nil means the server setting.
	Role        Role
	AgentsLimit *int
	// RemoteIP is the client address for the per-IP limiter (Setup,
	// Register); the zero Addr is not limited.
	RemoteIP netip.Addr
}

// LoginResult is the answer of Setup, Register, Login and ChangePassword
// (API.md §3.1 LoginResult).
type LoginResult struct {
	Access AccessToken
	User   User
	// APIToken is the wl_ minted by this call (setup, register, first
	// login, password change), else nil.
	APIToken *IssuedAPIToken
	// Revoked lists credential ids revoked by this call (password change),
	// for kicks.
	Revoked []string
}

// normalizeUsername lower-cases and validates a username.
func normalizeUsername(field, s string) (string, error) {
	u := strings.ToLower(s)
	if !validUsername(u) {
		return "", invalid(FieldError{Field: field, Rule: "pattern", Param: "^[a-z0-9][a-z0-9._-]{2,31}$"})
	}
	return u, nil
}

func validUsername(u string) bool {
	if len(u) < MinUsernameLen || len(u) > MaxUsernameLen {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// checkEmail validates an optional RFC 5322 addr-spec.
func checkEmail(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxEmailLen {
		return invalid(FieldError{Field: field, Rule: "max", Param: strconv.Itoa(MaxEmailLen)})
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return invalid(FieldError{Field: field, Rule: "email"})
	}
	return nil
}

// checkAccount validates a new account's fields and returns the normalised
// username.
func (s *Service) checkAccount(a NewAccount) (string, error) {
	name, err := normalizeUsername("username", a.Username)
	if err != nil {
		return "", err
	}
	if err := checkEmail("email", a.Email); err != nil {
		return "", err
	}
	if a.AgentsLimit != nil && *a.AgentsLimit < 0 {
		return "", invalid(FieldError{Field: "agents_limit", Rule: "min", Param: "0"})
	}
	if err := s.policy.check("password", a.Password, name); err != nil {
		return "", err
	}
	return name, nil
}

// limitIP applies the per-IP login limiter.
func (s *Service) limitIP(ip netip.Addr) error {
	key, ok := ipKey(ip)
	if !ok {
		return nil
	}
	if ok, d := s.loginLimit.allow(key, s.now()); !ok {
		return rateLimited("login", s.loginBurst, d)
	}
	return nil
}

// newUser builds a user with a fresh id and hashed password (the argon2id
// work happens here, outside any transaction).
func (s *Service) newUser(ctx context.Context, name string, a NewAccount, role Role) (User, error) {
	now := s.clock()
	id, err := s.newID(PrefixUser, now)
	if err != nil {
		return User{}, err
	}
	hash, err := s.hasher.hash(ctx, a.Password)
	if err != nil {
		return User{}, err
	}
	limit := AgentsLimitDefault
	if a.AgentsLimit != nil {
		limit = *a.AgentsLimit
	}
	return User{
		ID:           id,
		Username:     name,
		Email:        a.Email,
		Role:         role,
		PasswordHash: Secret(hash),
		AgentsLimit:  limit,
		CreatedAt:    now,
	}, nil
}

// SetupRequired reports whether no user exists yet (SETUP_REQUIRED).
func (s *Service) SetupRequired(ctx context.Context) (bool, error) {
	has, err := s.store.HasUsers(ctx)
	if err != nil {
		return false, storeErr("counting users", err)
	}
	return !has, nil
}

// Setup creates the first user, an admin, and logs it in (with a wl_).
// Race-free: it succeeds only while no user exists; of concurrent calls one
// wins and the others get ALREADY_INITIALIZED.
func (s *Service) Setup(ctx context.Context, a NewAccount) (*LoginResult, error) {
	if err := s.limitIP(a.RemoteIP); err != nil {
		return nil, err
	}
	name, err := s.checkAccount(a)
	if err != nil {
		return nil, err
	}
	if need, err := s.SetupRequired(ctx); err != nil {
		return nil, err
	} else if !need {
		return nil, fail(ErrAlreadyInitialized)
	}
	u, err := s.newUser(ctx, name, a, RoleAdmin)
	if err != nil {
		return nil, err
	}
	return s.createAndLogin(ctx, u, true)
}

// Register creates a user (role user) and logs it in, while the
// registration setting is open: REGISTRATION_DISABLED otherwise,
// SETUP_REQUIRED before setup, USERNAME_TAKEN, PASSWORD_TOO_WEAK.
func (s *Service) Register(ctx context.Context, a NewAccount) (*LoginResult, error) {
	if err := s.limitIP(a.RemoteIP); err != nil {
		return nil, err
	}
	if !s.Settings().RegistrationOpen {
		return nil, fail(ErrRegistrationDisabled)
	}
	name, err := s.checkAccount(a)
	if err != nil {
		return nil, err
	}
	if need, err := s.SetupRequired(ctx); err != nil {
		return nil, err
	} else if need {
		return nil, fail(ErrSetupRequired)
	}
	a.AgentsLimit = nil
	u, err := s.newUser(ctx, name, a, RoleUser)
	if err != nil {
		return nil, err
	}
	return s.createAndLogin(ctx, u, false)
}

func (s *Service) createAndLogin(ctx context.Context, u User, first bool) (*LoginResult, error) {
	res := &LoginResult{}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if first {
			err = s.store.CreateFirstUser(ctx, u)
		} else {
			err = s.store.CreateUser(ctx, u)
		}
		switch {
		case errors.Is(err, ErrNotEmpty):
			return fail(ErrAlreadyInitialized)
		case errors.Is(err, ErrConflict):
			return fail(ErrUsernameTaken)
		case err != nil:
			return storeErr("creating a user", err)
		}
		now := u.CreatedAt
		if res.APIToken, err = s.mintAPIToken(ctx, u.ID, now); err != nil {
			return err
		}
		if res.User, err = s.store.UpdateUser(ctx, u.ID, UserPatch{LastLoginAt: &now}); err != nil {
			return userErr(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Access, err = s.issueAccess(res.User, res.User.CreatedAt, s.clock(), time.Time{}); err != nil {
		return nil, err
	}
	return res, nil
}

// LoginRequest is the input of Login.
type LoginRequest struct {
	Username     string
	Password     string
	TOTPCode     string // 6 digits, when 2FA is on
	RecoveryCode string // xxxx-xxxx, instead of TOTPCode
	RemoteIP     netip.Addr
}

// Login checks a username and password (and the second factor when 2FA is
// on) and returns a JWT; the wl_ is minted only if the account has none.
//
// Errors: RATE_LIMITED (per client IP), INVALID_CREDENTIALS (unknown users
// cost the same argon2id work), ACCOUNT_LOCKED (without checking the
// password), ACCOUNT_DISABLED (after a correct password), TOTP_REQUIRED,
// TOTP_INVALID. A wrong password or code counts toward the lockout; a
// missing code does not.
//
// Failures are recorded through the Store with ctx: do not call Login
// inside a transaction that its error would roll back.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if err := s.limitIP(req.RemoteIP); err != nil {
		return nil, err
	}
	name := strings.ToLower(req.Username)
	var u User
	var err error
	if validUsername(name) {
		u, err = s.store.UserByUsername(ctx, name)
	} else {
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		if err := s.hasher.burn(ctx, req.Password); err != nil {
			return nil, storeErr("hashing", err)
		}
		return nil, fail(ErrInvalidCredentials)
	}
	if err != nil {
		return nil, storeErr("looking a user up", err)
	}
	now := s.clock()
	if now.Before(u.LockedUntil) {
		return nil, locked(u.LockedUntil, now)
	}
	ok, rehash, err := s.checkPassword(ctx, u, req.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.loginFailed(ctx, u, now, fail(ErrInvalidCredentials))
	}
	if u.Disabled {
		return nil, fail(ErrAccountDisabled)
	}
	if u.TOTPEnabled() {
		switch {
		case req.TOTPCode != "":
			if err := s.acceptTOTP(ctx, u, string(u.TOTPSecret), req.TOTPCode, now); err != nil {
				return nil, s.loginFailed(ctx, u, now, err)
			}
		case req.RecoveryCode != "":
			if err := s.useRecoveryCode(ctx, u, req.RecoveryCode, now); err != nil {
				return nil, s.loginFailed(ctx, u, now, err)
			}
		default:
			return nil, fail(ErrTOTPRequired)
		}
	}
	var newHash *Secret
	if rehash {
		h, err := s.hasher.hash(ctx, req.Password)
		if err != nil {
			return nil, err
		}
		sh := Secret(h)
		newHash = &sh
	}
	res := &LoginResult{}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		zero, none := 0, time.Time{}
		var err error
		res.User, err = s.store.UpdateUser(ctx, u.ID, UserPatch{
			LastLoginAt: &now, FailedLogins: &zero, Lockouts: &zero, LockedUntil: &none, PasswordHash: newHash,
		})
		if err != nil {
			return userErr(err)
		}
		if res.User.APITokenHint == "" {
			if res.APIToken, err = s.mintAPIToken(ctx, u.ID, now); err != nil {
				return err
			}
			res.User.APITokenHint = res.APIToken.Hint
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Access, err = s.issueAccess(res.User, now, now, time.Time{}); err != nil {
		return nil, err
	}
	return res, nil
}

// checkPassword verifies pw against u's hash. Over-long input fails after
// the same work.
func (s *Service) checkPassword(ctx context.Context, u User, pw string) (ok, rehash bool, err error) {
	if len(pw) > maxPasswordBytes {
		if err := s.hasher.burn(ctx, ""); err != nil {
			return false, false, storeErr("hashing", err)
		}
		return false, false, nil
	}
	ok, rehash, err = s.hasher.verify(ctx, pw, string(u.PasswordHash))
	if errors.Is(err, errBadHash) {
		s.log.Error("auth: stored password hash is malformed", "user_id", u.ID)
		return false, false, nil
	}
	return ok, rehash, err
}

func locked(until, now time.Time) *Error {
	e := fail(ErrAccountLocked)
	e.LockedUntil = until
	e.RetryAfter = until.Sub(now)
	return e
}

// loginFailed counts a failure toward the lockout and returns cause, or
// ACCOUNT_LOCKED if this failure locked the account.
func (s *Service) loginFailed(ctx context.Context, u User, now time.Time, cause error) error {
	n, err := s.store.RecordLoginFailure(ctx, u.ID)
	if err != nil {
		return storeErr("recording a login failure", err)
	}
	if n < s.lockThreshold {
		return cause
	}
	d := s.lockBase
	for i := 0; i < u.Lockouts && d < s.lockMax; i++ {
		d *= 2
	}
	d = min(d, s.lockMax)
	until := now.Add(d)
	lockouts, zero := u.Lockouts+1, 0
	if _, err := s.store.UpdateUser(ctx, u.ID, UserPatch{LockedUntil: &until, Lockouts: &lockouts, FailedLogins: &zero}); err != nil {
		return userErr(err)
	}
	s.log.Info("auth: account locked", "user_id", u.ID, "until", until)
	return locked(until, now)
}

// PasswordChange is the input of ChangePassword.
type PasswordChange struct {
	Current  string
	New      string
	TOTPCode string // required when 2FA is on
}

// ChangePassword sets a new password for p's user (p must be "I") and
// applies logout-everywhere: every JWT and session is revoked and the wl_
// replaced (the new one is in the answer with a fresh JWT). Errors:
// INVALID_CREDENTIALS, TOTP_REQUIRED, TOTP_INVALID, PASSWORD_TOO_WEAK,
// PASSWORD_UNCHANGED.
func (s *Service) ChangePassword(ctx context.Context, p Principal, req PasswordChange) (*LoginResult, error) {
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
	now := s.clock()
	ok, _, err := s.checkPassword(ctx, u, req.Current)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail(ErrInvalidCredentials)
	}
	if u.TOTPEnabled() {
		if req.TOTPCode == "" {
			return nil, fail(ErrTOTPRequired)
		}
		if err := s.acceptTOTP(ctx, u, string(u.TOTPSecret), req.TOTPCode, now); err != nil {
			return nil, err
		}
	}
	if subtle.ConstantTimeCompare([]byte(req.Current), []byte(req.New)) == 1 {
		return nil, fail(ErrPasswordUnchanged)
	}
	if err := s.policy.check("new_password", req.New, u.Username); err != nil {
		return nil, err
	}
	h, err := s.hasher.hash(ctx, req.New)
	if err != nil {
		return nil, err
	}
	hash := Secret(h)
	res := &LoginResult{}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		res.Revoked = nil
		var err error
		if _, err = s.store.UpdateUser(ctx, u.ID, UserPatch{PasswordHash: &hash, BumpGeneration: true}); err != nil {
			return userErr(err)
		}
		ids, err := s.store.RevokeCredentials(ctx, u.ID, Selector{Kinds: []Kind{KindSession}}, now)
		if err != nil {
			return storeErr("revoking sessions", err)
		}
		res.Revoked = append(res.Revoked, ids...)
		if res.APIToken, err = s.mintAPIToken(ctx, u.ID, now); err != nil {
			return err
		}
		res.Revoked = append(res.Revoked, res.APIToken.Revoked...)
		res.User, err = s.store.UserByID(ctx, u.ID)
		return userErr0(err)
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, u.ID)
	if res.Access, err = s.issueAccess(res.User, now, now, time.Time{}); err != nil {
		return nil, err
	}
	return res, nil
}

func userErr0(err error) error {
	if err == nil {
		return nil
	}
	return userErr(err)
}
