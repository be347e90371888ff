package relaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wakelink-go/wakelink/relay"
)

// Auth is an in-memory relay.Authenticator with the relay.Revalidator and
// relay.Directory capabilities, following API.md §1.4 and §4.2: account
// tokens wl_ (clients; each relay auth mints a wls_ session), session
// tokens wls_ (clients), device tokens wld_ (agents), each with its
// credential id (tok_…, ses_…). Agents are registered per account and may
// be offline. Safe for concurrent use.
type Auth struct {
	mu        sync.Mutex
	clock     relay.Clock
	creds     map[string]*credential // token → credential
	byID      map[string]*credential // credential id → credential
	agents    map[string]map[string]*relay.AgentInfo
	disabled  map[string]bool
	limits    map[string]relay.Limits
	maxReq    map[string]int
	dirErr    error
	authErr   error
	revokedID map[string]bool

	lookups, lists, revalidations int
}

type credential struct {
	id      string
	token   string
	kind    string // "wl", "wls", "wld"
	account string
	agentID string
	expires time.Time
	parent  string // for a relay-minted wls_: the wl_'s id
}

var (
	_ relay.Authenticator = (*Auth)(nil)
	_ relay.Revalidator   = (*Auth)(nil)
	_ relay.Directory     = (*Auth)(nil)
)

// SessionTTL is the lifetime of sessions the Auth mints (API.md §1.4).
const SessionTTL = 24 * time.Hour

// NewAuth returns an empty Auth on the system clock.
func NewAuth() *Auth {
	return &Auth{
		creds:     make(map[string]*credential),
		byID:      make(map[string]*credential),
		agents:    make(map[string]map[string]*relay.AgentInfo),
		disabled:  make(map[string]bool),
		limits:    make(map[string]relay.Limits),
		maxReq:    make(map[string]int),
		revokedID: make(map[string]bool),
	}
}

// SetClock makes the Auth read time (session expiry) from clk.
func (a *Auth) SetClock(clk relay.Clock) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clock = clk
}

func (a *Auth) now() time.Time {
	if a.clock != nil {
		return a.clock.Now()
	}
	return time.Now()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *Auth) addLocked(kind, account, agentID string, expires time.Time) *credential {
	prefix := map[string]string{"wl": "wl_", "wls": "wls_", "wld": "wld_"}[kind]
	idPrefix := "tok_"
	if kind == "wls" {
		idPrefix = "ses_"
	}
	c := &credential{
		id:      idPrefix + randHex(13),
		token:   prefix + randHex(32),
		kind:    kind,
		account: account,
		agentID: agentID,
		expires: expires,
	}
	a.creds[c.token] = c
	a.byID[c.id] = c
	return c
}

// AddClient mints an account token (wl_) for account and returns it with
// its credential id.
func (a *Auth) AddClient(account string) (token, credentialID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.addLocked("wl", account, "", time.Time{})
	return c.token, c.id
}

// AddSession mints a session token (wls_) for account that expires after
// ttl (zero: SessionTTL), and returns it with its session id.
func (a *Auth) AddSession(account string, ttl time.Duration) (token, sessionID string) {
	if ttl == 0 {
		ttl = SessionTTL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.addLocked("wls", account, "", a.now().Add(ttl))
	return c.token, c.id
}

// AddAgent registers agentID to account and mints its device token (wld_),
// returned with its credential id. The agent is registered (Directory)
// whether or not it ever connects.
func (a *Auth) AddAgent(account, agentID string) (token, credentialID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.registerLocked(account, agentID)
	c := a.addLocked("wld", account, agentID, time.Time{})
	return c.token, c.id
}

// RegisterAgent registers agentID to account without a token.
func (a *Auth) RegisterAgent(account, agentID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.registerLocked(account, agentID)
}

func (a *Auth) registerLocked(account, agentID string) {
	m := a.agents[account]
	if m == nil {
		m = make(map[string]*relay.AgentInfo)
		a.agents[account] = m
	}
	if m[agentID] == nil {
		m[agentID] = &relay.AgentInfo{AgentID: agentID}
	}
}

// RemoveAgent deletes an agent and revokes its device tokens.
func (a *Auth) RemoveAgent(account, agentID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.agents[account], agentID)
	for _, c := range a.byID {
		if c.kind == "wld" && c.account == account && c.agentID == agentID {
			a.revokedID[c.id] = true
		}
	}
}

// Revoke revokes a credential by id; a revoked wl_ also revokes the
// sessions the relay minted from it.
func (a *Auth) Revoke(credentialID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revokedID[credentialID] = true
	for _, c := range a.byID {
		if c.parent == credentialID {
			a.revokedID[c.id] = true
		}
	}
}

// Disable disables (or re-enables) an account.
func (a *Auth) Disable(account string, disabled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.disabled[account] = disabled
}

// SetLimits sets the limits returned in the principals of account.
func (a *Auth) SetLimits(account string, l relay.Limits) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limits[account] = l
}

