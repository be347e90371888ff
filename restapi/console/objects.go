package console

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// The result types below are the objects of API.md §3.0 and openapi.yaml,
// field for field (json names included, so event payloads and idempotency
// records have the API's shape): the REST handlers copy them into the
// generated types. Nullable fields are pointers; secrets are *Secret, set
// only in the answer that mints them and nil on an idempotent replay.

// Secret is a one-time secret in an answer (a token, a claim code, TOTP
// material). It prints redacted (String, GoString, Format, LogValue) so a
// result logged by accident leaks nothing; MarshalJSON gives the value,
// because the answer is where it belongs. (*string)(p) converts a *Secret
// for the generated types.
type Secret string

func newSecret(t auth.Token) *Secret {
	if t.IsZero() {
		return nil
	}
	s := Secret(t.Reveal())
	return &s
}

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// Format prints the redacted form for every verb.
func (Secret) Format(f fmt.State, verb rune) { io.WriteString(f, "[redacted]") }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON gives the secret's value (it goes into an answer).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }

var (
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
)

// User is the User object (API.md §3.0).
type User struct {
	ID           string     `json:"id"`
	Username     string     `json:"username"`
	Email        *string    `json:"email"`
	Role         auth.Role  `json:"role"`
	Disabled     bool       `json:"disabled"`
	TOTPEnabled  bool       `json:"totp_enabled"`
	AgentsLimit  int        `json:"agents_limit"` // effective; 0 = unlimited
	AgentsCount  int        `json:"agents_count"`
	CreatedAt    time.Time  `json:"created_at"`
	LastLoginAt  *time.Time `json:"last_login_at"`
	APIToken     *Secret    `json:"api_token"` // only in the answer that mints it
	APITokenHint *string    `json:"api_token_hint"`
}

// AdminUser is a user as admins see it (User + locked_until).
type AdminUser struct {
	User
	LockedUntil *time.Time `json:"locked_until"` // an active lockout's end
}

// AdminUserPage is a page of GET /admin/users.
type AdminUserPage struct {
	Items      []AdminUser `json:"items"`
	NextCursor *string     `json:"next_cursor"`
	Total      int         `json:"total"`
}

// Me is GET /auth/me: the user and the credential used.
type Me struct {
	User
	Auth MeAuth `json:"auth"`
}

// MeAuth describes the credential of a request.
type MeAuth struct {
	Kind      string     `json:"kind"`       // jwt | account_token | session
	ExpiresAt *time.Time `json:"expires_at"` // null for wl_
}

// LoginResult answers setup, register, login and password change.
type LoginResult struct {
	AccessToken *Secret `json:"access_token"`
	TokenType   string  `json:"token_type"` // Bearer
	ExpiresIn   int     `json:"expires_in"`
	User        User    `json:"user"`
}

// Target is a Wake-on-LAN target of an agent's address book.
type Target struct {
	Name      string  `json:"name"`
	MAC       string  `json:"mac"`       // AA:BB:CC:DD:EE:FF
	Broadcast *string `json:"broadcast"` // IPv4 or null
	Port      int     `json:"port"`
}

// TargetInput is a target as clients send it.
type TargetInput struct {
	Name      string
	MAC       string
	Broadcast *string // nil: the agent's default
	Port      *int    // nil: 9
}

func targetsIn(in []TargetInput) []auth.Target {
	if in == nil {
		return nil
	}
	out := make([]auth.Target, len(in))
	for i, t := range in {
		out[i] = auth.Target{Name: t.Name, MAC: t.MAC}
		if t.Broadcast != nil {
			out[i].Broadcast = *t.Broadcast
		}
		if t.Port != nil {
			out[i].Port = *t.Port
			if *t.Port == 0 {
				out[i].Port = -1 // 0 is not "absent" here: let auth refuse it
			}
		}
	}
	return out
}

// AgentOTA is an agent's latest OTA report (filled by the OTA issue).
type AgentOTA struct {
	ReleaseID string    `json:"release_id"`
	Version   string    `json:"version"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Agent is the Agent object (API.md §3.0): the stored agent with the
// relay's presence merged in.
type Agent struct {
	AgentID         string     `json:"agent_id"`
	Name            string     `json:"name"`
	Platform        *string    `json:"platform"`
	Channel         string     `json:"channel"`
	FirmwareVersion *string    `json:"firmware_version"`
	EWSPVersions    []string   `json:"ewsp_versions"`
	Targets         []Target   `json:"targets"`
	Online          bool       `json:"online"`
	LastSeen        *time.Time `json:"last_seen"`
	ConnectedSince  *time.Time `json:"connected_since"`
	Node            *string    `json:"node"`
	RemoteIP        *string    `json:"remote_ip"` // current, else last connection
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	TokenHint       string     `json:"token_hint"`
	TokenRotatedAt  *time.Time `json:"token_rotated_at"`
	BoundAt         *time.Time `json:"bound_at"`
	OTA             *AgentOTA  `json:"ota"`
}

// AdminAgent is an agent with its owner (GET /admin/agents).
type AdminAgent struct {
	Agent
	OwnerID string `json:"owner_id"`
}

// AgentPage is a page of GET /agents.
type AgentPage struct {
	Items      []Agent `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Total      int     `json:"total"`
}

