package console

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Use cases of API.md §3.1 (auth).
//
// Password hashing: auth never hashes inside a transaction of its own, but
// setup, register, password change, admin user creation, admin password
// reset and TOTP disable run auth's method inside the console's
// transaction, so the change, its audit row and (admin creation) its
// idempotency record commit together; on SQLite that transaction holds the
// write lock for one argon2id computation. Login is the exception: auth
// records failed attempts through the store and commits its own change, so
// the console writes login audit rows in a transaction of their own right
// after (a failure there is logged and counted, the login stands).

// EWSPVersions are the EWSP versions this server's relay carries.
var ewspVersions = []string{"1.0", "2"}

// AuthConfig answers GET /auth/config (no auth, works before setup).
type AuthConfig struct {
	SetupRequired     bool         `json:"setup_required"`
	Registration      Registration `json:"registration"`
	PasswordMinLength int          `json:"password_min_length"`
	TOTP              bool         `json:"totp"`
	AccessTokenTTLS   int          `json:"access_token_ttl_s"`
	SessionTTLS       int          `json:"session_ttl_s"`
	APIURL            string       `json:"api_url"`
	RelayURL          string       `json:"relay_url"`
	EWSPVersions      []string     `json:"ewsp_versions"`
	Version           string       `json:"version"`
}

// GetAuthConfig is GET /auth/config.
func (s *Service) GetAuthConfig(ctx context.Context) (*AuthConfig, error) {
	need := false
	if err := s.CheckSetup(ctx); err != nil {
		if auth.CodeOf(err) != auth.CodeSetupRequired {
			return nil, err
		}
		need = true
	}
	set := s.Settings(ctx)
	return &AuthConfig{
		SetupRequired: need, Registration: set.Registration, PasswordMinLength: s.cfg.PasswordMinLength, TOTP: true,
		AccessTokenTTLS: int(s.cfg.AccessTTL / time.Second), SessionTTLS: set.Sessions.SessionTTLS,
		APIURL: s.apiURL(ctx), RelayURL: s.relayURL(ctx), EWSPVersions: append([]string(nil), ewspVersions...),
		Version: s.version.Version,
	}, nil
}

// SignupRequest is the body of POST /auth/setup and /auth/register.
type SignupRequest struct {
	Username string
	Password string
	Email    string // "" = none
	RemoteIP netip.Addr
}

// Setup is POST /auth/setup (no auth): the first user, an admin, logged in
// with a wl_ minted. ALREADY_INITIALIZED once a user exists (race-free),
// PASSWORD_TOO_WEAK, VALIDATION_FAILED, RATE_LIMITED. Audit user.created.
func (s *Service) Setup(ctx context.Context, req SignupRequest) (*LoginResult, error) {
	res, err := s.signup(ctx, req, true)
	if err == nil {
		s.initialized.Store(true)
	}
	return res, err
}

// Register is POST /auth/register (no auth): a user while the registration
// setting is open. REGISTRATION_DISABLED, SETUP_REQUIRED, USERNAME_TAKEN,
// PASSWORD_TOO_WEAK, VALIDATION_FAILED, RATE_LIMITED. Audit user.created.
func (s *Service) Register(ctx context.Context, req SignupRequest) (*LoginResult, error) {
	s.Settings(ctx) // refresh the registration setting auth checks
	return s.signup(ctx, req, false)
}

func (s *Service) signup(ctx context.Context, req SignupRequest, first bool) (*LoginResult, error) {
	a := auth.NewAccount{Username: req.Username, Password: req.Password, Email: req.Email, RemoteIP: req.RemoteIP}
	var res *auth.LoginResult
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if first {
			res, err = s.auth.Setup(ctx, a)
		} else {
			res, err = s.auth.Register(ctx, a)
		}
		if err != nil {
			return err
		}
		c := Caller{Principal: auth.Principal{UserID: res.User.ID, Role: res.User.Role}, RemoteIP: req.RemoteIP}
		return s.audit(ctx, c, AuditUserCreated, res.User.ID)
	})
	if err != nil {
		return nil, s.wrap("signing up", err)
	}
	return s.loginResult(res, 0), nil
}

