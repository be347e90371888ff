package console_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestSetupAndLogin(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		cfg := must(e.svc.GetAuthConfig(e.ctx)).of(t)
		if !cfg.SetupRequired || cfg.Registration != console.RegistrationClosed || cfg.RelayURL != "wss://wl.example.org/wss" ||
			cfg.APIURL != "https://wl.example.org" || cfg.AccessTokenTTLS != 900 || cfg.SessionTTLS != 86400 || cfg.Version != "1.2.3" {
			t.Fatalf("auth config before setup: %+v", cfg)
		}
		wantCode(t, "CheckSetup before setup", e.svc.CheckSetup(e.ctx), auth.CodeSetupRequired)
		_, err := e.svc.AuthenticateBearer(e.ctx, "Bearer x", console.AuthC, testIP)
		wantCode(t, "AuthenticateBearer before setup", err, auth.CodeSetupRequired)
		_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: "admin", Password: "x"})
		wantCode(t, "Login before setup", err, auth.CodeSetupRequired)

		admin := e.setup()
		if must(e.svc.GetAuthConfig(e.ctx)).of(t).SetupRequired {
			t.Fatal("setup_required after setup")
		}
		_, err = e.svc.Setup(e.ctx, console.SignupRequest{Username: "other", Password: adminPassword})
		wantCode(t, "second Setup", err, auth.CodeAlreadyInitialized)
		_, err = e.svc.Register(e.ctx, console.SignupRequest{Username: "other", Password: adminPassword})
		wantCode(t, "Register while closed", err, auth.CodeRegistrationDisabled)

		me := must(e.svc.Me(e.ctx, admin.caller)).of(t)
		if me.Role != auth.RoleAdmin || me.APIToken != nil || me.Auth.Kind != "jwt" || me.Auth.ExpiresAt == nil || me.AgentsLimit != 10 {
			t.Fatalf("Me: %+v", me)
		}
		wlMe := must(e.svc.Me(e.ctx, e.caller(admin.wl, console.AuthC))).of(t)
		if wlMe.Auth.Kind != "account_token" || wlMe.Auth.ExpiresAt != nil {
			t.Fatalf("Me with wl_: %+v", wlMe.Auth)
		}

		// Login: success, failures, lockout, all audited.
		res := must(e.svc.Login(e.ctx, console.LoginRequest{Username: "ADMIN", Password: adminPassword, RemoteIP: testIP})).of(t)
		if res.User.APIToken != nil || res.TokenType != "Bearer" || res.ExpiresIn != 900 || res.AccessToken == nil {
			t.Fatalf("second login: %+v", res)
		}
		for range 4 {
			_, err := e.svc.Login(e.ctx, console.LoginRequest{Username: "admin", Password: "wrong password!"})
			wantCode(t, "wrong password", err, auth.CodeInvalidCredentials)
		}
		_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: "admin", Password: "wrong password!"})
		wantCode(t, "fifth failure", err, auth.CodeAccountLocked)
		_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: "admin", Password: adminPassword})
		wantCode(t, "while locked", err, auth.CodeAccountLocked)
		_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: "nobody", Password: "whatever pw"})
		wantCode(t, "unknown user", err, auth.CodeInvalidCredentials)
		e.clk.Advance(16 * time.Minute)
		must(e.svc.Login(e.ctx, console.LoginRequest{Username: "admin", Password: adminPassword})).of(t)

		got := e.auditActions(admin)
		want := []string{"user.created", "auth.login", "auth.login_failed", "auth.login_failed", "auth.login_failed",
			"auth.login_failed", "auth.locked", "auth.login_failed", "auth.login_failed", "auth.login"}
		if !slices.Equal(got, want) {
			t.Fatalf("audit actions:\n got  %v\n want %v", got, want)
		}
		page := must(e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{Action: "auth.locked"})).of(t)
		if page.Total != 1 || page.Items[0].Result != "ACCOUNT_LOCKED" || *page.Items[0].ActorID != admin.id ||
			page.Items[0].ActorKind != console.ActorUser {
			t.Fatalf("auth.locked row: %+v", page.Items)
		}
		page = must(e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{Action: "auth.login_failed", Limit: 1})).of(t)
		if page.Items[0].ActorID != nil || page.Items[0].Result != "INVALID_CREDENTIALS" {
			t.Fatalf("newest login_failed (unknown user): %+v", page.Items[0])
		}
	})
}

