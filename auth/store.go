package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Store is the persistence auth needs, declared here and implemented by
// refserver/sqlstore (SQLite, PostgreSQL) and authtest.NewMemStore. Every
// implementation must pass authtest.Run.
//
// Contract, for every method:
//   - ctx comes first. If ctx carries a transaction started by this store's
//     InTx, the call joins it; otherwise it runs on its own and is atomic
//     (a method doing several writes runs them in one transaction).
//   - Methods are safe for concurrent use by multiple goroutines; a context
//     carrying a transaction must be used by one goroutine at a time.
//   - Values are passed and returned by copy: the store never keeps or
//     mutates a slice the caller holds.
//   - Times are stored with at least millisecond precision and returned in
//     UTC; the zero time.Time means "none" (SQL NULL). The Service truncates
//     every time it stores to the millisecond, so they round-trip exactly.
//   - Failures are reported with the sentinels below (ErrNotFound, ...),
//     checked with errors.Is; any other error is an I/O failure. A method
//     that fails with a sentinel leaves an enclosing transaction usable
//     (nothing written, the transaction not aborted).
type Store interface {
	TxStore
	UserStore
	CredentialStore
	AgentStore
	ClaimStore
	SecretStore
}

// TxStore runs use cases atomically.
type TxStore interface {
	// InTx runs fn in one transaction: the ctx fn receives carries it, so
	// every call of this store made with that ctx joins it. If fn returns
	// an error (or panics) every write made through it is rolled back and
	// the error is returned; otherwise the transaction commits. If ctx
	// already carries a transaction of this store, fn joins it (no
	// savepoint): the outermost InTx decides.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AfterCommit runs fn once the transaction carried by ctx has
	// committed (before the outermost InTx returns), or at once if ctx
	// carries none; never if it rolls back. The Service uses it to drop
	// cache entries after a revocation is durable.
	AfterCommit(ctx context.Context, fn func())
}