// SetMaxRequests sets max_requests for the clients of account.
func (a *Auth) SetMaxRequests(account string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maxReq[account] = n
}

// SetDirectoryError makes Directory calls fail with err (nil: succeed).
func (a *Auth) SetDirectoryError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dirErr = err
}

// SetAuthError makes Authenticate fail with err (nil: work normally).
func (a *Auth) SetAuthError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.authErr = err
}

// Calls returns how many LookupAgent, Agents and Revalidate calls were made.
func (a *Auth) Calls() (lookups, lists, revalidations int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookups, a.lists, a.revalidations
}

// Authenticate implements relay.Authenticator.
func (a *Auth) Authenticate(ctx context.Context, cred relay.Credentials) (*relay.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.authErr != nil {
		return nil, a.authErr
	}
	tok := string(cred.Token)
	if !wellFormed(tok) {
		return nil, relay.ErrInvalidToken
	}
	c := a.creds[tok]
	if c == nil {
		return nil, relay.ErrInvalidToken
	}
	device := cred.ClientType != "client"
	switch {
	case device && c.kind != "wld", !device && c.kind == "wld":
		return nil, relay.ErrTokenScopeMismatch
	case cred.TokenField == "session_token" && c.kind != "wls",
		cred.TokenField == "api_token" && c.kind == "wls":
		return nil, relay.ErrTokenScopeMismatch
	case a.revokedID[c.id]:
		return nil, relay.ErrTokenRevoked
	case !c.expires.IsZero() && !c.expires.After(a.now()):
		return nil, relay.ErrTokenExpired
	case a.disabled[c.account]:
		return nil, relay.ErrAccountDisabled
	}
	p := &relay.Principal{
		Account:        c.account,
		CredentialKind: c.kind,
		Limits:         a.limits[c.account],
	}
	if device {
		if c.agentID != cred.AgentID {
			return nil, relay.ErrAgentMismatch
		}
		if a.agents[c.account][c.agentID] == nil {
			return nil, relay.ErrTokenRevoked
		}
		p.Kind, p.AgentID, p.CredentialIDs = relay.KindAgent, c.agentID, []string{c.id}
		if info := a.agents[c.account][c.agentID]; info != nil {
			info.LastSeen = a.now()
			info.EWSPVersions = slices.Clone(cred.EWSPVersions)
			info.FirmwareVersion = cred.FirmwareVersion
		}
		return p, nil
	}
	p.Kind = relay.KindClient
	p.MaxRequests = a.maxReq[c.account]
	switch c.kind {
	case "wl":
		s := a.addLocked("wls", c.account, "", a.now().Add(SessionTTL))
		s.parent = c.id
		p.CredentialIDs = []string{c.id, s.id}
		p.SessionToken, p.ExpiresAt = relay.Secret(s.token), s.expires
	case "wls":
		p.CredentialIDs = []string{c.id}
		if c.parent != "" {
			p.CredentialIDs = []string{c.parent, c.id}
		}
		p.SessionToken, p.ExpiresAt = relay.Secret(c.token), c.expires
	}
	return p, nil
}

// wellFormed checks a token's shape: a known prefix and 64 lowercase hex.
func wellFormed(tok string) bool {
	for _, p := range []string{"wls_", "wld_", "wl_"} {
		if rest, ok := strings.CutPrefix(tok, p); ok {
			if len(rest) != 64 {
				return false
			}
			for i := 0; i < len(rest); i++ {
				if c := rest[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
					return false
				}
			}
			return true
		}
	}
	return false
}

// Revalidate implements relay.Revalidator.
func (a *Auth) Revalidate(ctx context.Context, ids []string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revalidations++
	var out []string
	for _, id := range ids {
		c := a.byID[id]
		if c == nil || a.revokedID[id] || a.disabled[c.account] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Agents implements relay.Directory.
func (a *Auth) Agents(ctx context.Context, accountID string, limit int) ([]relay.AgentInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lists++
	if a.dirErr != nil {
		return nil, a.dirErr
	}
	ids := make([]string, 0, len(a.agents[accountID]))
	for id := range a.agents[accountID] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]relay.AgentInfo, 0, len(ids))
	for _, id := range ids {
		info := *a.agents[accountID][id]
		info.EWSPVersions = slices.Clone(info.EWSPVersions)
		out = append(out, info)
	}
	return out, nil
}

// LookupAgent implements relay.Directory.
func (a *Auth) LookupAgent(ctx context.Context, accountID, agentID string) (relay.AgentInfo, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lookups++
	if a.dirErr != nil {
		return relay.AgentInfo{}, false, a.dirErr
	}
	info := a.agents[accountID][agentID]
	if info == nil {
		return relay.AgentInfo{}, false, nil
	}
	out := *info
	out.EWSPVersions = slices.Clone(out.EWSPVersions)
	return out, true, nil
}

// String describes the Auth without tokens.
func (a *Auth) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprintf("relaytest.Auth{credentials: %d, accounts: %d}", len(a.byID), len(a.agents))
}
