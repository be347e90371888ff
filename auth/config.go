package auth

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// Config configures a Service. The zero Config is valid: every zero field
// takes the default documented on it.
type Config struct {
	// Now is the clock; nil means time.Now. Tests inject a fake clock so
	// expiry, lockout and TOTP need no sleeps.
	Now func() time.Time
	// Rand is the source of every random byte (tokens, salts, ids, codes,
	// TOTP secrets, the JWT key); nil means crypto/rand.Reader. Tests may
	// inject a deterministic reader; production must not.
	Rand io.Reader
	// Logger receives operational messages (never secrets); nil discards.
	Logger *slog.Logger

	// JWTKey is the HS256 key of access tokens (at least 32 bytes). Empty:
	// a key is generated at the first New and persisted through the Store
	// (never exported in snapshots), so every node sharing the database
	// uses the same one.
	JWTKey []byte
	// AccessTTL is the JWT lifetime; 0 means 15 minutes.
	AccessTTL time.Duration
	// ReauthAfter bounds refresh: a JWT is refreshable until auth_time +
	// ReauthAfter; 0 means 24 hours.
	ReauthAfter time.Duration

	// Password are the argon2id parameters of new hashes; the zero value
	// means DefaultPasswordParams (19 MiB, t=2, p=1). Values below those
	// are accepted for tests only (a warning is logged).
	Password PasswordParams
	// HashConcurrency caps concurrent argon2id computations; 0 means
	// runtime.GOMAXPROCS(0).
	HashConcurrency int
	// PasswordMinLength is the minimum password length in characters;
	// 0 means 8. Valid: 8-128.
	PasswordMinLength int
	// CommonPasswords is the common-password list (compared lower-cased).
	// nil means no list; refserver passes the pinned one.
	CommonPasswords []string

	// LockoutThreshold is the number of consecutive failed logins that
	// locks an account; 0 means 5.
	LockoutThreshold int
	// LockoutDuration is the first lockout's length, doubled per repeat;
	// 0 means 15 minutes.
	LockoutDuration time.Duration
	// LockoutMax caps the lockout; 0 means 24 hours.
	LockoutMax time.Duration

	// LoginRate and LoginBurst bound login, setup, register and TOTP
	// verification attempts per client IP (and TOTP checks per user);
	// 0 means 10 per minute, burst 10.
	LoginRate  rate.Limit
	LoginBurst int
	// BindRate and BindBurst bound claim-code binds per client IP; 0 means
	// 10 per minute, burst 10.
	BindRate  rate.Limit
	BindBurst int
	// MaxTrackedClients bounds the per-IP limiter tables; 0 means 10 000.
	// When full, idle entries are dropped first, then arbitrary ones.
	MaxTrackedClients int

	// CacheSize bounds the verification cache (entries); 0 means 10 000, a
	// negative value disables the cache.
	CacheSize int
	// CacheTTL is how long a verified credential's state is reused without
	// reading the Store; 0 means 5 s. Revocations made through this Service
	// take effect at once in this process; revocations made by another
	// process (another node) take effect here within CacheTTL.
	CacheTTL time.Duration
	// TouchInterval is the minimum time between two last_used_at writes of
	// one session or MCP token; 0 means 1 minute.
	TouchInterval time.Duration

	// TOTPIssuer is the issuer of otpauth URLs; "" means "WakeLink".
	TOTPIssuer string

	// Settings are the initial server settings auth needs (SetSettings
	// changes them later); nil means DefaultSettings().
	Settings *Settings
}

// Defaults of Config.
const (
	DefaultAccessTTL        = 15 * time.Minute
	DefaultReauthAfter      = 24 * time.Hour
	DefaultLockoutThreshold = 5
	DefaultLockoutDuration  = 15 * time.Minute
	DefaultLockoutMax       = 24 * time.Hour
	DefaultLimitBurst       = 10
	DefaultTrackedClients   = 10_000
	DefaultCacheSize        = 10_000
	DefaultCacheTTL         = 5 * time.Second
	DefaultTouchInterval    = time.Minute
	DefaultTOTPIssuer       = "WakeLink"
)

// DefaultLimitRate is 10 per minute.
var defaultLimitRate = rate.Every(6 * time.Second)

// Settings are the server settings (API.md §3.8) that auth uses. The console
// owns settings and hands them over with SetSettings; auth never reads them.
type Settings struct {
	// RegistrationOpen allows self-registration (setting registration =
	// open).
	RegistrationOpen bool
	// AgentsPerAccount is the default agent limit; 0 means unlimited.
	AgentsPerAccount int
	// SessionTTL is the lifetime of sessions minted afterwards (1 h–30 d).
	SessionTTL time.Duration
	// MaxSessionsPerUser caps live sessions of POST /auth/session per user
	// (oldest revoked); MaxRelaySessionsPerUser caps relay-minted ones apart.
	MaxSessionsPerUser      int
	MaxRelaySessionsPerUser int
}

// Session TTL bounds of the setting.
const (
	MinSessionTTL = time.Hour
	MaxSessionTTL = 30 * 24 * time.Hour
)

// DefaultSettings returns the defaults of API.md §3.8: registration closed,
// 10 agents per account, sessions of 24 h, 50 + 20 relay sessions per user.
func DefaultSettings() Settings {
	return Settings{
		AgentsPerAccount:        10,
		SessionTTL:              24 * time.Hour,
		MaxSessionsPerUser:      50,
		MaxRelaySessionsPerUser: 20,
	}
}

func (s Settings) validate() error {
	var v validator
	if s.AgentsPerAccount < 0 {
		v.add("agents_per_account", "min", "0")
	}
	if s.SessionTTL < MinSessionTTL || s.SessionTTL > MaxSessionTTL {
		v.add("sessions.session_ttl_s", "range", "3600-2592000")
	}
	if s.MaxSessionsPerUser < 1 {
		v.add("sessions.max_per_user", "min", "1")
	}
	if s.MaxRelaySessionsPerUser < 1 {
		v.add("sessions.max_relay_per_user", "min", "1")
	}
	return v.err()
}

// configError names the invalid field.
func configError(field, why string) error {
	return fmt.Errorf("auth: invalid Config.%s: %s", field, why)
}