// AdminAgentPage is a page of GET /admin/agents.
type AdminAgentPage struct {
	Items      []AdminAgent `json:"items"`
	NextCursor *string      `json:"next_cursor"`
	Total      int          `json:"total"`
}

// OTAPublicKey is a trusted release signing key.
type OTAPublicKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// ProvisioningOTA is the OTA part of a provisioning bundle.
type ProvisioningOTA struct {
	CheckURL   string         `json:"check_url"`
	PublicKeys []OTAPublicKey `json:"public_keys"`
}

// Provisioning is the bind answer (API.md §3.3), also the provisioning
// bundle of create and rotate-token.
type Provisioning struct {
	AgentID     string          `json:"agent_id"`
	DeviceToken *Secret         `json:"device_token"`
	Name        string          `json:"name"`
	Channel     string          `json:"channel"`
	APIURL      string          `json:"api_url"`
	RelayURL    string          `json:"relay_url"`
	OTA         ProvisioningOTA `json:"ota"`
}

// CreatedAgent answers POST /agents.
type CreatedAgent struct {
	Agent
	DeviceToken  *Secret      `json:"device_token"`
	RelayURL     string       `json:"relay_url"`
	Provisioning Provisioning `json:"provisioning"`
	// Replayed is true when this is an idempotent replay (the REST layer
	// sets Idempotent-Replayed: true); the secrets are then nil.
	Replayed bool `json:"-"`
}

// AgentTokenRotation answers POST /agents/{id}/rotate-token.
type AgentTokenRotation struct {
	DeviceToken        *Secret      `json:"device_token"`
	TokenRotatedAt     time.Time    `json:"token_rotated_at"`
	OldTokenValidUntil time.Time    `json:"old_token_valid_until"`
	Provisioning       Provisioning `json:"provisioning"`
}

// AgentPresence is one item of GET /agents/presence.
type AgentPresence struct {
	AgentID  string     `json:"agent_id"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen"`
}

// PresenceList answers GET /agents/presence.
type PresenceList struct {
	Items []AgentPresence `json:"items"`
	TS    time.Time       `json:"ts"`
}

// ClaimCode is an active claim code (no code).
type ClaimCode struct {
	ClaimID   string    `json:"claim_id"`
	CodeHint  string    `json:"code_hint"`
	AgentID   *string   `json:"agent_id"`
	Name      *string   `json:"name"`
	Platform  *string   `json:"platform"`
	Channel   *string   `json:"channel"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatedClaimCode answers POST /claim-codes.
type CreatedClaimCode struct {
	ClaimCode
	Code    *Secret `json:"code"` // XXXX-XXXX-XXXX; null on a replay
	BindURL string  `json:"bind_url"`
	Command *Secret `json:"command"` // holds the code; null on a replay
	// Replayed: see CreatedAgent.
	Replayed bool `json:"-"`
}

// ClaimCodeList answers GET /claim-codes.
type ClaimCodeList struct {
	Items []ClaimCode `json:"items"`
}

// Session is a live session of GET /auth/sessions.
type Session struct {
	SessionID  string          `json:"session_id"`
	Label      *string         `json:"label"`
	CreatedAt  time.Time       `json:"created_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	LastUsedAt *time.Time      `json:"last_used_at"`
	CreatedVia auth.CreatedVia `json:"created_via"`
	Current    bool            `json:"current"`
}

// SessionPage is a page of GET /auth/sessions.
type SessionPage struct {
	Items      []Session `json:"items"`
	NextCursor *string   `json:"next_cursor"`
	Total      int       `json:"total"`
}

// SessionToken answers POST /auth/session.
type SessionToken struct {
	SessionToken *Secret   `json:"session_token"`
	SessionID    string    `json:"session_id"`
	ExpiresAt    time.Time `json:"expires_at"`
	ExpiresIn    int       `json:"expires_in"`
}