func (s *Service) loginResult(res *auth.LoginResult, agents int) *LoginResult {
	u := s.userOf(res.User, agents)
	if res.APIToken != nil {
		u.APIToken = newSecret(res.APIToken.Token)
		u.APITokenHint = strPtr(res.APIToken.Hint)
	}
	return &LoginResult{
		AccessToken: newSecret(res.Access.Token), TokenType: "Bearer",
		ExpiresIn: secondsUntil(res.Access.ExpiresAt, s.clock.Now()), User: u,
	}
}

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Username     string
	Password     string
	TOTPCode     string // 6 digits, when 2FA is on
	RecoveryCode string // xxxx-xxxx, instead of TOTPCode
	RemoteIP     netip.Addr
}

// Login is POST /auth/login (no auth). INVALID_CREDENTIALS, TOTP_REQUIRED,
// TOTP_INVALID, ACCOUNT_LOCKED (detail.locked_until, Retry-After),
// ACCOUNT_DISABLED, RATE_LIMITED, SETUP_REQUIRED. Audit auth.login,
// auth.login_failed (result = the code) or auth.locked (the failure that
// locked the account), written after auth commits (see above).
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if err := s.CheckSetup(ctx); err != nil {
		return nil, err
	}
	// Who is trying, for the audit row (and whether a lockout is already
	// running, to tell auth.locked from another refused attempt).
	var who *UserRow
	if name := strings.ToLower(req.Username); len(name) >= auth.MinUsernameLen && len(name) <= auth.MaxUsernameLen {
		rows, _, err := s.store.ListUsers(ctx, UserQuery{Username: name, Limit: 1, SkipTotal: true})
		if err != nil {
			return nil, s.wrap("looking a user up", err)
		}
		if len(rows) == 1 {
			who = &rows[0]
		}
	}
	now := s.now()
	res, err := s.auth.Login(ctx, auth.LoginRequest{Username: req.Username, Password: req.Password,
		TOTPCode: req.TOTPCode, RecoveryCode: req.RecoveryCode, RemoteIP: req.RemoteIP})
	rec := AuditRecord{ActorKind: ActorUser, RemoteIP: ipString(req.RemoteIP)}
	if who != nil {
		rec.ActorID, rec.Target = who.ID, who.ID
	}
	if err != nil {
		switch code := auth.CodeOf(err); code {
		case auth.CodeInvalidCredentials, auth.CodeTOTPInvalid, auth.CodeAccountDisabled:
			rec.Action, rec.Result = AuditLoginFailed, string(code)
			s.auditOutside(ctx, rec)
		case auth.CodeAccountLocked:
			rec.Action, rec.Result = AuditLoginFailed, string(code)
			if who != nil && !now.Before(who.LockedUntil) {
				rec.Action = AuditLocked // this attempt locked the account
			}
			s.auditOutside(ctx, rec)
		}
		return nil, s.wrap("logging in", err)
	}
	rec.ActorID, rec.Target, rec.Action, rec.Result = res.User.ID, res.User.ID, AuditLogin, auditSuccess
	s.auditOutside(ctx, rec)
	n, err := s.auth.CountAgents(ctx, res.User.ID)
	if err != nil {
		return nil, s.wrap("counting agents", err)
	}
	return s.loginResult(res, n), nil
}

// CreateSessionRequest is the body of POST /auth/session.
type CreateSessionRequest struct {
	Label string // ≤ 64 printable characters
}

