package console

import (
	"context"
	"errors"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// The relay side (API.md §4.2, §4.3, §4.8, §3.12): *Service is the relay's
// Authenticator, Revalidator and Directory, in process; the internal
// endpoints (RelayAuthz, RelayRevalidate, RelayAgents, RelayPresence)
// answer the same questions for relay nodes outside the process.

var (
	_ relay.Authenticator = (*Service)(nil)
	_ relay.Revalidator   = (*Service)(nil)
	_ relay.Directory     = (*Service)(nil)
)

// RevalidateAfter is revalidate_after_s of the internal authz answer.
const RevalidateAfter = relay.DefaultRevalidateInterval

// RelayAuthzRequest is the body of POST /api/internal/relay/authz: an auth
// frame as an external relay node received it.
type RelayAuthzRequest struct {
	Token      relay.Secret // exactly as the peer sent it
	TokenField string       // api_token | session_token
	ClientType string       // client | device | firmware
	AgentID    string       // devices: the claimed agent id, as received
	NodeID     string
	RemoteIP   string
}

// RelayAuthzResult answers POST /api/internal/relay/authz: allow with the
// principal and its limits, or deny with a relay auth code (API.md §4.2).
// A deny is a decision (HTTP 200), not an error.
type RelayAuthzResult struct {
	Allowed          bool            `json:"allowed"`
	Error            string          `json:"error,omitempty"` // deny: the §4.2 code
	Principal        *RelayPrincipal `json:"principal,omitempty"`
	SessionToken     *Secret         `json:"session_token,omitempty"` // a wls_ minted for a wl_ client
	ExpiresIn        *int            `json:"expires_in,omitempty"`    // clients: the session's remaining seconds
	MaxRequests      *int            `json:"max_requests,omitempty"`
	Limits           *RelayLimits    `json:"limits,omitempty"`
	RevalidateAfterS *int            `json:"revalidate_after_s,omitempty"`
	// Message (deny) is safe to show to the peer; RetryAfter is sent as
	// retry_after_s for RATE_LIMITED.
	Message    string        `json:"-"`
	RetryAfter time.Duration `json:"-"`
}

// RelayPrincipal is the principal of an allowed relay connection.
type RelayPrincipal struct {
	AccountID      string     `json:"account_id"`
	Kind           relay.Kind `json:"kind"`     // client | agent
	AgentID        *string    `json:"agent_id"` // agents
	CredentialIDs  []string   `json:"credential_ids"`
	CredentialKind string     `json:"credential_kind"` // wl | wls | wld
	ExpiresAt      *time.Time `json:"expires_at"`      // clients' session; null for devices
}

// RelayLimits are a connection's limits (API.md §4.6).
type RelayLimits struct {
	RatePerS             float64 `json:"rate_per_s"`
	Burst                int     `json:"burst"`
	AccountRatePerS      float64 `json:"account_rate_per_s"`
	AccountBurst         int     `json:"account_burst"`
	MaxClientsPerAccount int     `json:"max_clients_per_account"`
	OfflineQueueTTLS     int     `json:"offline_queue_ttl_s"`
}

func deny(code, msg string) *RelayAuthzResult {
	return &RelayAuthzResult{Error: code, Message: msg}
}

// relayDeny maps an auth refusal to a relay auth code; ok false for a
// fault (the relay answers SERVICE_UNAVAILABLE and closes 1011).
func relayDeny(err error) (*RelayAuthzResult, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return nil, false
	}
	switch e.Code {
	case auth.CodeInvalidToken, auth.CodeTokenExpired, auth.CodeTokenRevoked, auth.CodeTokenScopeMismatch,
		auth.CodeAccountDisabled:
		return deny(string(e.Code), e.Message), true
	case auth.CodeRateLimited:
		d := deny(relay.CodeRateLimited, e.Message)
		d.RetryAfter = e.RetryAfter
		return d, true
	case auth.CodeAuthRequired:
		return deny(relay.CodeInvalidMessage, "token is empty"), true
	}
	// USER_NOT_FOUND (the account vanished mid-way) and the like.
	return deny(relay.CodeInvalidToken, "invalid token"), true
}

