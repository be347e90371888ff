package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
)

// TestDefaults checks that the zero Config works and hashes with at least
// 19 MiB / t=2 / p=1.
func TestDefaults(t *testing.T) {
	st := authtest.NewMemStore()
	svc, err := auth.New(st, auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Setup(context.Background(), auth.NewAccount{Username: "admin", Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	if h := string(res.User.PasswordHash); !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash parameters: %.40s…", h)
	}
	set := svc.Settings()
	if set.RegistrationOpen || set.AgentsPerAccount != 10 || set.SessionTTL != 24*time.Hour || set.MaxSessionsPerUser != 50 || set.MaxRelaySessionsPerUser != 20 {
		t.Fatalf("default settings: %+v", set)
	}
	if time.Until(res.Access.ExpiresAt) > 15*time.Minute+time.Second {
		t.Fatalf("default access TTL longer than 15 min: %v", res.Access.ExpiresAt)
	}
}

func TestConfigValidation(t *testing.T) {
	st := authtest.NewMemStore()
	bad := map[string]auth.Config{
		"JWTKey":            {JWTKey: []byte("short")},
		"Password":          {Password: auth.PasswordParams{Memory: 1, Time: 1, Threads: 1}},
		"PasswordMinLength": {PasswordMinLength: 4},
		"AccessTTL":         {AccessTTL: -time.Second},
		"LockoutThreshold":  {LockoutThreshold: -1},
		"HashConcurrency":   {HashConcurrency: -1},
		"Settings":          {Settings: &auth.Settings{SessionTTL: time.Minute}},
	}
	for field, cfg := range bad {
		if _, err := auth.New(st, cfg); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New with a bad %s: got %v, want an error naming it", field, err)
		}
	}
	if _, err := auth.New(nil, auth.Config{}); err == nil {
		t.Error("New(nil store) succeeded")
	}
}

func TestSetupAndLogin(t *testing.T) {
	f := newFixture(t)
	need, err := f.svc.SetupRequired(f.ctx)
	if err != nil || !need {
		t.Fatalf("SetupRequired before setup: %v %v", need, err)
	}
	res := f.setup()
	if res.User.Role != auth.RoleAdmin || res.User.Username != "admin" || res.APIToken == nil || res.Access.Token.Kind() != auth.KindJWT {
		t.Fatalf("setup result: %+v", res)
	}
	if res.User.APITokenHint != res.APIToken.Hint || !strings.HasPrefix(res.APIToken.Hint, "wl_") {
		t.Fatalf("api token hint %q / %q", res.User.APITokenHint, res.APIToken.Hint)
	}
	if need, _ := f.svc.SetupRequired(f.ctx); need {
		t.Fatal("SetupRequired after setup")
	}
	_, err = f.svc.Setup(f.ctx, auth.NewAccount{Username: "other", Password: adminPassword})
	wantCode(t, "second setup", err, auth.CodeAlreadyInitialized)

	p := f.mustAuth(res.Access.Token)
	if p.UserID != res.User.ID || p.Role != auth.RoleAdmin || !p.Interactive() || p.CredentialIDs() != nil {
		t.Fatalf("JWT principal: %+v", p)
	}
	p = f.mustAuth(res.APIToken.Token)
	if p.Kind != auth.KindAccount || p.CredentialID != res.APIToken.ID || p.Interactive() {
		t.Fatalf("wl_ principal: %+v", p)
	}

	// Case-insensitive username; the account has a wl_ already.
	in, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "ADMIN", Password: adminPassword})
	wantCode(t, "login", err, "")
	if in.APIToken != nil {
		t.Fatal("login minted a wl_ although the account has one")
	}
	if in.User.LastLoginAt.IsZero() {
		t.Fatal("last_login_at not set")
	}
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: "wrong password"})
	wantCode(t, "wrong password", err, auth.CodeInvalidCredentials)
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "nobody", Password: adminPassword})
	wantCode(t, "unknown user", err, auth.CodeInvalidCredentials)
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "bad name!", Password: adminPassword})
	wantCode(t, "malformed username", err, auth.CodeInvalidCredentials)
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: strings.Repeat("x", 10_000)})
	wantCode(t, "huge password", err, auth.CodeInvalidCredentials)
}