// CreateSession is POST /auth/session (Auth: JWT or wl_): a wls_ with the
// sessions.session_ttl_s setting. Sessions beyond sessions.max_per_user
// are revoked oldest first: their relay connections close 4001 and
// session.revoked is published for each.
func (s *Service) CreateSession(ctx context.Context, c Caller, req CreateSessionRequest) (*SessionToken, error) {
	if err := requireRule(c, AuthJWTOrAccountToken); err != nil {
		return nil, err
	}
	s.Settings(ctx)
	is, err := s.auth.CreateSession(ctx, c.Principal, auth.SessionRequest{Label: req.Label})
	if err != nil {
		return nil, s.wrap("creating a session", err)
	}
	var o outbox
	s.revokedSessions(&o, c.UserID, is.Evicted)
	s.send(ctx, &o)
	return &SessionToken{
		SessionToken: newSecret(is.Token), SessionID: is.Session.ID, ExpiresAt: is.Session.ExpiresAt.UTC(),
		ExpiresIn: secondsUntil(is.Session.ExpiresAt, s.clock.Now()),
	}, nil
}

// revokedSessions queues the kick (4001) of connections holding any of ids
// and a session.revoked event for each ses_ among them.
func (s *Service) revokedSessions(o *outbox, userID string, ids []string) {
	if len(ids) == 0 {
		return
	}
	o.kick(relay.Target{Account: userID, CredentialIDs: ids}, relay.CloseTokenRevoked, time.Time{})
	for _, id := range ids {
		if strings.HasPrefix(id, auth.PrefixSession) {
			o.event(selfEvent(EventSessionRevoked, userID), map[string]string{"session_id": id})
		}
	}
}

// ListSessionsRequest is GET /auth/sessions's query.
type ListSessionsRequest struct {
	Limit  int // 0: 50; 1-200
	Cursor string
}

// ListSessions is GET /auth/sessions (Auth C): the caller's live sessions
// (relay-minted ones included), oldest first; current marks the caller's.
func (s *Service) ListSessions(ctx context.Context, c Caller, req ListSessionsRequest) (*SessionPage, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	var v validator
	limit := pageLimit(&v, req.Limit)
	cur, err := decodeCursor(req.Cursor, cursorSessions, "", false)
	if err != nil {
		v.errs = append(v.errs, cursorFieldError)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	all, err := s.auth.ListSessions(ctx, c.UserID)
	if err != nil {
		return nil, s.wrap("listing sessions", err)
	}
	page := &SessionPage{Items: []Session{}, Total: len(all)}
	for _, cr := range all {
		if cur != nil && cr.ID <= cur.ID {
			continue
		}
		if len(page.Items) == limit {
			next := encodeCursor(cursor{List: cursorSessions, ID: page.Items[limit-1].SessionID})
			page.NextCursor = &next
			break
		}
		page.Items = append(page.Items, Session{
			SessionID: cr.ID, Label: strPtr(cr.Label), CreatedAt: cr.CreatedAt.UTC(), ExpiresAt: cr.ExpiresAt.UTC(),
			LastUsedAt: timePtr(cr.LastUsedAt), CreatedVia: cr.CreatedVia,
			Current: c.Kind == auth.KindSession && c.CredentialID == cr.ID,
		})
	}
	return page, nil
}

// DeleteSession is DELETE /auth/sessions/{id} (Auth C): SESSION_NOT_FOUND
// (also another account's); its relay connections close 4001.
func (s *Service) DeleteSession(ctx context.Context, c Caller, sessionID string) error {
	if err := requireRule(c, AuthC); err != nil {
		return err
	}
	ids, err := s.auth.DeleteSession(ctx, c.UserID, sessionID)
	if err != nil {
		return s.wrap("revoking a session", err)
	}
	var o outbox
	s.revokedSessions(&o, c.UserID, ids)
	s.send(ctx, &o)
	return nil
}

// loadUser reads a user and its agent count (with ctx: inside a
// transaction, its view).
func (s *Service) loadUser(ctx context.Context, id string) (User, error) {
	u, err := s.auth.User(ctx, id)
	if err != nil {
		return User{}, err
	}
	n, err := s.auth.CountAgents(ctx, id)
	if err != nil {
		return User{}, err
	}
	return s.userOf(u, n), nil
}

// RotateAPIToken is POST /auth/token/rotate (Auth I): a new wl_; the old
// one and every session minted from it are revoked (their relay
// connections close 4001). Audit auth.token_rotated; events
// session.revoked, account.updated.
func (s *Service) RotateAPIToken(ctx context.Context, c Caller) (*APITokenRotation, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	var (
		t *auth.IssuedAPIToken
		o outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		var err error
		if t, err = s.auth.RotateAPIToken(ctx, c.Principal); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditTokenRotated, t.ID); err != nil {
			return err
		}
		u, err := s.loadUser(ctx, c.UserID)
		if err != nil {
			return err
		}
		s.revokedSessions(&o, c.UserID, t.Revoked)
		o.event(selfEvent(EventAccountUpdated, c.UserID), u)
		return nil
	})
	if err != nil {
		return nil, s.wrap("rotating the account token", err)
	}
	s.send(ctx, &o)
	return &APITokenRotation{APIToken: newSecret(t.Token), APITokenHint: t.Hint, RotatedAt: t.RotatedAt.UTC()}, nil
}

