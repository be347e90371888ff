package relay

import (
	"context"
	"log/slog"
	"time"
)

// Kind is what a connection authenticated as.
type Kind string

// Connection kinds.
const (
	KindClient Kind = "client"
	KindAgent  Kind = "agent"
)

// Secret is a token as presented by a peer or minted for it. Its String,
// GoString and LogValue print a redacted form, so a Secret never reaches a
// log by accident; string(s) is the value.
type Secret string

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns a redacted form for %#v.
func (Secret) GoString() string { return `relay.Secret("[redacted]")` }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Credentials is what an auth frame presents (API.md §4.2).
type Credentials struct {
	// Token is the value of api_token or session_token.
	Token Secret
	// TokenField is "api_token" or "session_token".
	TokenField string
	// ClientType is "client", "device" or "firmware" (the last two are the
	// same: an agent).
	ClientType string
	// AgentID is the agent id a device claims (empty for clients).
	AgentID string
	// Name, Version, Platform, FirmwareVersion and EWSPVersions are the
	// optional descriptive fields of the auth frame.
	Name, Version             string
	Platform, FirmwareVersion string
	EWSPVersions              []string
	// RemoteIP is the peer's address (Config.ClientIP); Node this node's id.
	RemoteIP string
	Node     string
}

// Principal is what a connection authenticated as (API.md §4.6, §3.12).
type Principal struct {
	// Account is the account id; Kind client or agent; AgentID the agent
	// (agents only).
	Account string
	Kind    Kind
	AgentID string
	// CredentialIDs name the credentials the connection holds (API.md §1.4:
	// [ses_…] for wls_, [tok_…] for wld_, [tok_…, ses_…] for wl_); kicks and
	// revalidation match on them.
	CredentialIDs []string
	// CredentialKind is "wl", "wls" or "wld" (informational).
	CredentialKind string
	// ExpiresAt is when the connection's session expires (close 4002);
	// zero: never (devices).
	ExpiresAt time.Time
	// SessionToken is returned to a client in auth_response: a wls_ minted
	// for a wl_, or the presented wls_. Empty for devices (null).
	SessionToken Secret
	// MaxRequests is max_requests: 0 means the node's default for the kind
	// (clients Config.ClientMaxRequests, devices unlimited), negative
	// unlimited.
	MaxRequests int
	// Limits override the node's defaults for this connection; zero fields
	// keep them.
	Limits Limits
}

// Limits are per-principal overrides of API.md §4.6 (§3.12 limits). Zero
// fields keep the node's Config values.
type Limits struct {
	RatePerS             float64 // relay frames/s of this connection
	Burst                int
	AccountRatePerS      float64 // clients: relay frames/s of the account's clients on the node
	AccountBurst         int
	MaxClientsPerAccount int
	// OfflineQueueTTL for frames this client sends to offline agents
	// (≤ 300 s; negative: no queue).
	OfflineQueueTTL time.Duration
}

// Authenticator turns the credentials of an auth frame into a Principal.
// It must be safe for concurrent use. A refusal is an *AuthError (see the
// Err… variables); any other error is a fault of the authenticator: the
// peer gets SERVICE_UNAVAILABLE and close 1011. The relay checks on its own
// that the principal's kind matches client_type (else
// TOKEN_SCOPE_MISMATCH) and that an agent principal's AgentID equals the
// claimed one (else AGENT_MISMATCH).
//
// An Authenticator may also implement Revalidator and Directory; the
// Server detects them with a type assertion.
type Authenticator interface {
	Authenticate(ctx context.Context, cred Credentials) (*Principal, error)
}

// Revalidator is an optional capability of an Authenticator: given
// credential ids of live connections (at most 1000 per call), it returns
// those no longer valid. Every Config.RevalidateInterval each node closes
// the connections holding a returned id with 4001 (API.md §4.8), bounding a
// lost kick. Must be safe for concurrent use.
type Revalidator interface {
	Revalidate(ctx context.Context, credentialIDs []string) (revoked []string, err error)
}

// AgentInfo describes a registered agent (API.md §4.3).
type AgentInfo struct {
	AgentID         string
	LastSeen        time.Time // zero: never seen
	EWSPVersions    []string
	FirmwareVersion string
}

// Directory is an optional capability of an Authenticator: the agents
// registered to an account, connected or not. With it the relay tells a
// registered offline agent (queued/offline acks) from an id that is not the
// account's (unknown_agent), and fills the presence snapshot. Answers are
// cached per node (API.md §4.3). Must be safe for concurrent use.
type Directory interface {
	// Agents lists an account's agents in agent_id order, at most limit.
	Agents(ctx context.Context, accountID string, limit int) ([]AgentInfo, error)
	// LookupAgent answers one agent; false: not registered to that account.
	LookupAgent(ctx context.Context, accountID, agentID string) (AgentInfo, bool, error)
}