func TestSetupValidation(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		a    auth.NewAccount
		code auth.Code
	}{
		{auth.NewAccount{Username: "a", Password: adminPassword}, auth.CodeValidationFailed},
		{auth.NewAccount{Username: "admin", Password: adminPassword, Email: "not an email"}, auth.CodeValidationFailed},
		{auth.NewAccount{Username: "admin", Password: adminPassword, Email: "Admin <a@example.org>"}, auth.CodeValidationFailed},
		{auth.NewAccount{Username: "admin", Password: "short"}, auth.CodePasswordTooWeak},
		{auth.NewAccount{Username: "admin", Password: "PASSWORD123"}, auth.CodePasswordTooWeak},
		{auth.NewAccount{Username: "admin", Password: "my admin password"}, auth.CodePasswordTooWeak},
	} {
		_, err := f.svc.Setup(f.ctx, tt.a)
		wantCode(t, "Setup("+tt.a.Username+", "+tt.a.Email+")", err, tt.code)
	}
	_, err := f.svc.Setup(f.ctx, auth.NewAccount{Username: "Admin", Password: "pass", Email: "x"})
	var e *auth.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != "email" {
		t.Fatalf("field errors: %v", err)
	}
	_, err = f.svc.Setup(f.ctx, auth.NewAccount{Username: "alice", Password: "Alice"})
	if !errors.As(err, &e) || strings.Join(e.Reasons, ",") != "too_short,contains_username" {
		t.Fatalf("reasons: %v", err)
	}
	if strings.Contains(err.Error(), "Alice") {
		t.Fatalf("the error text contains the password: %v", err)
	}
}

func TestConcurrentSetup(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Setup(f.ctx, auth.NewAccount{Username: "admin" + string(rune('a'+i)), Password: adminPassword})
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, auth.ErrAlreadyInitialized) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d setups won, want 1", won)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t)
	f.setup()
	fail := func() error {
		_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: "wrong password"})
		return err
	}
	for round, want := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour} {
		for i := range 4 {
			wantCode(t, "failure", fail(), auth.CodeInvalidCredentials)
			_ = i
		}
		err := fail()
		var e *auth.Error
		if !errors.As(err, &e) || e.Code != auth.CodeAccountLocked || !e.LockedUntil.Equal(f.clock.Now().Add(want)) || e.RetryAfter != want {
			t.Fatalf("round %d: 5th failure: %+v, want ACCOUNT_LOCKED for %v", round, err, want)
		}
		// While locked even the right password is refused, unchecked.
		_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword})
		wantCode(t, "locked, right password", err, auth.CodeAccountLocked)
		f.clock.Advance(want)
	}
	// A success resets the doubling.
	_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword})
	wantCode(t, "after the lock", err, "")
	for range 4 {
		fail()
	}
	var e *auth.Error
	if err := fail(); !errors.As(err, &e) || e.RetryAfter != 15*time.Minute {
		t.Fatalf("after a success the lockout starts at 15 min again: %v", err)
	}
	// Admin unlock.
	u, err := f.svc.Unlock(f.ctx, mustUser(t, f, "admin").ID)
	if err != nil || !u.LockedUntil.IsZero() || u.FailedLogins != 0 {
		t.Fatalf("Unlock: %+v %v", u, err)
	}
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword})
	wantCode(t, "after unlock", err, "")
}

func TestLockoutCap(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.LockoutThreshold = 1 })
	f.setup()
	var last time.Duration
	for range 12 {
		_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: "wrong password"})
		var e *auth.Error
		if !errors.As(err, &e) || e.Code != auth.CodeAccountLocked {
			t.Fatalf("got %v", err)
		}
		last = e.RetryAfter
		f.clock.Advance(last)
	}
	if last != 24*time.Hour {
		t.Fatalf("lockout after 12 repeats: %v, want the 24 h cap", last)
	}
}