// Refresh is POST /auth/refresh (Auth: JWT or wls_ created via password):
// a fresh JWT, never past the session's expiry. REAUTH_REQUIRED past
// auth_time + 24 h; TOKEN_SCOPE_MISMATCH for wl_ and other wls_.
func (s *Service) Refresh(ctx context.Context, c Caller) (*AccessToken, error) {
	if err := requireRule(c, AuthRefresh); err != nil {
		return nil, err
	}
	at, err := s.auth.Refresh(ctx, c.Principal)
	if err != nil {
		return nil, s.wrap("refreshing", err)
	}
	return &AccessToken{AccessToken: newSecret(at.Token), ExpiresIn: secondsUntil(at.ExpiresAt, s.clock.Now())}, nil
}

// Logout is POST /auth/logout (Auth: JWT or any wls_): the presented
// credential is revoked (a JWT's jti denylisted until its expiry); a
// session's relay connections close 4001.
func (s *Service) Logout(ctx context.Context, c Caller) error {
	if err := requireRule(c, AuthJWTOrSession); err != nil {
		return err
	}
	ids, err := s.auth.Logout(ctx, c.Principal)
	if err != nil {
		return s.wrap("logging out", err)
	}
	var o outbox
	s.revokedSessions(&o, c.UserID, ids)
	s.send(ctx, &o)
	return nil
}

// LogoutEverywhereRequest is the (optional) body of POST
// /auth/logout-everywhere.
type LogoutEverywhereRequest struct {
	RotateAPIToken bool
}

// LogoutEverywhere is POST /auth/logout-everywhere (Auth I): every JWT and
// wls_ of the user is revoked (generation bump), and with RotateAPIToken
// the wl_ too (the new one is answered once). All the user's client relay
// connections close 4001 (and a legacy device on the old wl_). Device and
// MCP tokens survive. Audit auth.token_rotated when rotated; events
// session.revoked {all}, account.updated when rotated.
func (s *Service) LogoutEverywhere(ctx context.Context, c Caller, req LogoutEverywhereRequest) (*LogoutEverywhereResult, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	var (
		res *auth.LogoutResult
		o   outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		var err error
		if res, err = s.auth.LogoutEverywhere(ctx, c.Principal, req.RotateAPIToken); err != nil {
			return err
		}
		o.kick(relay.Target{Account: c.UserID, Kind: relay.KindClient}, relay.CloseTokenRevoked, time.Time{})
		if res.APIToken != nil {
			if err := s.audit(ctx, c, AuditTokenRotated, res.APIToken.ID); err != nil {
				return err
			}
			if len(res.APIToken.Revoked) > 0 { // an empty list would select every connection
				o.kick(relay.Target{Account: c.UserID, CredentialIDs: res.APIToken.Revoked}, relay.CloseTokenRevoked, time.Time{})
			}
			u, err := s.loadUser(ctx, c.UserID)
			if err != nil {
				return err
			}
			o.event(selfEvent(EventAccountUpdated, c.UserID), u)
		}
		o.event(selfEvent(EventSessionRevoked, c.UserID), map[string]bool{"all": true})
		return nil
	})
	if err != nil {
		return nil, s.wrap("logging out everywhere", err)
	}
	s.send(ctx, &o)
	out := &LogoutEverywhereResult{RevokedSessions: len(res.RevokedSessions)}
	if res.APIToken != nil {
		out.APIToken = newSecret(res.APIToken.Token)
	}
	return out, nil
}

