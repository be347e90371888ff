package console

import (
	"context"
	"errors"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Store is the persistence the console layer needs beyond auth.Store:
// settings, the audit log, idempotency records, the filtered listings and
// counts of the admin and agent pages, and the dev layer. It is declared
// here and implemented by refserver/sqlstore (Store.Console); every
// implementation passes consoletest.Run.
//
// Contract, for every method:
//   - ctx comes first. The Store shares its transactions with the
//     auth.Store it is used with: InTx puts the transaction in the ctx, and
//     every call of either store made with that ctx joins it (the console
//     runs auth use cases, audit rows and idempotency records in one
//     transaction). A call without a transaction in ctx is atomic on its
//     own.
//   - Methods are safe for concurrent use; a ctx carrying a transaction is
//     used by one goroutine at a time.
//   - Values are passed and returned by copy. Times are stored with at
//     least millisecond precision and returned in UTC; the zero time means
//     none.
//   - "Not found" and "conflict" are reported with ErrStoreNotFound and
//     ErrStoreConflict (errors.Is); a method failing with a sentinel leaves
//     an enclosing transaction usable. Any other error is an I/O failure,
//     which Unavailable classifies.
type Store interface {
	TxStore
	SettingsStore
	AuditStore
	IdempotencyStore
	ListStore
	MaintenanceStore
}

// TxStore runs use cases atomically; see auth.TxStore, whose semantics
// these methods share (the same transactions).
type TxStore interface {
	// InTx runs fn in one transaction carried by the ctx fn receives; an
	// error or panic of fn rolls every write back (auth's and the
	// console's); joining an enclosing transaction, the outermost decides.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// AfterCommit runs fn after the transaction carried by ctx commits (at
	// once without one; never after a rollback).
	AfterCommit(ctx context.Context, fn func())
}

// SettingsStore keeps the server settings (one document) and each user's
// UI settings.
type SettingsStore interface {
	// Settings returns the stored server settings: fields the stored
	// document lacks (added by a later version) keep their value in def.
	// ErrStoreNotFound before InitSettings.
	Settings(ctx context.Context, def Settings) (Settings, error)
	// InitSettings stores s unless settings exist, atomically with respect
	// to concurrent calls (of any process sharing the database), and
	// returns the stored settings (s, or those another caller stored).
	InitSettings(ctx context.Context, s Settings) (Settings, error)
	// PutSettings replaces the stored settings.
	PutSettings(ctx context.Context, s Settings) error
	// UISettings returns a user's UI settings; ErrStoreNotFound if the
	// user never stored any.
	UISettings(ctx context.Context, userID string) (UISettings, error)
	// PutUISettings stores a user's UI settings; ErrStoreNotFound if there
	// is no such user. They are deleted with the user.
	PutUISettings(ctx context.Context, userID string, ui UISettings) error
}

// AuditStore keeps the audit log (API.md §3.10).
type AuditStore interface {
	// AppendAudit inserts r. ErrStoreConflict if r.ID exists.
	AppendAudit(ctx context.Context, r AuditRecord) error
	// ListAudit returns up to q.Limit records matching q, newest (highest
	// id) first, and the number of records matching q's filters (ignoring
	// Before and Limit).
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, int, error)
}

// IdempotencyStore keeps idempotency records (API.md §1.7). A record is
// claimed and completed inside the transaction of the mutation it guards,
// so other transactions see either nothing or a completed record.
type IdempotencyStore interface {
	// ClaimIdempotency inserts r (Response nil) unless a record for
	// (r.UserID, r.Key) exists that is still live at r.CreatedAt (its
	// ExpiresAt after it): then it returns that record with
	// ErrStoreConflict and inserts nothing. An expired record is replaced.
	// Concurrent claims of one key: one inserts, the others wait for its
	// transaction and then see its record (or, if it rolled back, insert).
	ClaimIdempotency(ctx context.Context, r IdempotencyRecord) (IdempotencyRecord, error)
	// CompleteIdempotency stores the response of a claimed record.
	// ErrStoreNotFound if there is none.
	CompleteIdempotency(ctx context.Context, userID, key string, response []byte) error
}

// ListStore answers the filtered, paginated listings and the counts that
// auth.Store does not offer.
type ListStore interface {
	// ListAgents returns up to q.Limit agents matching q in q's order, and
	// (unless q.SkipTotal) the number of agents matching q's filters,
	// ignoring After and Limit.
	ListAgents(ctx context.Context, q AgentQuery) ([]AgentRow, int, error)
	// AgentOwners returns up to limit ids of users owning at least one
	// agent, greater than after, in id order.
	AgentOwners(ctx context.Context, after string, limit int) ([]string, error)
	// SetAgentRemoteIP records the address of an agent's current (or last)
	// relay connection. ErrStoreNotFound if there is no such agent.
	SetAgentRemoteIP(ctx context.Context, ownerID, agentID, ip string) error
	// ListUsers returns up to q.Limit users matching q in id order with
	// their agent counts, and (unless q.SkipTotal) the number matching q's
	// filters, ignoring After and Limit.
	ListUsers(ctx context.Context, q UserQuery) ([]UserRow, int, error)
	// Counts returns the server-wide counts of the admin statistics, with
	// lockouts, sessions and MCP tokens judged at at.
	Counts(ctx context.Context, at time.Time) (Counts, error)
}