// RelayAuthz is POST /api/internal/relay/authz (the caller checked the
// internal key) and the core of Authenticate. It decides (API.md §4.2):
// clients authenticate with a wls_ (session_token) or a wl_ (api_token; a
// session created_via relay is minted, capped by
// sessions.max_relay_per_user, oldest revoked with a 4001 kick); devices
// with their wld_ and the agent_id it belongs to (else AGENT_MISMATCH), or,
// with the legacy_account_token_devices setting on, with the account's wl_
// or wls_ and the id of one of its agents. A wld_ as client, a wl_/wls_ as
// device (setting off), a JWT or an MCP token are TOKEN_SCOPE_MISMATCH;
// anything malformed INVALID_TOKEN. Only faults (the database) are errors.
func (s *Service) RelayAuthz(ctx context.Context, req RelayAuthzRequest) (*RelayAuthzResult, error) {
	res, _, err := s.relayAuthz(ctx, req)
	return res, err
}

func (s *Service) relayAuthz(ctx context.Context, req RelayAuthzRequest) (*RelayAuthzResult, *relay.Principal, error) {
	switch {
	case req.TokenField != "api_token" && req.TokenField != "session_token":
		return deny(relay.CodeInvalidMessage, "token_field must be api_token or session_token"), nil, nil
	case req.ClientType != "client" && req.ClientType != "device" && req.ClientType != "firmware":
		return deny(relay.CodeInvalidMessage, `client_type must be "client", "device" or "firmware"`), nil, nil
	case req.Token == "":
		return deny(relay.CodeInvalidMessage, "token is empty"), nil, nil
	}
	tok, err := auth.ParseToken(string(req.Token))
	if err != nil {
		return deny(relay.CodeInvalidToken, "invalid token"), nil, nil
	}
	set := s.Settings(ctx)
	client := req.ClientType == "client"
	var admit auth.KindSet
	switch {
	case client && req.TokenField == "session_token":
		admit = auth.Kinds(auth.KindSession)
	case client:
		admit = auth.Kinds(auth.KindAccount)
	case req.TokenField == "session_token":
		if set.Relay.LegacyAccountTokenDevices {
			admit = auth.Kinds(auth.KindSession)
		}
	default:
		admit = auth.Kinds(auth.KindDevice)
		if set.Relay.LegacyAccountTokenDevices {
			admit |= auth.Kinds(auth.KindAccount, auth.KindSession)
		}
	}
	p, err := s.auth.Authenticate(ctx, tok, admit)
	if err != nil {
		if d, ok := relayDeny(err); ok {
			return d, nil, nil
		}
		return nil, nil, s.wrap("authenticating a relay peer", err)
	}
	rp := &relay.Principal{Account: p.UserID, Limits: relayLimits(set)}
	out := &RelayAuthzResult{Allowed: true}
	switch {
	case !client && p.Kind == auth.KindDevice:
		if p.AgentID != req.AgentID {
			return deny(relay.CodeAgentMismatch, relay.ErrAgentMismatch.Message), nil, nil
		}
		rp.Kind, rp.AgentID, rp.CredentialIDs, rp.CredentialKind = relay.KindAgent, p.AgentID, []string{p.CredentialID}, "wld"
	case !client:
		// A legacy device on the account's wl_ or wls_.
		if !auth.ValidAgentID(req.AgentID) {
			return deny(relay.CodeAgentMismatch, relay.ErrAgentMismatch.Message), nil, nil
		}
		switch _, err := s.auth.Agent(ctx, p.UserID, req.AgentID); {
		case auth.CodeOf(err) == auth.CodeAgentNotFound:
			return deny(relay.CodeAgentMismatch, relay.ErrAgentMismatch.Message), nil, nil
		case err != nil:
			return nil, nil, s.wrap("looking an agent up", err)
		}
		rp.Kind, rp.AgentID, rp.CredentialIDs = relay.KindAgent, req.AgentID, []string{p.CredentialID}
		rp.CredentialKind = p.Kind.String()
		rp.ExpiresAt = p.ExpiresAt
	case p.Kind == auth.KindSession:
		rp.Kind, rp.CredentialIDs, rp.CredentialKind, rp.ExpiresAt = relay.KindClient, []string{p.CredentialID}, "wls", p.ExpiresAt
		rp.SessionToken = req.Token
	default: // a client on its wl_: a relay session of its own
		is, err := s.auth.CreateSession(ctx, p, auth.SessionRequest{Relay: true})
		if err != nil {
			if d, ok := relayDeny(err); ok {
				return d, nil, nil
			}
			return nil, nil, s.wrap("minting a relay session", err)
		}
		var o outbox
		s.revokedSessions(&o, p.UserID, is.Evicted)
		s.send(ctx, &o)
		rp.Kind, rp.CredentialKind, rp.ExpiresAt = relay.KindClient, "wl", is.Session.ExpiresAt
		rp.CredentialIDs = []string{p.CredentialID, is.Session.ID}
		rp.SessionToken = relay.Secret(is.Token.Reveal())
		out.SessionToken = newSecret(is.Token)
	}
	expiresIn := secondsUntil(rp.ExpiresAt, s.clock.Now())
	// Relays time connections with their own (real) clock: move the expiry
	// out of the server clock's frame (the dev offset).
	rp.ExpiresAt = s.realTime(rp.ExpiresAt)
	// The answer of the internal endpoint.
	out.Principal = &RelayPrincipal{AccountID: rp.Account, Kind: rp.Kind, AgentID: strPtr(rp.AgentID),
		CredentialIDs: rp.CredentialIDs, CredentialKind: rp.CredentialKind, ExpiresAt: timePtr(rp.ExpiresAt)}
	lim := RelayLimits{RatePerS: relay.DefaultClientRate, Burst: relay.DefaultClientBurst,
		AccountRatePerS: relay.DefaultAccountRate, AccountBurst: relay.DefaultAccountBurst,
		MaxClientsPerAccount: set.Relay.MaxClientsPerAccount, OfflineQueueTTLS: set.Relay.OfflineQueueTTLS}
	maxReq := relay.DefaultClientMaxRequests
	if rp.Kind == relay.KindAgent {
		lim.RatePerS, lim.Burst, maxReq = relay.DefaultAgentRate, relay.DefaultAgentBurst, 0
	} else {
		out.ExpiresIn = &expiresIn
	}
	reval := int(RevalidateAfter / time.Second)
	out.Limits, out.MaxRequests, out.RevalidateAfterS = &lim, &maxReq, &reval
	return out, rp, nil
}