func mustUser(t *testing.T, f *fixture, name string) auth.User {
	t.Helper()
	u, err := f.store.UserByUsername(f.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTOTPMissingCodeIsNotAFailure(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.LockoutThreshold = 2 })
	res := f.setup()
	enr, err := f.svc.EnrollTOTP(f.ctx, f.mustAuth(res.Access.Token), adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, f.mustAuth(res.Access.Token), totpCode(t, enr.Secret.Reveal(), f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword})
		wantCode(t, "no code", err, auth.CodeTOTPRequired)
	}
	if u := mustUser(t, f, "admin"); u.FailedLogins != 0 {
		t.Fatalf("missing codes counted as failures: %d", u.FailedLogins)
	}
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword, TOTPCode: "000000"})
	wantCode(t, "wrong code", err, auth.CodeTOTPInvalid)
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword, TOTPCode: "000001"})
	wantCode(t, "second wrong code locks", err, auth.CodeAccountLocked)
}

func TestLoginRateLimitPerIP(t *testing.T) {
	f := newFixture(t)
	f.setup()
	try := func(addr string) error {
		_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "nobody", Password: "x", RemoteIP: ip(addr)})
		return err
	}
	for range 10 {
		wantCode(t, "within the burst", try("192.0.2.1"), auth.CodeInvalidCredentials)
	}
	err := try("192.0.2.1")
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeRateLimited || e.Scope != "login" || e.RetryAfter < time.Second || e.Limit != 10 {
		t.Fatalf("11th attempt: %+v", err)
	}
	wantCode(t, "another IP", try("192.0.2.2"), auth.CodeInvalidCredentials)
	wantCode(t, "same /64", try("2001:db8::1"), auth.CodeInvalidCredentials)
	for range 9 {
		try("2001:db8::2")
	}
	wantCode(t, "same /64 exhausted", try("2001:db8::3"), auth.CodeRateLimited)
	f.clock.Advance(6 * time.Second)
	wantCode(t, "after the refill", try("192.0.2.1"), auth.CodeInvalidCredentials)
	// Setup and register count against the same bucket.
	_, err = f.svc.Register(f.ctx, auth.NewAccount{Username: "x", RemoteIP: ip("192.0.2.1")})
	wantCode(t, "register from a limited IP", err, auth.CodeRateLimited)
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	acct := auth.NewAccount{Username: "Alice", Password: "a long password for her"}
	_, err := f.svc.Register(f.ctx, acct)
	wantCode(t, "registration closed", err, auth.CodeRegistrationDisabled)
	set := f.svc.Settings()
	set.RegistrationOpen = true
	if err := f.svc.SetSettings(set); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Register(f.ctx, acct)
	wantCode(t, "before setup", err, auth.CodeSetupRequired)
	f.setup()
	res, err := f.svc.Register(f.ctx, acct)
	wantCode(t, "register", err, "")
	if res.User.Username != "alice" || res.User.Role != auth.RoleUser || res.APIToken == nil {
		t.Fatalf("registered: %+v", res.User)
	}
	_, err = f.svc.Register(f.ctx, auth.NewAccount{Username: "ALICE", Password: "another long password"})
	wantCode(t, "taken ignoring case", err, auth.CodeUsernameTaken)
	wantCode(t, "bad settings", f.svc.SetSettings(auth.Settings{SessionTTL: time.Minute}), auth.CodeValidationFailed)
}