// MaintenanceStore is housekeeping, health and the dev layer.
type MaintenanceStore interface {
	// Purge deletes idempotency records that expired before
	// idempotencyBefore and audit records older than auditBefore (zero:
	// none), and returns how many rows it deleted.
	Purge(ctx context.Context, idempotencyBefore, auditBefore time.Time) (int, error)
	// Reset deletes every row of every table of auth and the console,
	// except server secrets (the JWT key) and the schema version: the
	// database is back to its first start (API.md §3.13, dev only).
	Reset(ctx context.Context) error
	// InsertUsers inserts users as given, in one transaction (dev seed:
	// their password hash is computed once by the caller). ErrStoreConflict
	// if a username (ignoring case) or id is taken; then none is inserted.
	InsertUsers(ctx context.Context, users []auth.User) error
	// Ping checks the database answers (GET /system/health, /status).
	Ping(ctx context.Context) error
	// Engine names the database engine: "sqlite" or "postgres".
	Engine() string
	// Unavailable reports whether err (returned by this store or by the
	// auth.Store sharing its database) means the database cannot serve
	// now — unreachable, closed, busy beyond its timeout — rather than a
	// bug or a corrupt row. The console answers such errors with
	// SERVICE_UNAVAILABLE.
	Unavailable(err error) bool
}

// Store sentinels, checked with errors.Is. The console translates them;
// they never reach its callers.
var (
	// ErrStoreNotFound: no such row.
	ErrStoreNotFound = errors.New("console: store: not found")
	// ErrStoreConflict: a uniqueness rule was violated.
	ErrStoreConflict = errors.New("console: store: conflict")
)

// ActorKind says who did an audited action.
type ActorKind string

// Actor kinds of the audit log (API.md §3.10).
const (
	ActorUser   ActorKind = "user"
	ActorMCP    ActorKind = "mcp"
	ActorSystem ActorKind = "system"
)

// AuditRecord is one stored row of the audit log.
type AuditRecord struct {
	// ID is "aud_" + a lowercase ULID: ordered by creation.
	ID        string
	At        time.Time
	ActorID   string // "" for none (the system, an unknown username)
	ActorKind ActorKind
	Action    string // e.g. "agent.created"
	Target    string // the affected resource's id, "" for none
	Result    string // "success" or the error code of a refused action
	RemoteIP  string // "" when unknown
}

// AuditQuery selects audit records; empty fields do not filter.
type AuditQuery struct {
	ActorID string
	Action  string
	// From and To bound At, inclusive; zero is unbounded.
	From, To time.Time
	// Before, if not empty, keeps ids lower than it (the keyset of the
	// next page, newest first).
	Before string
	Limit  int // 1-1000
}

// IdempotencyRecord is a stored idempotency key (API.md §1.7).
type IdempotencyRecord struct {
	UserID string
	Key    string
	// Fingerprint is the SHA-256 the REST layer computed over method, path
	// and body (RequestFingerprint).
	Fingerprint [32]byte
	// Response is the answer's JSON without one-time secrets; nil until
	// CompleteIdempotency.
	Response  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AgentRef names an agent of an owner.
type AgentRef struct {
	OwnerID string
	AgentID string
}

// RefsMode says how AgentQuery.Refs restricts the rows.
type RefsMode uint8

// The modes of AgentQuery.Refs.
const (
	RefsIgnore RefsMode = iota // no restriction (Refs unused)
	RefsOnly                   // only the agents listed in Refs
	RefsExcept                 // every agent but those listed in Refs
)

// AgentSort is a sort key of GET /agents (ties broken by agent id, then
// owner id).
type AgentSort string

// The sort keys.
const (
	SortAgentID   AgentSort = "agent_id"
	SortName      AgentSort = "name"
	SortLastSeen  AgentSort = "last_seen"  // never seen sorts as the oldest
	SortCreatedAt AgentSort = "created_at" //
)

// AgentQuery selects agents; empty fields do not filter.
type AgentQuery struct {
	// OwnerID keeps one owner's agents; "" every owner's (admin).
	OwnerID  string
	Platform string
	Channel  string
	// Q keeps agents whose id or name contains it, ignoring ASCII case.
	Q string
	// Refs and RefsMode restrict the rows to (or exclude) listed agents:
	// the online filter and the relay directory's id lookups.
	Refs     []AgentRef
	RefsMode RefsMode
	// Sort (default agent_id) and Desc give the order: the sort value,
	// then agent id, then owner id, all descending when Desc. Names
	// compare by bytes.
	Sort AgentSort
	Desc bool
	// After, if set, keeps the agents strictly after it in that order.
	After *AgentKey
	Limit int // 1-10 000
	// SkipTotal skips counting the matches (the total returned is 0).
	SkipTotal bool
}

// AgentKey is a position in an agent listing: the sort value (Str for
// agent_id and name, Num for last_seen and created_at in Unix
// milliseconds, 0 for never seen) and the tie breakers.
type AgentKey struct {
	Str     string
	Num     int64
	AgentID string
	OwnerID string
}

// AgentRow is a stored agent with what the console keeps beside it.
type AgentRow struct {
	auth.Agent
	// RemoteIP is the address of the agent's current or last relay
	// connection, "" if never connected.
	RemoteIP string
}

// UserQuery selects users; empty fields do not filter.
type UserQuery struct {
	// Q keeps users whose username or email contains it, ignoring ASCII
	// case. Username keeps the user with exactly that username (ignoring
	// case).
	Q        string
	Username string
	Role     auth.Role
	Disabled *bool
	// After keeps ids greater than it (keyset, id order).
	After     string
	Limit     int // 1-1000
	SkipTotal bool
}

// UserRow is a user with its number of agents.
type UserRow struct {
	auth.User
	AgentsCount int
}

// Counts are the server-wide counts of GET /admin/stats.
type Counts struct {
	Users, Admins, DisabledUsers, LockedUsers int
	Agents                                    int
	// AgentsByPlatform counts agents per platform ("" for none).
	AgentsByPlatform map[string]int
	// SessionsActive are live wls_; MCPTokensActive live wlm_.
	SessionsActive  int
	MCPTokensActive int
}
