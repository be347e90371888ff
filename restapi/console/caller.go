package console

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// AuthRule is the Auth column of API.md §3 for one endpoint (openapi.yaml
// x-wakelink-auth): which credential kinds it admits and which role it
// needs. The REST layer passes the endpoint's rule to AuthenticateBearer;
// every use case checks the rule it documents again (defence in depth, and
// MCP callers go through the same checks).
type AuthRule uint8

// The rules (x-wakelink-auth-kinds of openapi.yaml).
const (
	// AuthC: a JWT, wl_ or wls_.
	AuthC AuthRule = iota + 1
	// AuthI: interactive — a JWT, or a wls_ created_via password.
	AuthI
	// AuthA: I of an admin.
	AuthA
	// AuthCAdmin: C of an admin (read-only GET /admin/stats).
	AuthCAdmin
	// AuthJWTOrAccountToken: a JWT or a wl_ (POST /auth/session).
	AuthJWTOrAccountToken
	// AuthJWTOrSession: a JWT or any wls_ (POST /auth/logout).
	AuthJWTOrSession
	// AuthRefresh: a JWT or a wls_ created_via password (POST
	// /auth/refresh); the same admission as AuthI.
	AuthRefresh
	// AuthD: a device token wld_ (the device endpoints of the OTA issue).
	AuthD
	// AuthMCP: an MCP token wlm_ (/mcp, the MCP issue).
	AuthMCP
)

// String returns the rule's name in openapi.yaml's vocabulary.
func (r AuthRule) String() string {
	switch r {
	case AuthC:
		return "C"
	case AuthI:
		return "I"
	case AuthA:
		return "A"
	case AuthCAdmin:
		return "C (admin)"
	case AuthJWTOrAccountToken:
		return "JWT or wl_"
	case AuthJWTOrSession:
		return "JWT or wls_"
	case AuthRefresh:
		return "JWT or wls_ (password)"
	case AuthD:
		return "D"
	case AuthMCP:
		return "MCP"
	}
	return "?"
}

// kinds returns the credential kinds r admits (the TOKEN_SCOPE_MISMATCH
// check without a lookup).
func (r AuthRule) kinds() auth.KindSet {
	switch r {
	case AuthC, AuthCAdmin:
		return auth.Kinds(auth.KindJWT, auth.KindAccount, auth.KindSession)
	case AuthI, AuthA, AuthRefresh, AuthJWTOrSession:
		return auth.Kinds(auth.KindJWT, auth.KindSession)
	case AuthJWTOrAccountToken:
		return auth.Kinds(auth.KindJWT, auth.KindAccount)
	case AuthD:
		return auth.Kinds(auth.KindDevice)
	case AuthMCP:
		return auth.Kinds(auth.KindMCP)
	}
	return 0
}

// Caller is an authenticated principal: who calls a use case. Every
// method taking a Caller re-checks its rule against it, so a Caller built
// by hand cannot do more than its credential allows.
type Caller struct {
	// Principal is what auth verified: user, role (current, from the
	// store), credential kind and id, expiry, session origin.
	auth.Principal
	// RemoteIP is the client's address (for audit rows and rate limits);
	// the zero Addr when unknown.
	RemoteIP netip.Addr
}

// IsAdmin reports whether the caller has the admin role.
func (c Caller) IsAdmin() bool { return c.Role == auth.RoleAdmin }

// actor returns the audit actor of c.
func (c Caller) actor() (ActorKind, string) {
	if c.Kind == auth.KindMCP {
		return ActorMCP, c.CredentialID
	}
	if c.UserID == "" {
		return ActorSystem, ""
	}
	return ActorUser, c.UserID
}

// requireRule checks that c satisfies r: the credential kind (else
// TOKEN_SCOPE_MISMATCH; AUTH_REQUIRED for the zero Caller), the "I" rule
// (a wls_ not created via password is TOKEN_SCOPE_MISMATCH), then the role
// (FORBIDDEN).
func requireRule(c Caller, r AuthRule) error {
	if c.UserID == "" || c.Kind == auth.KindNone {
		return fail(auth.ErrAuthRequired)
	}
	if !r.kinds().Has(c.Kind) {
		return fail(auth.ErrTokenScopeMismatch)
	}
	switch r {
	case AuthI, AuthA, AuthRefresh:
		if !c.Interactive() {
			return fail(auth.ErrTokenScopeMismatch)
		}
	}
	if (r == AuthA || r == AuthCAdmin) && !c.IsAdmin() {
		return fail(auth.ErrForbidden)
	}
	return nil
}