// TestUnknownUserCostsTheSame: a login for an unknown (or malformed, or
// over-long) username runs exactly one argon2id verification, like a wrong
// password for a known one, so timing does not reveal which names exist.
func TestUnknownUserCostsTheSame(t *testing.T) {
	f := newFixture(t)
	f.setup()
	for _, req := range []auth.LoginRequest{
		{Username: "admin", Password: "wrong password"},
		{Username: "nobody", Password: "wrong password"},
		{Username: "no such name!", Password: "wrong password"},
		{Username: "admin", Password: strings.Repeat("x", 4096)},
		{Username: "admin", Password: adminPassword},
	} {
		f.svc.Login(f.ctx, req) // the first unknown user also makes the dummy hash
		before := auth.HashRuns(f.svc)
		f.svc.Login(f.ctx, req)
		if n := auth.HashRuns(f.svc) - before; n != 1 {
			t.Errorf("Login(%.20q, …) ran argon2id %d times, want 1", req.Username, n)
		}
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.Access.Token)
	sess, err := f.svc.CreateSession(f.ctx, p, auth.SessionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{Name: "Pi"})
	if err != nil {
		t.Fatal(err)
	}
	mcp, err := f.svc.CreateMCPToken(f.ctx, p, auth.MCPTokenRequest{Name: "ci", Scope: auth.ScopeRead, ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ChangePassword(f.ctx, p, auth.PasswordChange{Current: "wrong password", New: "brand new password"})
	wantCode(t, "wrong current", err, auth.CodeInvalidCredentials)
	_, err = f.svc.ChangePassword(f.ctx, p, auth.PasswordChange{Current: adminPassword, New: adminPassword})
	wantCode(t, "unchanged", err, auth.CodePasswordUnchanged)
	_, err = f.svc.ChangePassword(f.ctx, p, auth.PasswordChange{Current: adminPassword, New: "qwertyuiop"})
	wantCode(t, "common", err, auth.CodePasswordTooWeak)
	wlP := f.mustAuth(res.APIToken.Token)
	_, err = f.svc.ChangePassword(f.ctx, wlP, auth.PasswordChange{Current: adminPassword, New: "brand new password"})
	wantCode(t, "with a wl_", err, auth.CodeTokenScopeMismatch)

	out, err := f.svc.ChangePassword(f.ctx, p, auth.PasswordChange{Current: adminPassword, New: "brand new password"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]auth.Token{"old JWT": res.Access.Token, "session": sess.Token, "old wl_": res.APIToken.Token} {
		_, err := f.authn(tok)
		wantCode(t, name+" after a password change", err, auth.CodeTokenRevoked)
	}
	for name, tok := range map[string]auth.Token{"new JWT": out.Access.Token, "new wl_": out.APIToken.Token, "device token": agent.DeviceToken, "mcp token": mcp.Token} {
		if _, err := f.authn(tok); err != nil {
			t.Errorf("%s after a password change: %v", name, err)
		}
	}
	want := []string{sess.Session.ID, res.APIToken.ID}
	if strings.Join(out.Revoked, ",") != strings.Join(want, ",") {
		t.Errorf("revoked ids %v, want %v", out.Revoked, want)
	}
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: "brand new password"})
	wantCode(t, "login with the new password", err, "")
}

func TestRehashOnLogin(t *testing.T) {
	f := newFixture(t)
	f.setup()
	before := mustUser(t, f, "admin").PasswordHash
	stronger := f.another(func(c *auth.Config) { c.Password = auth.PasswordParams{Memory: 128, Time: 1, Threads: 1} })
	if _, err := stronger.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword}); err != nil {
		t.Fatal(err)
	}
	after := mustUser(t, f, "admin").PasswordHash
	if after == before || !strings.HasPrefix(string(after), "$argon2id$v=19$m=128,t=1,p=1$") {
		t.Fatalf("hash not upgraded: %.40s", string(after))
	}
	if _, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword}); err != nil {
		t.Fatalf("login after the rehash: %v", err)
	}
}