// APITokenRotation answers POST /auth/token/rotate.
type APITokenRotation struct {
	APIToken     *Secret   `json:"api_token"`
	APITokenHint string    `json:"api_token_hint"`
	RotatedAt    time.Time `json:"rotated_at"`
}

// LogoutEverywhereResult answers POST /auth/logout-everywhere.
type LogoutEverywhereResult struct {
	RevokedSessions int     `json:"revoked_sessions"`
	APIToken        *Secret `json:"api_token"` // the new wl_ when asked for
}

// AccessToken answers POST /auth/refresh.
type AccessToken struct {
	AccessToken *Secret `json:"access_token"`
	ExpiresIn   int     `json:"expires_in"`
}

// TOTPEnrollment answers POST /auth/totp/enroll.
type TOTPEnrollment struct {
	Secret     *Secret   `json:"secret"`
	OtpauthURL *Secret   `json:"otpauth_url"`
	Issuer     string    `json:"issuer"`
	Digits     int       `json:"digits"`
	Period     int       `json:"period"`
	Algorithm  string    `json:"algorithm"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// TOTPConfirmation answers POST /auth/totp/confirm.
type TOTPConfirmation struct {
	EnabledAt     time.Time `json:"enabled_at"`
	RecoveryCodes []Secret  `json:"recovery_codes"`
}

// RecoveryCodes answers POST /auth/totp/recovery-codes.
type RecoveryCodes struct {
	RecoveryCodes []Secret `json:"recovery_codes"`
}

// EventTicket answers POST /events/ticket.
type EventTicket struct {
	Ticket    *Secret `json:"ticket"`
	ExpiresIn int     `json:"expires_in"`
}

func secrets(ts []auth.Token) []Secret {
	out := make([]Secret, len(ts))
	for i, t := range ts {
		out[i] = Secret(t.Reveal())
	}
	return out
}

// userOf converts a stored user.
func (s *Service) userOf(u auth.User, agentsCount int) User {
	return User{
		ID: u.ID, Username: u.Username, Email: strPtr(u.Email), Role: u.Role, Disabled: u.Disabled,
		TOTPEnabled: u.TOTPEnabled(), AgentsLimit: s.auth.AgentsLimit(u), AgentsCount: agentsCount,
		CreatedAt: u.CreatedAt.UTC(), LastLoginAt: timePtr(u.LastLoginAt), APITokenHint: strPtr(u.APITokenHint),
	}
}

func (s *Service) adminUserOf(u auth.User, agentsCount int) AdminUser {
	au := AdminUser{User: s.userOf(u, agentsCount)}
	if s.now().Before(u.LockedUntil) {
		au.LockedUntil = timePtr(u.LockedUntil)
	}
	return au
}

// agentOf converts a stored agent and merges its presence (p nil:
// offline).
func agentOf(a AgentRow, p *relay.AgentPresence) Agent {
	out := Agent{
		AgentID: a.AgentID, Name: a.Name, Platform: strPtr(a.Platform), Channel: a.Channel,
		FirmwareVersion: strPtr(a.FirmwareVersion), EWSPVersions: slices.Clone(a.EWSPVersions),
		Targets: make([]Target, len(a.Targets)), LastSeen: timePtr(a.LastSeen), RemoteIP: strPtr(a.RemoteIP),
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), TokenHint: a.TokenHint,
		TokenRotatedAt: timePtr(a.TokenRotatedAt), BoundAt: timePtr(a.BoundAt),
	}
	if out.EWSPVersions == nil {
		out.EWSPVersions = []string{}
	}
	for i, t := range a.Targets {
		out.Targets[i] = Target{Name: t.Name, MAC: t.MAC, Broadcast: strPtr(t.Broadcast), Port: t.Port}
	}
	if p != nil {
		out.Online = true
		out.Node = strPtr(p.Node)
		out.ConnectedSince = timePtr(p.Since)
		if p.RemoteIP != "" {
			out.RemoteIP = strPtr(p.RemoteIP)
		}
		if len(p.EWSPVersions) > 0 {
			out.EWSPVersions = slices.Clone(p.EWSPVersions)
		}
		if p.FirmwareVersion != "" {
			out.FirmwareVersion = strPtr(p.FirmwareVersion)
		}
	}
	return out
}

func claimOf(c auth.ClaimCode) ClaimCode {
	return ClaimCode{
		ClaimID: c.ID, CodeHint: c.CodeHint, AgentID: strPtr(c.AgentID), Name: strPtr(c.Name),
		Platform: strPtr(c.Platform), Channel: strPtr(c.Channel), CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}
}

// secondsUntil returns whole seconds from now to t, at least 0.
func secondsUntil(t, now time.Time) int {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func itoa(n int) string { return strconv.Itoa(n) }