func TestAuthenticateBearerRules(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	user := e.user(admin, "alice")
	pwSession, _ := e.session(user)
	wlSession := must(e.svc.CreateSession(e.ctx, e.caller(user.wl, console.AuthC), console.CreateSessionRequest{})).of(t).SessionToken.Reveal()
	agent := must(e.svc.CreateAgent(e.ctx, user.caller, console.CreateAgentRequest{Name: "Pi"})).of(t)
	device := agent.DeviceToken.Reveal()

	for _, tc := range []struct {
		name   string
		header string
		rule   console.AuthRule
		want   console.Code // "" = allowed
	}{
		{"no header", "", console.AuthC, auth.CodeAuthRequired},
		{"other scheme", "Basic " + user.jwt, console.AuthC, auth.CodeAuthRequired},
		{"bearer without token", "Bearer ", console.AuthC, auth.CodeAuthRequired},
		{"malformed", "Bearer wl_123", console.AuthC, auth.CodeInvalidToken},
		{"upper-case hex", "Bearer wl_" + upper(user.wl[3:]), console.AuthC, auth.CodeInvalidToken},
		{"unknown wl_", "Bearer wl_" + zeros(64), console.AuthC, auth.CodeInvalidToken},
		{"bad JWT signature", "Bearer " + user.jwt[:len(user.jwt)-2] + "xx", console.AuthC, auth.CodeInvalidToken},
		{"scheme case-insensitive", "bearer " + user.jwt, console.AuthC, ""},
		{"jwt on C", "Bearer " + user.jwt, console.AuthC, ""},
		{"wl on C", "Bearer " + user.wl, console.AuthC, ""},
		{"wls on C", "Bearer " + wlSession, console.AuthC, ""},
		{"wld on C", "Bearer " + device, console.AuthC, auth.CodeTokenScopeMismatch},
		{"wlm on C", "Bearer wlm_" + zeros(64), console.AuthC, auth.CodeTokenScopeMismatch},
		{"wdt as Bearer", "Bearer wdt_" + zeros(64), console.AuthC, auth.CodeTokenScopeMismatch},
		{"wl on I", "Bearer " + user.wl, console.AuthI, auth.CodeTokenScopeMismatch},
		{"wls(api_token) on I", "Bearer " + wlSession, console.AuthI, auth.CodeTokenScopeMismatch},
		{"wls(password) on I", "Bearer " + pwSession, console.AuthI, ""},
		{"user on A", "Bearer " + user.jwt, console.AuthA, auth.CodeForbidden},
		{"admin jwt on A", "Bearer " + admin.jwt, console.AuthA, ""},
		{"admin wl on A", "Bearer " + admin.wl, console.AuthA, auth.CodeTokenScopeMismatch},
		{"admin wl on C admin", "Bearer " + admin.wl, console.AuthCAdmin, ""},
		{"user wl on C admin", "Bearer " + user.wl, console.AuthCAdmin, auth.CodeForbidden},
		{"wl on session", "Bearer " + user.wl, console.AuthJWTOrAccountToken, ""},
		{"wls on session", "Bearer " + pwSession, console.AuthJWTOrAccountToken, auth.CodeTokenScopeMismatch},
		{"wl on logout", "Bearer " + user.wl, console.AuthJWTOrSession, auth.CodeTokenScopeMismatch},
		{"wls(api) on logout", "Bearer " + wlSession, console.AuthJWTOrSession, ""},
		{"wls(api) on refresh", "Bearer " + wlSession, console.AuthRefresh, auth.CodeTokenScopeMismatch},
		{"wld on D", "Bearer " + device, console.AuthD, ""},
		{"jwt on D", "Bearer " + user.jwt, console.AuthD, auth.CodeTokenScopeMismatch},
	} {
		_, err := e.svc.AuthenticateBearer(e.ctx, tc.header, tc.rule, testIP)
		wantCode(t, tc.name, err, tc.want)
	}

	// Expired, revoked, disabled.
	e.clk.Advance(16 * time.Minute)
	_, err := e.svc.AuthenticateBearer(e.ctx, "Bearer "+user.jwt, console.AuthC, testIP)
	wantCode(t, "expired JWT", err, auth.CodeTokenExpired)
	c := e.caller(pwSession, console.AuthC)
	ok(t, e.svc.Logout(e.ctx, c))
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+pwSession, console.AuthC, testIP)
	wantCode(t, "revoked session", err, auth.CodeTokenRevoked)
	dis := true
	adminC := e.caller(admin.wl, console.AuthCAdmin) // not enough for A
	_, err = e.svc.UpdateUser(e.ctx, adminC, user.id, console.UpdateUserRequest{Disabled: &dis})
	wantCode(t, "UpdateUser with an admin wl_", err, auth.CodeTokenScopeMismatch)
	_, err = e.svc.UpdateUser(e.ctx, e.adminJWT(admin), user.id, console.UpdateUserRequest{Disabled: &dis})
	ok(t, err)
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+user.wl, console.AuthC, testIP)
	wantCode(t, "disabled owner", err, auth.CodeAccountDisabled) // wins over the revocation disabling implies
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+device, console.AuthD, testIP)
	wantCode(t, "device of a disabled owner", err, auth.CodeAccountDisabled)

	// A Caller built by hand cannot exceed its credential.
	_, err = e.svc.GetSettings(e.ctx, console.Caller{Principal: auth.Principal{UserID: admin.id, Role: auth.RoleAdmin, Kind: auth.KindAccount}})
	wantCode(t, "GetSettings with a wl_ principal", err, auth.CodeTokenScopeMismatch)
	_, err = e.svc.GetSettings(e.ctx, console.Caller{})
	wantCode(t, "GetSettings without a caller", err, auth.CodeAuthRequired)
}