// UserStore keeps accounts. Usernames are unique ignoring case.
type UserStore interface {
	// CreateUser inserts u. ErrConflict if the username is taken (ignoring
	// case) or the id exists.
	CreateUser(ctx context.Context, u User) error
	// CreateFirstUser inserts u only while no user exists, atomically with
	// respect to concurrent calls (of any process sharing the database):
	// of concurrent calls exactly one succeeds, the others get ErrNotEmpty.
	CreateFirstUser(ctx context.Context, u User) error
	// HasUsers reports whether any user exists.
	HasUsers(ctx context.Context) (bool, error)
	// UserByID returns the user with that id, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByUsername finds a user ignoring case, or ErrNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns up to limit users with id > after, in id order.
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
	// UpdateUser applies p to the user and returns the result. ErrNotFound;
	// ErrNoAdminLeft if p would leave no enabled admin (demoting or
	// disabling the last one), checked atomically with respect to
	// concurrent UpdateUser and DeleteUser calls.
	UpdateUser(ctx context.Context, id string, p UserPatch) (User, error)
	// DeleteUser deletes the user and everything it owns: agents,
	// credentials, claim codes, recovery codes, denylisted JWT ids.
	// ErrNotFound; ErrNoAdminLeft as for UpdateUser.
	DeleteUser(ctx context.Context, id string) error
	// RecordLoginFailure atomically adds one to the user's consecutive
	// failed logins and returns the new count. ErrNotFound.
	RecordLoginFailure(ctx context.Context, id string) (int, error)
	// AcceptTOTPStep records step as the user's last accepted TOTP time
	// step, atomically, only if it is greater than the recorded one; else
	// ErrConflict (a replayed or older code). ErrNotFound.
	AcceptTOTPStep(ctx context.Context, id string, step int64) error
	// ReplaceRecoveryCodes replaces the user's recovery codes with hashes
	// (nil removes them all). ErrNotFound.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []Hash) error
	// UseRecoveryCode marks the unused recovery code with that hash as used
	// at at, atomically: of concurrent uses one succeeds; ErrNotFound if
	// there is no unused code with that hash.
	UseRecoveryCode(ctx context.Context, userID string, h Hash, at time.Time) error
	// CountRecoveryCodes returns the user's unused recovery codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// CredentialStore keeps the opaque credentials (wl_, wls_, wld_, wlm_,
// wdt_, wet_), by hash, and the JWT denylist.
type CredentialStore interface {
	// CreateCredential inserts c, enforcing lim atomically with respect to
	// concurrent calls for the same user (see Limit). It returns the ids
	// of the credentials it revoked to make room (Limit.Evict).
	// ErrConflict (id, hash, or Limit.UniqueLabel), ErrLimitReached,
	// ErrNotFound (no such user, or for a device credential no such agent).
	CreateCredential(ctx context.Context, c Credential, lim Limit) (evicted []string, err error)
	// CredentialByHash returns the credential with that hash, whatever its
	// state, or ErrNotFound.
	CredentialByHash(ctx context.Context, h Hash) (Credential, error)
	// CredentialsByID returns the credentials among ids (at most 1000)
	// that exist, in id order.
	CredentialsByID(ctx context.Context, ids []string) ([]Credential, error)
	// ListCredentials returns credentials of one user and kind, in id
	// order (see CredentialQuery).
	ListCredentials(ctx context.Context, q CredentialQuery) ([]Credential, error)
	// RevokeCredentials sets RevokedAt = at on every credential of userID
	// matching sel that is live at at (not revoked at or before at, not
	// expired at at) and returns their ids in id order. A credential whose
	// RevokedAt lies after at (a rotation grace) is revoked at at.
	RevokeCredentials(ctx context.Context, userID string, sel Selector, at time.Time) ([]string, error)
	// ConsumeCredential marks a single-use credential used, atomically: of
	// concurrent calls exactly one succeeds. It returns the credential as
	// it was before, with ErrUsed if already used, ErrExpired if expired at
	// at, ErrRevoked if revoked at at, or ErrNotFound.
	ConsumeCredential(ctx context.Context, h Hash, at time.Time) (Credential, error)
	// TouchCredential sets LastUsedAt = at. ErrNotFound.
	TouchCredential(ctx context.Context, id string, at time.Time) error
	// DenyJTI denylists a JWT id of userID until its expiry.
	DenyJTI(ctx context.Context, jti, userID string, until time.Time) error
	// JTIDenied reports whether jti is denylisted (whatever the expiry).
	JTIDenied(ctx context.Context, jti string) (bool, error)
	// Purge deletes credentials that expired or were revoked before before,
	// claim codes that expired before before, and denylist entries expired
	// before before; it returns how many rows it deleted.
	Purge(ctx context.Context, before time.Time) (int, error)
}

// AgentStore keeps agents. Agent ids are unique per owner.
type AgentStore interface {
	// CreateAgent inserts a unless its owner already has limit agents
	// (limit 0: unlimited), atomically with respect to concurrent calls for
	// the same owner. ErrConflict if (OwnerID, AgentID) exists (checked
	// before the limit), ErrLimitReached, ErrNotFound if the owner does not
	// exist.
	CreateAgent(ctx context.Context, a Agent, limit int) error
	// Agent returns one agent of owner, or ErrNotFound.
	Agent(ctx context.Context, ownerID, agentID string) (Agent, error)
	// ListAgents returns up to limit agents of owner with agent id > after,
	// in agent-id (byte) order.
	ListAgents(ctx context.Context, ownerID, after string, limit int) ([]Agent, error)
	// CountAgents returns the number of agents of owner.
	CountAgents(ctx context.Context, ownerID string) (int, error)
	// UpdateAgent replaces the mutable fields of the agent (everything but
	// OwnerID, AgentID and CreatedAt). ErrNotFound.
	UpdateAgent(ctx context.Context, a Agent) error
	// DeleteAgent deletes the agent and its device credentials.
	// ErrNotFound.
	DeleteAgent(ctx context.Context, ownerID, agentID string) error
}

// ClaimStore keeps claim codes by hash.
type ClaimStore interface {
	// CreateClaimCode inserts c unless its owner already has maxActive
	// claim codes that are unused and unexpired at c.CreatedAt (0:
	// unlimited), atomically with respect to concurrent calls for the same
	// owner. ErrConflict (id or hash), ErrLimitReached, ErrNotFound (owner).
	CreateClaimCode(ctx context.Context, c ClaimCode, maxActive int) error
	// ClaimCodeByHash returns the claim code with that hash, or ErrNotFound.
	ClaimCodeByHash(ctx context.Context, h Hash) (ClaimCode, error)
	// ListClaimCodes returns owner's claim codes that are unused and
	// unexpired at activeAt, in id order.
	ListClaimCodes(ctx context.Context, ownerID string, activeAt time.Time) ([]ClaimCode, error)
	// DeleteClaimCode deletes one claim code of owner. ErrNotFound.
	DeleteClaimCode(ctx context.Context, ownerID, id string) error
	// ConsumeClaimCode marks the code used at at by installID with one
	// conditional update (unused and expires after at): of concurrent calls
	// exactly one succeeds. It returns the claim as stored after a success;
	// else the claim as stored with ErrUsed or ErrExpired, or ErrNotFound.
	ConsumeClaimCode(ctx context.Context, h Hash, installID string, at time.Time) (ClaimCode, error)
	// SetClaimAgent records the agent a consumed claim bound. ErrNotFound.
	SetClaimAgent(ctx context.Context, id, agentID string) error
}

// SecretStore keeps server secrets (the JWT signing key). Values are never
// exported in snapshots.
type SecretStore interface {
	// LoadOrStoreSecret stores value under name unless a value exists, and
	// returns the stored value (the existing one if another caller won).
	LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	// PutSecret stores value under name, replacing any.
	PutSecret(ctx context.Context, name string, value []byte) error
}

// Store sentinels, checked with errors.Is. The Service translates them into
// *Error codes; they never reach its callers.
var (
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("auth: store: not found")
	// ErrConflict: a uniqueness rule was violated, or a TOTP step was not
	// newer than the last accepted one.
	ErrConflict = errors.New("auth: store: conflict")
	// ErrLimitReached: a count limit passed to the store was reached.
	ErrLimitReached = errors.New("auth: store: limit reached")
	// ErrNotEmpty: CreateFirstUser found a user.
	ErrNotEmpty = errors.New("auth: store: users exist")
	// ErrNoAdminLeft: the change would leave no enabled admin.
	ErrNoAdminLeft = errors.New("auth: store: last enabled admin")
	// ErrUsed: a single-use item was already used.
	ErrUsed = errors.New("auth: store: already used")
	// ErrExpired: the item is past its expiry.
	ErrExpired = errors.New("auth: store: expired")
	// ErrRevoked: the credential is revoked.
	ErrRevoked = errors.New("auth: store: revoked")
)

// Role is a user's role.
type Role string

// The roles of API.md §1.3.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// CreatedVia says how a session was minted (API.md §1.4).
type CreatedVia string

// The session origins.
const (
	ViaPassword CreatedVia = "password"  // POST /auth/session with a JWT
	ViaAPIToken CreatedVia = "api_token" // POST /auth/session with a wl_
	ViaRelay    CreatedVia = "relay"     // relay auth with a wl_
)

// Scope is an MCP token's scope.
type Scope string

// The MCP scopes.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
)