func TestAdminUserManagement(t *testing.T) {
	f := newFixture(t)
	admin := f.setup()
	bob := f.user("bob")
	agent, err := f.svc.CreateAgent(f.ctx, bob.User.ID, auth.AgentSpec{Name: "Pi"})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	u, revoked, err := f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{Disabled: &yes})
	if err != nil || !u.Disabled {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if len(revoked) != 2 {
		t.Fatalf("disabling revoked %v, want the wl_ and the wld_", revoked)
	}
	_, err = f.authn(bob.Access.Token)
	wantCode(t, "JWT of a disabled user", err, auth.CodeAccountDisabled)
	_, err = f.authn(bob.APIToken.Token)
	wantCode(t, "wl_ of a disabled user", err, auth.CodeAccountDisabled)
	_, err = f.authn(agent.DeviceToken)
	wantCode(t, "wld_ of a disabled user", err, auth.CodeAccountDisabled)
	_, err = f.svc.Login(f.ctx, auth.LoginRequest{Username: "bob", Password: userPassword})
	wantCode(t, "login of a disabled user", err, auth.CodeAccountDisabled)
	_, _, err = f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{Disabled: &no})
	wantCode(t, "enable", err, "")
	_, err = f.authn(agent.DeviceToken)
	wantCode(t, "device token after re-enabling", err, auth.CodeTokenRevoked)
	_, err = f.authn(bob.Access.Token)
	wantCode(t, "JWT after re-enabling", err, auth.CodeTokenRevoked)
	again, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "bob", Password: userPassword})
	if err != nil || again.APIToken == nil {
		t.Fatalf("first login after re-enabling mints a wl_: %v", err)
	}

	role := auth.RoleUser
	_, _, err = f.svc.UpdateUser(f.ctx, admin.User.ID, auth.UserUpdate{Role: &role})
	wantCode(t, "demote the last admin", err, auth.CodeLastAdmin)
	wantCode(t, "delete the last admin", f.svc.DeleteUser(f.ctx, admin.User.ID), auth.CodeLastAdmin)
	bad := auth.Role("root")
	_, _, err = f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{Role: &bad})
	wantCode(t, "bad role", err, auth.CodeValidationFailed)
	_, _, err = f.svc.UpdateUser(f.ctx, "usr_nope", auth.UserUpdate{Disabled: &yes})
	wantCode(t, "unknown user", err, auth.CodeUserNotFound)

	three := 3
	u, _, err = f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{AgentsLimit: &three})
	if err != nil || f.svc.AgentsLimit(u) != 3 {
		t.Fatalf("agents limit override: %v %v", f.svc.AgentsLimit(u), err)
	}
	u, _, _ = f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{ResetAgentsLimit: true})
	if f.svc.AgentsLimit(u) != 10 {
		t.Fatalf("reset agents limit: %d", f.svc.AgentsLimit(u))
	}

	u, revoked, err = f.svc.ResetPassword(f.ctx, bob.User.ID, "reset by the admin", false)
	if err != nil || u.APITokenHint != "" {
		t.Fatalf("reset: %+v %v", u, err)
	}
	if len(revoked) == 0 {
		t.Fatal("reset revoked nothing")
	}
	in, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "bob", Password: "reset by the admin"})
	if err != nil || in.APIToken == nil {
		t.Fatalf("login after reset: wl_ minted %v, err %v", in != nil && in.APIToken != nil, err)
	}

	wantCode(t, "delete bob", f.svc.DeleteUser(f.ctx, bob.User.ID), "")
	_, err = f.authn(in.Access.Token)
	wantCode(t, "JWT of a deleted user", err, auth.CodeInvalidToken)
	_, err = f.authn(in.APIToken.Token)
	wantCode(t, "wl_ of a deleted user", err, auth.CodeInvalidToken)
	_, err = f.svc.User(f.ctx, bob.User.ID)
	wantCode(t, "deleted user", err, auth.CodeUserNotFound)
	list, err := f.svc.ListUsers(f.ctx, "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("users: %d %v", len(list), err)
	}
	_, err = f.svc.ListUsers(f.ctx, "", 0)
	wantCode(t, "limit 0", err, auth.CodeValidationFailed)
}