// adminJWT logs the admin in again (the clock may have passed the first
// JWT's expiry) and returns an interactive caller.
func (e *env) adminJWT(admin *account) console.Caller {
	e.t.Helper()
	res := must(e.svc.Login(e.ctx, console.LoginRequest{Username: admin.username, Password: admin.password})).of(e.t)
	admin.jwt = res.AccessToken.Reveal()
	admin.caller = e.caller(admin.jwt, console.AuthA)
	return admin.caller
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestSessionsAndTokens(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	var ids []string
	for range 5 {
		_, id := e.session(u)
		ids = append(ids, id)
	}
	tok, cur := e.session(u)
	ids = append(ids, cur)
	c := e.caller(tok, console.AuthC)
	var got []string
	req := console.ListSessionsRequest{Limit: 4}
	for {
		page := must(e.svc.ListSessions(e.ctx, c, req)).of(t)
		if page.Total != 6 {
			t.Fatalf("total %d, want 6", page.Total)
		}
		for _, s := range page.Items {
			got = append(got, s.SessionID)
			if s.Current != (s.SessionID == cur) || s.CreatedVia != auth.ViaPassword || *s.Label != "test" {
				t.Fatalf("session %+v", s)
			}
		}
		if page.NextCursor == nil {
			break
		}
		req.Cursor = *page.NextCursor
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("sessions %v, want %v", got, ids)
	}
	_, err := e.svc.ListSessions(e.ctx, c, console.ListSessionsRequest{Cursor: "not a cursor"})
	wantCode(t, "bad cursor", err, auth.CodeValidationFailed)
	_, err = e.svc.ListSessions(e.ctx, c, console.ListSessionsRequest{Limit: 201})
	wantCode(t, "limit 201", err, auth.CodeValidationFailed)

	// Refresh and rotation.
	at := must(e.svc.Refresh(e.ctx, e.caller(tok, console.AuthRefresh))).of(t)
	if at.AccessToken == nil || at.ExpiresIn != 900 {
		t.Fatalf("Refresh: %+v", at)
	}
	rot := must(e.svc.RotateAPIToken(e.ctx, u.caller)).of(t)
	if rot.APIToken == nil || rot.APIToken.Reveal() == u.wl || rot.APITokenHint != rot.APIToken.Reveal()[:7]+"…" {
		t.Fatalf("RotateAPIToken: %+v", rot)
	}
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+u.wl, console.AuthC, testIP)
	wantCode(t, "old wl_", err, auth.CodeTokenRevoked)
	// The events: account.updated for the new hint.
	evs := e.events.take()
	if last := evs[len(evs)-1]; last.Type != console.EventAccountUpdated || last.User != u.id || last.Account != u.id {
		t.Fatalf("last event %+v", last)
	}

	// TOTP: enroll, confirm (audit, event), disable.
	en := must(e.svc.EnrollTOTP(e.ctx, u.caller, console.EnrollTOTPRequest{Password: u.password})).of(t)
	if en.Secret == nil || en.Digits != 6 || en.Period != 30 || en.Algorithm != "SHA1" {
		t.Fatalf("EnrollTOTP: %+v", en)
	}
	_, err = e.svc.ConfirmTOTP(e.ctx, u.caller, console.ConfirmTOTPRequest{Code: "000000"})
	wantCode(t, "ConfirmTOTP with a wrong code", err, auth.CodeTOTPInvalid)
	_, err = e.svc.EnrollTOTP(e.ctx, e.caller(u.wl2(e), console.AuthC), console.EnrollTOTPRequest{Password: u.password})
	wantCode(t, "EnrollTOTP with a wl_", err, auth.CodeTokenScopeMismatch)
	code, err := totp.GenerateCode(en.Secret.Reveal(), e.clock.Now())
	ok(t, err)
	e.events.take()
	conf := must(e.svc.ConfirmTOTP(e.ctx, u.caller, console.ConfirmTOTPRequest{Code: code})).of(t)
	if len(conf.RecoveryCodes) != 10 {
		t.Fatalf("ConfirmTOTP: %+v", conf)
	}
	if evs := e.events.take(); len(evs) != 1 || evs[0].Type != console.EventAccountUpdated || !strings.Contains(string(evs[0].Data), `"totp_enabled":true`) {
		t.Fatalf("events after ConfirmTOTP: %+v", evs)
	}
	_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: u.username, Password: u.password})
	wantCode(t, "login without the second factor", err, auth.CodeTOTPRequired)
	e.clk.Advance(30 * time.Second)
	code, err = totp.GenerateCode(en.Secret.Reveal(), e.clock.Now())
	ok(t, err)
	rc := must(e.svc.RegenerateRecoveryCodes(e.ctx, u.caller, console.TOTPCheckRequest{Password: u.password, Code: code})).of(t)
	// The regeneration used that TOTP step: it does not work twice.
	err = e.svc.DisableTOTP(e.ctx, u.caller, console.TOTPCheckRequest{Password: u.password, Code: code})
	wantCode(t, "a reused TOTP step", err, auth.CodeTOTPInvalid)
	ok(t, e.svc.DisableTOTP(e.ctx, u.caller, console.TOTPCheckRequest{Password: u.password, Code: rc.RecoveryCodes[0].Reveal()}))
	if a := e.auditActions(admin); !slices.Contains(a, "auth.totp_enabled") || a[len(a)-1] != "auth.totp_disabled" {
		t.Fatalf("audit: %v", a)
	}
}