// AgentsLimitDefault in User.AgentsLimit means "the server setting".
const AgentsLimitDefault = -1

// Secret is a stored secret string (a password hash, a TOTP secret) that
// never prints: String, Format and LogValue give "[redacted]".
type Secret string

// String returns "[redacted]" (or "" when empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is String.
func (s Secret) GoString() string { return s.String() }

// Format prints the redacted form for every verb (quoted for %q).
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText gives the redacted form, so a User marshalled by accident
// leaks no hash or TOTP secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// User is an account. Username is stored lower-case.
type User struct {
	ID           string
	Username     string
	Email        string // "" = none
	Role         Role
	Disabled     bool
	PasswordHash Secret // argon2id, PHC format
	// Generation is bumped by password changes and logout-everywhere;
	// JWTs and sessions of an older generation are revoked.
	Generation int64
	// AgentsLimit overrides the agents_per_account setting: 0 unlimited,
	// AgentsLimitDefault the setting.
	AgentsLimit int
	CreatedAt   time.Time
	LastLoginAt time.Time

	FailedLogins int       // consecutive failures
	Lockouts     int       // lockouts since the last successful login
	LockedUntil  time.Time // zero: not locked

	TOTPSecret           Secret    // base32; set while 2FA is on
	TOTPEnabledAt        time.Time // zero: 2FA off
	TOTPPendingSecret    Secret    // an enrollment awaiting confirmation
	TOTPPendingExpiresAt time.Time
	TOTPLastStep         int64 // last accepted TOTP time step

	APITokenHint string // hint of the live wl_, "" if none
}