// realTime converts a time of the server clock (which carries the dev
// offset, and a test's base) to the real clock the relay uses.
func (s *Service) realTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(time.Since(s.clock.Now())).UTC().Round(time.Millisecond)
}

// relayLimits are the per-principal overrides the settings give.
func relayLimits(set Settings) relay.Limits {
	l := relay.Limits{MaxClientsPerAccount: set.Relay.MaxClientsPerAccount}
	if set.Relay.OfflineQueueTTLS == 0 {
		l.OfflineQueueTTL = -1 // no offline queue
	} else {
		l.OfflineQueueTTL = time.Duration(set.Relay.OfflineQueueTTLS) * time.Second
	}
	return l
}

// Authenticate implements relay.Authenticator for the in-process relay:
// RelayAuthz on the auth frame's credentials. A refusal is a
// *relay.AuthError with the §4.2 code; any other error is a fault (the
// relay answers SERVICE_UNAVAILABLE, close 1011).
func (s *Service) Authenticate(ctx context.Context, cred relay.Credentials) (*relay.Principal, error) {
	res, p, err := s.relayAuthz(ctx, RelayAuthzRequest{Token: cred.Token, TokenField: cred.TokenField,
		ClientType: cred.ClientType, AgentID: cred.AgentID, NodeID: cred.Node, RemoteIP: cred.RemoteIP})
	if err != nil {
		return nil, err
	}
	if !res.Allowed {
		return nil, &relay.AuthError{Code: res.Error, Message: res.Message, RetryAfter: res.RetryAfter}
	}
	return p, nil
}

// Revalidate implements relay.Revalidator: of the credential ids of live
// connections (at most 1000), those no longer valid (API.md §4.8).
func (s *Service) Revalidate(ctx context.Context, credentialIDs []string) ([]string, error) {
	revoked, err := s.auth.Revalidate(ctx, credentialIDs)
	return revoked, s.wrap("revalidating", err)
}

// RevalidateResult answers POST /api/internal/relay/revalidate.
type RevalidateResult struct {
	Revoked []string `json:"revoked"`
}

// RelayRevalidateRequest is the body of POST
// /api/internal/relay/revalidate.
type RelayRevalidateRequest struct {
	CredentialIDs []string // ≤ 1000
}

// RelayRevalidate is POST /api/internal/relay/revalidate: of the ids, those
// no longer valid (API.md §4.8).
func (s *Service) RelayRevalidate(ctx context.Context, req RelayRevalidateRequest) (*RevalidateResult, error) {
	revoked, err := s.Revalidate(ctx, req.CredentialIDs)
	if err != nil {
		return nil, err
	}
	if revoked == nil {
		revoked = []string{}
	}
	return &RevalidateResult{Revoked: revoked}, nil
}