// wl2 is the account's current wl_ after rotations: a fresh rotation.
func (a *account) wl2(e *env) string {
	rot := must(e.svc.RotateAPIToken(e.ctx, a.caller)).of(e.t)
	a.wl = rot.APIToken.Reveal()
	return a.wl
}

// TestRevocationKicks checks that each revocation of API.md §1.4's table
// kicks the relay with the right target and close code, after commit.
func TestRevocationKicks(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	e.relay.take()

	expect := func(what string, want ...kick) {
		t.Helper()
		got := e.relay.take()
		for i := range got {
			if !got[i].At.IsZero() {
				got[i].At = got[i].At.Truncate(time.Hour) // compared separately
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: kicks %+v, want %+v", what, got, want)
		}
		for i := range want {
			if !kickEqual(got[i], want[i]) {
				t.Fatalf("%s: kick %d = %+v, want %+v", what, i, got[i], want[i])
			}
		}
	}
	tgt := func(account string, f func(*relay.Target)) relay.Target {
		t := relay.Target{Account: account}
		if f != nil {
			f(&t)
		}
		return t
	}

	// POST /auth/logout with a wls_.
	tok, sid := e.session(u)
	ok(t, e.svc.Logout(e.ctx, e.caller(tok, console.AuthJWTOrSession)))
	expect("logout", kick{tgt(u.id, func(x *relay.Target) { x.CredentialIDs = []string{sid} }), 4001, time.Time{}})
	// Logout with a JWT: nothing holds a relay connection.
	ok(t, e.svc.Logout(e.ctx, e.caller(e.user(admin, "jwtonly").jwt, console.AuthJWTOrSession)))
	expect("logout with a JWT")

	// DELETE /auth/sessions/{id}.
	_, sid = e.session(u)
	ok(t, e.svc.DeleteSession(e.ctx, u.caller, sid))
	expect("delete session", kick{tgt(u.id, func(x *relay.Target) { x.CredentialIDs = []string{sid} }), 4001, time.Time{}})

	// POST /auth/token/rotate: the old wl_ and the sessions minted from it.
	wlCaller := e.caller(u.wl, console.AuthC)
	wlSess := must(e.svc.CreateSession(e.ctx, wlCaller, console.CreateSessionRequest{})).of(t)
	rot := must(e.svc.RotateAPIToken(e.ctx, u.caller)).of(t)
	ids := []string{wlCaller.CredentialID, wlSess.SessionID}
	slices.Sort(ids)
	expect("token rotate", kick{tgt(u.id, func(x *relay.Target) { x.CredentialIDs = ids }), 4001, time.Time{}})
	u.wl = rot.APIToken.Reveal()

	// POST /auth/logout-everywhere.
	must(e.svc.LogoutEverywhere(e.ctx, u.caller, console.LogoutEverywhereRequest{})).of(t)
	expect("logout-everywhere", kick{tgt(u.id, func(x *relay.Target) { x.Kind = relay.KindClient }), 4001, time.Time{}})
	u.caller = e.caller(must(e.svc.Login(e.ctx, console.LoginRequest{Username: u.username, Password: u.password})).of(t).AccessToken.Reveal(), console.AuthC)

	// POST /auth/password: all client connections (and the old wl_).
	wlID := e.caller(u.wl, console.AuthC).CredentialID
	res := must(e.svc.ChangePassword(e.ctx, u.caller, console.ChangePasswordRequest{CurrentPassword: u.password, NewPassword: "yet another long password"})).of(t)
	u.password, u.wl = "yet another long password", res.User.APIToken.Reveal()
	u.caller = e.caller(res.AccessToken.Reveal(), console.AuthC)
	expect("password change",
		kick{tgt(u.id, func(x *relay.Target) { x.Kind = relay.KindClient }), 4001, time.Time{}},
		kick{tgt(u.id, func(x *relay.Target) { x.CredentialIDs = []string{wlID} }), 4001, time.Time{}})

	// Admin reset-password.
	wlID = e.caller(u.wl, console.AuthC).CredentialID
	must(e.svc.ResetUserPassword(e.ctx, admin.caller, u.id, console.ResetPasswordRequest{NewPassword: "reset by the admin pw"})).of(t)
	expect("admin reset-password",
		kick{tgt(u.id, func(x *relay.Target) { x.Kind = relay.KindClient }), 4001, time.Time{}},
		kick{tgt(u.id, func(x *relay.Target) { x.CredentialIDs = []string{wlID} }), 4001, time.Time{}})
	res2 := must(e.svc.Login(e.ctx, console.LoginRequest{Username: u.username, Password: "reset by the admin pw"})).of(t)
	u.caller = e.caller(res2.AccessToken.Reveal(), console.AuthC)

	// Agent rotate-token, with and without grace.
	ag := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
	oldID := e.caller(ag.DeviceToken.Reveal(), console.AuthD).CredentialID
	r0 := must(e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{})).of(t)
	expect("rotate-token", kick{tgt(u.id, func(x *relay.Target) { x.AgentID, x.CredentialIDs = "pi", []string{oldID} }), 4001, time.Time{}})
	oldID = e.caller(r0.DeviceToken.Reveal(), console.AuthD).CredentialID
	before := time.Now()
	must(e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{GraceS: 120})).of(t)
	got := e.relay.take()
	if len(got) != 1 || got[0].Code != 4001 || got[0].Target.AgentID != "pi" || !slices.Equal(got[0].Target.CredentialIDs, []string{oldID}) ||
		got[0].At.Before(before.Add(119*time.Second)) || got[0].At.After(time.Now().Add(121*time.Second)) {
		t.Fatalf("rotate-token with grace: %+v", got)
	}

	// Bind re-mint of an existing agent.
	cur := e.caller(must(e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{})).of(t).DeviceToken.Reveal(), console.AuthD).CredentialID
	e.relay.take()
	cl := must(e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{AgentID: "pi"})).of(t)
	must(e.svc.Bind(e.ctx, console.BindRequest{Code: cl.Code.Reveal(), InstallID: "install-0123456789", Platform: "linux-arm64"})).of(t)
	expect("bind re-mint", kick{tgt(u.id, func(x *relay.Target) { x.AgentID, x.CredentialIDs = "pi", []string{cur} }), 4001, time.Time{}})

	// DELETE /agents/{id}.
	ok(t, e.svc.DeleteAgent(e.ctx, u.caller, "pi"))
	expect("delete agent", kick{tgt(u.id, func(x *relay.Target) { x.AgentID = "pi" }), 4004, time.Time{}})

	// Admin disables, then deletes, a user.
	dis := true
	must(e.svc.UpdateUser(e.ctx, admin.caller, u.id, console.UpdateUserRequest{Disabled: &dis})).of(t)
	expect("disable user", kick{tgt(u.id, nil), 4005, time.Time{}})
	ok(t, e.svc.DeleteUser(e.ctx, admin.caller, u.id))
	expect("delete user", kick{tgt(u.id, nil), 4005, time.Time{}})
}

func kickEqual(a, b kick) bool {
	return a.Code == b.Code && a.At.Equal(b.At) && a.Target.Account == b.Target.Account && a.Target.AgentID == b.Target.AgentID &&
		a.Target.Kind == b.Target.Kind && a.Target.All == b.Target.All && slices.Equal(a.Target.CredentialIDs, b.Target.CredentialIDs)
}