// TOTPEnabled reports whether 2FA is on.
func (u User) TOTPEnabled() bool { return !u.TOTPEnabledAt.IsZero() }

// UserPatch lists the fields UpdateUser changes; nil pointers are left
// alone. A zero time.Time or "" clears the field.
type UserPatch struct {
	Email                *string
	Role                 *Role
	Disabled             *bool
	PasswordHash         *Secret
	BumpGeneration       bool // Generation = Generation + 1
	AgentsLimit          *int
	LastLoginAt          *time.Time
	FailedLogins         *int
	Lockouts             *int
	LockedUntil          *time.Time
	TOTPSecret           *Secret
	TOTPEnabledAt        *time.Time
	TOTPPendingSecret    *Secret
	TOTPPendingExpiresAt *time.Time
	TOTPLastStep         *int64
	APITokenHint         *string
}

// Credential is a stored opaque credential: its hash, never the token.
type Credential struct {
	// ID is the non-secret credential id of API.md §1.4: tok_ for wl_,
	// wld_ (and wdt_, wet_), ses_ for wls_, mcp_ for wlm_.
	ID     string
	Kind   Kind
	Hash   Hash
	UserID string
	// AgentID is the agent of a device token (KindDevice).
	AgentID string
	// ParentID is, for a session minted with a wl_, that wl_'s id; for a
	// download token or event ticket, the credential id of its issuer.
	ParentID string
	// Label is a session's label or an MCP token's name.
	Label string
	// CreatedVia is a session's origin.
	CreatedVia CreatedVia
	// Scope is an MCP token's scope, or a download token's resource kind.
	Scope string
	// Resource is a download token's resource id.
	Resource string
	// Generation is the user's generation when a session was minted.
	Generation int64
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	// RevokedAt is when the credential stops being valid by revocation; it
	// may lie in the future (rotation with a grace period).
	RevokedAt time.Time
	UsedAt    time.Time // single-use credentials
}

// Limit is the count rule CreateCredential enforces for the new
// credential's user and kind. The zero Limit enforces nothing.
type Limit struct {
	// Max is the most live credentials of the user with the same Kind
	// (and, when Vias is not empty, a CreatedVia among Vias) that may exist
	// once c is inserted; 0 means no maximum.
	Max  int
	Vias []CreatedVia
	// Evict revokes (at c.CreatedAt) the oldest live ones to make room
	// instead of failing with ErrLimitReached.
	Evict bool
	// UniqueLabel fails with ErrConflict if a live credential of the user
	// with the same Kind has the same Label.
	UniqueLabel bool
}

// Selector selects credentials of one user for RevokeCredentials; every
// non-empty field must match.
type Selector struct {
	IDs      []string // any of (at most 1000)
	Kinds    []Kind   // any of
	ParentID string
	AgentID  string
}

// CredentialQuery selects credentials for ListCredentials.
type CredentialQuery struct {
	UserID string
	Kind   Kind
	// LiveAt, if not zero, keeps only credentials neither revoked at or
	// before it nor expired at it.
	LiveAt time.Time
	After  string // id > After
	Limit  int    // 0: no limit
}

// Agent is a registered device (API.md §3.0), without its presence (which
// the relay owns) and OTA state (which ota owns).
type Agent struct {
	OwnerID         string
	AgentID         string
	Name            string
	Platform        string
	Channel         string
	FirmwareVersion string
	EWSPVersions    []string
	Targets         []Target
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastSeen        time.Time
	TokenHint       string // hint of the live wld_
	TokenRotatedAt  time.Time
	BoundAt         time.Time // last bind through a claim code
}

// Target is a Wake-on-LAN target of an agent's address book.
type Target struct {
	Name      string
	MAC       string // AA:BB:CC:DD:EE:FF
	Broadcast string // IPv4, "" = none
	Port      int    // 1-65535
}

// ClaimCode is a stored claim code: its hash, never the code.
type ClaimCode struct {
	ID       string
	OwnerID  string
	Hash     Hash
	CodeHint string // first 4 characters
	// AgentID is the agent to (re-)provision, or "" for a new one.
	AgentID      string
	Name         string
	Platform     string
	Channel      string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time
	InstallID    string // the install that consumed it
	BoundAgentID string // the agent the bind produced
}