// Me is GET /auth/me (Auth C): the caller's user (no secrets) and the
// kind and expiry of the credential used.
func (s *Service) Me(ctx context.Context, c Caller) (*Me, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	u, err := s.loadUser(ctx, c.UserID)
	if err != nil {
		return nil, s.wrap("reading the user", err)
	}
	return &Me{User: u, Auth: MeAuth{Kind: credentialKindName(c.Kind), ExpiresAt: timePtr(c.ExpiresAt)}}, nil
}

// ChangePasswordRequest is the body of POST /auth/password.
type ChangePasswordRequest struct {
	CurrentPassword string
	NewPassword     string
	TOTPCode        string // required when 2FA is on
}

// ChangePassword is POST /auth/password (Auth I): logout-everywhere is
// applied (all JWTs and wls_ revoked, the wl_ replaced); the answer is a
// LoginResult with a fresh JWT and the new wl_. The user's client relay
// connections close 4001. INVALID_CREDENTIALS, TOTP_REQUIRED, TOTP_INVALID,
// PASSWORD_TOO_WEAK, PASSWORD_UNCHANGED. Audit auth.password_changed;
// events session.revoked {all}, account.updated.
func (s *Service) ChangePassword(ctx context.Context, c Caller, req ChangePasswordRequest) (*LoginResult, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	var (
		res *auth.LoginResult
		n   int
		o   outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		var err error
		res, err = s.auth.ChangePassword(ctx, c.Principal, auth.PasswordChange{
			Current: req.CurrentPassword, New: req.NewPassword, TOTPCode: req.TOTPCode})
		if err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditPasswordChanged, c.UserID); err != nil {
			return err
		}
		if n, err = s.auth.CountAgents(ctx, c.UserID); err != nil {
			return err
		}
		s.revokedAll(&o, c.UserID, res.Revoked)
		o.event(selfEvent(EventAccountUpdated, c.UserID), s.userOf(res.User, n))
		return nil
	})
	if err != nil {
		return nil, s.wrap("changing the password", err)
	}
	s.send(ctx, &o)
	return s.loginResult(res, n), nil
}

// revokedAll queues what a password change or reset notifies: every client
// connection of the user closes 4001, so do connections holding a revoked
// id (a legacy device on the old wl_), and session.revoked {all}.
func (s *Service) revokedAll(o *outbox, userID string, revoked []string) {
	o.kick(relay.Target{Account: userID, Kind: relay.KindClient}, relay.CloseTokenRevoked, time.Time{})
	if len(revoked) > 0 {
		o.kick(relay.Target{Account: userID, CredentialIDs: revoked}, relay.CloseTokenRevoked, time.Time{})
	}
	o.event(selfEvent(EventSessionRevoked, userID), map[string]bool{"all": true})
}

// EnrollTOTPRequest is the body of POST /auth/totp/enroll.
type EnrollTOTPRequest struct {
	Password string
}

