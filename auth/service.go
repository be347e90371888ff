package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// Service is the auth domain: accounts, passwords, TOTP, tokens, sessions,
// agents and claim codes over a Store. It is safe for concurrent use and
// starts no goroutines.
type Service struct {
	store  Store
	now    func() time.Time
	rand   io.Reader
	ids    *ulid.LockedMonotonicReader // entropy of ids: increasing within a millisecond
	log    *slog.Logger
	hasher *hasher
	policy *policy

	accessTTL     time.Duration
	reauthAfter   time.Duration
	lockThreshold int
	lockBase      time.Duration
	lockMax       time.Duration
	touchEvery    time.Duration
	totpIssuer    string

	loginLimit *limiterTable // per client IP: login, setup, register
	userLimit  *limiterTable // per user: password and TOTP checks of signed-in users
	bindLimit  *limiterTable // per client IP: claim-code binds
	loginBurst int
	bindBurst  int

	cache    *cache
	settings atomic.Pointer[Settings]

	keyMu  sync.RWMutex
	jwtKey []byte
	keyCfg bool // the key came from Config (not rotatable here)
}

// jwtKeySecret is the SecretStore name of the generated JWT key.
const jwtKeySecret = "jwt_hs256_key"

// MinJWTKeyLen is the minimum HS256 key length.
const MinJWTKeyLen = 32

// New returns a Service over store. It validates cfg (the error names the
// field) and, when cfg.JWTKey is empty, loads the JWT key from the store or
// generates and stores one (this is New's only Store call).
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("auth: New: nil Store")
	}
	s := &Service{store: store, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.ids = &ulid.LockedMonotonicReader{MonotonicReader: ulid.Monotonic(s.rand, 0)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	pp := cfg.Password
	if pp == (PasswordParams{}) {
		pp = DefaultPasswordParams()
	}
	if pp.Memory == 0 || pp.Time == 0 || pp.Threads == 0 || pp.Memory < 8*uint32(pp.Threads) || pp.Memory > maxStoredMemory || pp.Time > maxStoredTime || pp.Threads > maxStoredThreads {
		return nil, configError("Password", "each parameter must be positive, Memory ≥ 8×Threads and within the stored-hash bounds")
	}
	if pp.Memory < MinPasswordMemory || pp.Time < MinPasswordTime {
		s.log.Warn("auth: argon2id parameters below the minimum (tests only)", "memory_kib", pp.Memory, "time", pp.Time)
	}
	conc := cfg.HashConcurrency
	if conc == 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	if conc < 0 {
		return nil, configError("HashConcurrency", "negative")
	}
	s.hasher = newHasher(pp, conc, s.rand)

	minLen := cfg.PasswordMinLength
	if minLen == 0 {
		minLen = DefaultPasswordMinLength
	}
	if minLen < DefaultPasswordMinLength || minLen > MaxPasswordLength {
		return nil, configError("PasswordMinLength", "must be 8-128")
	}
	s.policy = newPolicy(minLen, cfg.CommonPasswords)

	var err error
	if s.accessTTL, err = durationOr("AccessTTL", cfg.AccessTTL, DefaultAccessTTL); err != nil {
		return nil, err
	}
	if s.reauthAfter, err = durationOr("ReauthAfter", cfg.ReauthAfter, DefaultReauthAfter); err != nil {
		return nil, err
	}
	if s.lockBase, err = durationOr("LockoutDuration", cfg.LockoutDuration, DefaultLockoutDuration); err != nil {
		return nil, err
	}
	if s.lockMax, err = durationOr("LockoutMax", cfg.LockoutMax, DefaultLockoutMax); err != nil {
		return nil, err
	}
	if s.touchEvery, err = durationOr("TouchInterval", cfg.TouchInterval, DefaultTouchInterval); err != nil {
		return nil, err
	}
	cacheTTL, err := durationOr("CacheTTL", cfg.CacheTTL, DefaultCacheTTL)
	if err != nil {
		return nil, err
	}
	if s.lockThreshold, err = intOr("LockoutThreshold", cfg.LockoutThreshold, DefaultLockoutThreshold); err != nil {
		return nil, err
	}
	s.totpIssuer = cfg.TOTPIssuer
	if s.totpIssuer == "" {
		s.totpIssuer = DefaultTOTPIssuer
	}

	tracked, err := intOr("MaxTrackedClients", cfg.MaxTrackedClients, DefaultTrackedClients)
	if err != nil {
		return nil, err
	}
	if cfg.LoginRate < 0 || cfg.BindRate < 0 {
		return nil, configError("LoginRate/BindRate", "negative")
	}
	lr, br := cfg.LoginRate, cfg.BindRate
	if lr == 0 {
		lr = defaultLimitRate
	}
	if br == 0 {
		br = defaultLimitRate
	}
	if s.loginBurst, err = intOr("LoginBurst", cfg.LoginBurst, DefaultLimitBurst); err != nil {
		return nil, err
	}
	if s.bindBurst, err = intOr("BindBurst", cfg.BindBurst, DefaultLimitBurst); err != nil {
		return nil, err
	}
	s.loginLimit = newLimiterTable(lr, s.loginBurst, tracked)
	s.userLimit = newLimiterTable(lr, s.loginBurst, tracked)
	s.bindLimit = newLimiterTable(br, s.bindBurst, tracked)

	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	s.cache = newCache(size, cacheTTL)

	set := DefaultSettings()
	if cfg.Settings != nil {
		set = *cfg.Settings
	}
	if err := s.SetSettings(set); err != nil {
		return nil, fmt.Errorf("auth: invalid Config.Settings: %w", err)
	}

	if len(cfg.JWTKey) > 0 {
		if len(cfg.JWTKey) < MinJWTKeyLen {
			return nil, configError("JWTKey", "shorter than 32 bytes")
		}
		s.jwtKey = append([]byte(nil), cfg.JWTKey...)
		s.keyCfg = true
	} else {
		key := make([]byte, MinJWTKeyLen)
		if _, err := io.ReadFull(s.rand, key); err != nil {
			return nil, fmt.Errorf("auth: reading randomness: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stored, err := store.LoadOrStoreSecret(ctx, jwtKeySecret, key)
		if err != nil {
			return nil, fmt.Errorf("auth: loading the JWT key: %w", err)
		}
		if len(stored) < MinJWTKeyLen {
			return nil, errors.New("auth: the stored JWT key is shorter than 32 bytes")
		}
		s.jwtKey = stored
	}
	return s, nil
}

func durationOr(field string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, configError(field, "negative")
	}
	return d, nil
}

func intOr(field string, n, def int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0:
		return 0, configError(field, "negative")
	}
	return n, nil
}

// SetSettings replaces the server settings auth uses (API.md §3.8); the
// console calls it at start and on settings.updated. Invalid values are
// VALIDATION_FAILED and change nothing.
func (s *Service) SetSettings(set Settings) error {
	if err := set.validate(); err != nil {
		return err
	}
	s.settings.Store(&set)
	return nil
}

// Settings returns the settings in use.
func (s *Service) Settings() Settings { return *s.settings.Load() }

// clock returns the current time, UTC, truncated to the millisecond (the
// precision every Store keeps).
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) newID(prefix string, t time.Time) (string, error) {
	return newID(prefix, t, s.ids)
}