// MaxDirectoryList bounds one directory listing (API.md §3.12, §4.3).
const MaxDirectoryList = 1000

// Agents implements relay.Directory: an account's agents in agent_id
// order, at most limit (≤ 1000); an unknown account has none.
func (s *Service) Agents(ctx context.Context, accountID string, limit int) ([]relay.AgentInfo, error) {
	if !validUserID(accountID) || limit <= 0 {
		return nil, nil
	}
	rows, _, err := s.store.ListAgents(ctx, AgentQuery{OwnerID: accountID, Sort: SortAgentID,
		Limit: min(limit, MaxDirectoryList), SkipTotal: true})
	if err != nil {
		return nil, s.wrap("listing agents", err)
	}
	out := make([]relay.AgentInfo, len(rows))
	for i, r := range rows {
		out[i] = agentInfo(r.Agent)
	}
	return out, nil
}

// LookupAgent implements relay.Directory: false when agentID is not an
// agent of the account.
func (s *Service) LookupAgent(ctx context.Context, accountID, agentID string) (relay.AgentInfo, bool, error) {
	if !validUserID(accountID) || !auth.ValidAgentID(agentID) {
		return relay.AgentInfo{}, false, nil
	}
	a, err := s.auth.Agent(ctx, accountID, agentID)
	switch {
	case auth.CodeOf(err) == auth.CodeAgentNotFound:
		return relay.AgentInfo{}, false, nil
	case err != nil:
		return relay.AgentInfo{}, false, s.wrap("looking an agent up", err)
	}
	return agentInfo(a), true, nil
}

func agentInfo(a auth.Agent) relay.AgentInfo {
	return relay.AgentInfo{AgentID: a.AgentID, LastSeen: a.LastSeen, EWSPVersions: a.EWSPVersions, FirmwareVersion: a.FirmwareVersion}
}

// RelayAgentsRequest is the body of POST /api/internal/relay/agents.
type RelayAgentsRequest struct {
	AccountID string
	AgentIDs  []string // 1-1000 ids as clients addressed them; nil: list
	Limit     int      // 0: 1000; 1-1000
}

// RelayAgentInfo is one item of the internal agents answer.
type RelayAgentInfo struct {
	AgentID         string     `json:"agent_id"`
	LastSeen        *time.Time `json:"last_seen"`
	EWSPVersions    []string   `json:"ewsp_versions"`
	FirmwareVersion *string    `json:"firmware_version"`
}

// RelayAgentsResult answers POST /api/internal/relay/agents.
type RelayAgentsResult struct {
	Items []RelayAgentInfo `json:"items"`
}

// RelayAgents is POST /api/internal/relay/agents: with AgentIDs, those
// registered to the account (others left out); else the account's agents
// in agent_id order, at most Limit. An unknown account gives none.
func (s *Service) RelayAgents(ctx context.Context, req RelayAgentsRequest) (*RelayAgentsResult, error) {
	var v validator
	if len(req.AgentIDs) > MaxDirectoryList {
		v.add("agent_ids", "max", itoa(MaxDirectoryList))
	}
	if req.Limit < 0 || req.Limit > MaxDirectoryList {
		v.add("limit", "range", "1-1000")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	out := &RelayAgentsResult{Items: []RelayAgentInfo{}}
	if !validUserID(req.AccountID) {
		return out, nil
	}
	q := AgentQuery{OwnerID: req.AccountID, Sort: SortAgentID, Limit: MaxDirectoryList, SkipTotal: true}
	if req.Limit > 0 {
		q.Limit = req.Limit
	}
	if req.AgentIDs != nil {
		q.RefsMode, q.Refs = RefsOnly, make([]AgentRef, 0, len(req.AgentIDs))
		for _, id := range req.AgentIDs {
			if auth.ValidAgentID(id) {
				q.Refs = append(q.Refs, AgentRef{req.AccountID, id})
			}
		}
		q.Limit = MaxDirectoryList
	}
	rows, _, err := s.store.ListAgents(ctx, q)
	if err != nil {
		return nil, s.wrap("listing agents", err)
	}
	for _, r := range rows {
		ev := r.EWSPVersions
		if ev == nil {
			ev = []string{}
		}
		out.Items = append(out.Items, RelayAgentInfo{AgentID: r.AgentID, LastSeen: timePtr(r.LastSeen),
			EWSPVersions: ev, FirmwareVersion: strPtr(r.FirmwareVersion)})
	}
	return out, nil
}