// AuthenticateBearer authenticates a console request (API.md §1.4): the
// Authorization header value as received ("Bearer <credential>"), the
// endpoint's rule and the client's address. It answers, in API.md's order:
// SETUP_REQUIRED (no user exists yet), AUTH_REQUIRED (no header, another
// scheme, nothing after Bearer), INVALID_TOKEN (malformed: another prefix,
// wrong length or case, not a JWT; unknown; bad signature, iss or aud),
// TOKEN_SCOPE_MISMATCH (a well-formed credential of a kind r does not
// admit, decided without a lookup; a wls_ not created via password where r
// is interactive), TOKEN_EXPIRED, ACCOUNT_DISABLED, TOKEN_REVOKED, then
// FORBIDDEN (role). Verified credentials are cached by auth (about a
// microsecond a hit).
//
// The name is not Authenticate because *Service is also the relay's
// Authenticator, whose Authenticate takes relay credentials.
func (s *Service) AuthenticateBearer(ctx context.Context, authorization string, r AuthRule, remoteIP netip.Addr) (Caller, error) {
	if err := s.CheckSetup(ctx); err != nil {
		return Caller{}, err
	}
	raw, ok := bearer(authorization)
	if !ok {
		return Caller{}, fail(auth.ErrAuthRequired)
	}
	tok, err := auth.ParseToken(raw)
	if err != nil {
		return Caller{}, err
	}
	p, err := s.auth.Authenticate(ctx, tok, r.kinds())
	if err != nil {
		return Caller{}, s.wrap("authenticating", err)
	}
	c := Caller{Principal: p, RemoteIP: remoteIP}
	if err := requireRule(c, r); err != nil {
		return Caller{}, err
	}
	return c, nil
}

// bearer extracts the credential of an Authorization header: the scheme is
// matched ignoring case (RFC 9110), surrounding blanks are dropped.
func bearer(h string) (string, bool) {
	h = strings.TrimSpace(h)
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	return rest, rest != ""
}

// AuthenticateTicket authenticates GET /events with a ticket query
// parameter (API.md §3.6): the wet_ is consumed (single use) and the
// Caller is its issuer's user, with Kind auth.KindEventTicket. Errors:
// SETUP_REQUIRED, AUTH_REQUIRED (empty), INVALID_TOKEN (malformed, unknown,
// used), TOKEN_SCOPE_MISMATCH (another credential kind), TOKEN_EXPIRED,
// ACCOUNT_DISABLED.
func (s *Service) AuthenticateTicket(ctx context.Context, ticket string, remoteIP netip.Addr) (Caller, error) {
	if err := s.CheckSetup(ctx); err != nil {
		return Caller{}, err
	}
	if ticket == "" {
		return Caller{}, fail(auth.ErrAuthRequired)
	}
	tok, err := auth.ParseToken(ticket)
	if err != nil {
		return Caller{}, err
	}
	p, err := s.auth.RedeemEventTicket(ctx, tok)
	if err != nil {
		return Caller{}, s.wrap("redeeming an event ticket", err)
	}
	return Caller{Principal: p, RemoteIP: remoteIP}, nil
}

// CheckSetup answers SETUP_REQUIRED while no user exists. The REST layer
// calls it first on every endpoint except GET /auth/config, POST
// /auth/setup, GET /system/health and GET /system/version, and never on
// the internal and dev layers (openapi.yaml, "Setup"); AuthenticateBearer
// and AuthenticateTicket call it themselves. Once a user exists the
// answer is cached (no user can be deleted while it is the last admin;
// the dev reset clears the cache).
func (s *Service) CheckSetup(ctx context.Context) error {
	if s.initialized.Load() {
		return nil
	}
	need, err := s.auth.SetupRequired(ctx)
	if err != nil {
		return s.wrap("checking setup", err)
	}
	if need {
		return fail(auth.ErrSetupRequired)
	}
	s.initialized.Store(true)
	return nil
}

// credentialKindName is GET /auth/me's auth.kind.
func credentialKindName(k auth.Kind) string {
	switch k {
	case auth.KindJWT:
		return "jwt"
	case auth.KindAccount:
		return "account_token"
	case auth.KindSession:
		return "session"
	}
	return k.String()
}

// timePtr returns nil for the zero time, else the time in UTC.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// strPtr returns nil for "", else &s.
func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