// invalidate drops a user's cache entries now and again once the enclosing
// transaction (if any) commits.
func (s *Service) invalidate(ctx context.Context, userID string) {
	if s.cache == nil {
		return
	}
	s.cache.invalidateUser(userID)
	s.store.AfterCommit(ctx, func() { s.cache.invalidateUser(userID) })
}

// storeErr wraps an unexpected Store error: it is not an *Error, so the
// REST layer answers INTERNAL_ERROR/SERVICE_UNAVAILABLE without its text.
func storeErr(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("auth: %s: %w", op, err)
}

// Principal is who a verified credential speaks for. Every method that
// verifies a credential returns one; restapi and the relay Authenticator
// use it for admission, roles, kicks and revalidation.
type Principal struct {
	UserID string
	// Role is the user's current role (from the Store, not from a JWT).
	Role Role
	// Kind is the credential's kind.
	Kind Kind
	// CredentialID names the credential (API.md §1.4): tok_ (wl_, wld_),
	// ses_ (wls_), mcp_ (wlm_), or a JWT's jti.
	CredentialID string
	// ParentID is, for a session minted with a wl_, that wl_'s tok_ id;
	// for an event ticket, the credential id of its issuer.
	ParentID string
	// AgentID is the agent of a device token.
	AgentID string
	// CreatedVia is a session's origin.
	CreatedVia CreatedVia
	// Scope is an MCP token's scope.
	Scope Scope
	// Generation is the user generation the credential belongs to (JWTs
	// and sessions) or the user's current one.
	Generation int64
	// AuthTime is when the user last proved their password: a JWT's
	// auth_time, a password session's creation.
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time // zero: does not expire
}

// CredentialIDs returns the ids a kick or revalidation names this
// credential by (API.md §1.4); JWTs have none (they never hold a relay
// connection).
func (p Principal) CredentialIDs() []string {
	if p.Kind == KindJWT || p.CredentialID == "" {
		return nil
	}
	return []string{p.CredentialID}
}

// Interactive reports whether p satisfies Auth "I" of API.md §1.4: a JWT,
// or a session created via password.
func (p Principal) Interactive() bool {
	return p.Kind == KindJWT || (p.Kind == KindSession && p.CreatedVia == ViaPassword)
}

// requireInteractive fails with TOKEN_SCOPE_MISMATCH unless p is "I".
func requireInteractive(p Principal) error {
	if !p.Interactive() {
		return fail(ErrTokenScopeMismatch)
	}
	return nil
}