// EnrollTOTP is POST /auth/totp/enroll (Auth I): a fresh secret, live 10
// minutes until ConfirmTOTP. INVALID_CREDENTIALS, TOTP_ALREADY_ENABLED.
func (s *Service) EnrollTOTP(ctx context.Context, c Caller, req EnrollTOTPRequest) (*TOTPEnrollment, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	en, err := s.auth.EnrollTOTP(ctx, c.Principal, req.Password)
	if err != nil {
		return nil, s.wrap("enrolling totp", err)
	}
	return &TOTPEnrollment{
		Secret: newSecret(en.Secret), OtpauthURL: newSecret(en.URL), Issuer: en.Issuer, Digits: en.Digits,
		Period: int(en.Period / time.Second), Algorithm: en.Algorithm, ExpiresAt: en.ExpiresAt.UTC(),
	}, nil
}

// ConfirmTOTPRequest is the body of POST /auth/totp/confirm.
type ConfirmTOTPRequest struct {
	Code string // 6 digits
}

// ConfirmTOTP is POST /auth/totp/confirm (Auth I): 2FA on, 10 recovery
// codes shown once. TOTP_NOT_ENROLLED, TOTP_INVALID. Audit
// auth.totp_enabled; event account.updated.
func (s *Service) ConfirmTOTP(ctx context.Context, c Caller, req ConfirmTOTPRequest) (*TOTPConfirmation, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	var (
		conf *auth.TOTPConfirmation
		o    outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		var err error
		if conf, err = s.auth.ConfirmTOTP(ctx, c.Principal, req.Code); err != nil {
			return err
		}
		return s.accountChanged(ctx, &o, c, AuditTOTPEnabled)
	})
	if err != nil {
		return nil, s.wrap("confirming totp", err)
	}
	s.send(ctx, &o)
	return &TOTPConfirmation{EnabledAt: conf.EnabledAt.UTC(), RecoveryCodes: secrets(conf.RecoveryCodes)}, nil
}

// accountChanged writes c's audit row for action and queues
// account.updated with the user as it now is.
func (s *Service) accountChanged(ctx context.Context, o *outbox, c Caller, action string) error {
	if err := s.audit(ctx, c, action, c.UserID); err != nil {
		return err
	}
	u, err := s.loadUser(ctx, c.UserID)
	if err != nil {
		return err
	}
	o.event(selfEvent(EventAccountUpdated, c.UserID), u)
	return nil
}

// TOTPCheckRequest is the body of POST /auth/totp/recovery-codes and
// /auth/totp/disable: the password and a TOTP code (disable: or a
// recovery code).
type TOTPCheckRequest struct {
	Password string
	Code     string
}

// RegenerateRecoveryCodes is POST /auth/totp/recovery-codes (Auth I): a new
// set of 10, the old set void. INVALID_CREDENTIALS, TOTP_INVALID,
// TOTP_NOT_ENABLED.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c Caller, req TOTPCheckRequest) (*RecoveryCodes, error) {
	if err := requireRule(c, AuthI); err != nil {
		return nil, err
	}
	codes, err := s.auth.RegenerateRecoveryCodes(ctx, c.Principal, req.Password, req.Code)
	if err != nil {
		return nil, s.wrap("regenerating recovery codes", err)
	}
	return &RecoveryCodes{RecoveryCodes: secrets(codes)}, nil
}

// DisableTOTP is POST /auth/totp/disable (Auth I), with the password and a
// TOTP or recovery code. INVALID_CREDENTIALS, TOTP_INVALID,
// TOTP_NOT_ENABLED. Audit auth.totp_disabled; event account.updated.
func (s *Service) DisableTOTP(ctx context.Context, c Caller, req TOTPCheckRequest) error {
	if err := requireRule(c, AuthI); err != nil {
		return err
	}
	var o outbox
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		if err := s.auth.DisableTOTP(ctx, c.Principal, req.Password, req.Code); err != nil {
			return err
		}
		return s.accountChanged(ctx, &o, c, AuditTOTPDisabled)
	})
	if err != nil {
		return s.wrap("disabling totp", err)
	}
	s.send(ctx, &o)
	return nil
}
