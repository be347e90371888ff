package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wakelink-go/wakelink/auth"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestAuthenticateDispatch(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	hex := strings.Repeat("ab", 32)
	all := auth.Kinds(auth.KindJWT, auth.KindAccount, auth.KindSession, auth.KindDevice, auth.KindMCP, auth.KindDownload, auth.KindEventTicket)
	for _, tt := range []struct {
		raw   string
		admit auth.KindSet
		code  auth.Code
	}{
		{"wl_" + hex, all, auth.CodeInvalidToken},                                 // well-formed, unknown
		{"wdt_" + hex, all, auth.CodeTokenScopeMismatch},                          // never a Bearer credential
		{"wet_" + hex, all, auth.CodeTokenScopeMismatch},                          // never a Bearer credential
		{"wld_" + hex, auth.Kinds(auth.KindJWT), auth.CodeTokenScopeMismatch},     // not admitted: no lookup
		{"wlm_" + hex, auth.Kinds(auth.KindAccount), auth.CodeTokenScopeMismatch}, // not admitted
		{res.Access.Token.Reveal(), auth.Kinds(auth.KindDevice), auth.CodeTokenScopeMismatch},
		{res.APIToken.Token.Reveal(), auth.Kinds(auth.KindJWT, auth.KindSession), auth.CodeTokenScopeMismatch},
	} {
		tok, err := auth.ParseToken(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(f.ctx, tok, tt.admit)
		wantCode(t, "Authenticate("+tt.raw[:6]+"…)", err, tt.code)
	}
	_, err := f.svc.Authenticate(f.ctx, auth.Token{}, all)
	wantCode(t, "no token", err, auth.CodeAuthRequired)
	code, _ := auth.ParseClaimCode("ABCD-EFGH-JKMN")
	_, err = f.svc.Authenticate(f.ctx, code, all)
	wantCode(t, "a claim code", err, auth.CodeInvalidToken)
}

func TestJWTChecks(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.JWTKey = testKey })
	res := f.setup()
	now := f.clock.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "wakelink", "aud": "wakelink", "sub": res.User.ID, "role": "admin", "gen": 0,
			"auth_time": now.Unix(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "jti1"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) auth.Token {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := auth.ParseToken(s)
		if err != nil {
			t.Fatalf("ParseToken(forged %s): %v", s, err)
		}
		return tok
	}
	_, err := f.authn(sign(jwt.SigningMethodHS256, testKey, claims(nil)))
	wantCode(t, "a well-formed JWT", err, "")
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := auth.ParseToken(none); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("alg none (empty signature) parsed: %v", err)
	}
	noneSig, _ := auth.ParseToken(none + "c2ln")
	_, err = f.authn(noneSig)
	wantCode(t, "alg none with a signature", err, auth.CodeInvalidToken)
	for name, tt := range map[string]struct {
		tok  auth.Token
		code auth.Code
	}{
		"wrong key":        {sign(jwt.SigningMethodHS256, []byte("another key of thirty-two bytes!"), claims(nil)), auth.CodeInvalidToken},
		"HS512":            {sign(jwt.SigningMethodHS512, testKey, claims(nil)), auth.CodeInvalidToken},
		"wrong iss":        {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["iss"] = "other" })), auth.CodeInvalidToken},
		"wrong aud":        {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["aud"] = "other" })), auth.CodeInvalidToken},
		"no exp":           {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "exp") })), auth.CodeInvalidToken},
		"no jti":           {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "jti") })), auth.CodeInvalidToken},
		"unknown sub":      {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["sub"] = "usr_nobody" })), auth.CodeInvalidToken},
		"not a user sub":   {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["sub"] = "WL00000000" })), auth.CodeInvalidToken},
		"expired":          {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() })), auth.CodeTokenExpired},
		"expired, bad iss": {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() - 5; c["iss"] = "x" })), auth.CodeInvalidToken},
		"expired, bad key": {sign(jwt.SigningMethodHS256, []byte("another key of thirty-two bytes!"), claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() - 5 })), auth.CodeInvalidToken},
		"old generation":   {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["gen"] = -1 })), auth.CodeTokenRevoked},
		"not yet valid":    {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), auth.CodeInvalidToken},
		"role claim lies":  {sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["role"] = "superuser" })), ""},
		"tampered payload": {tamper(t, res.Access.Token), auth.CodeInvalidToken},
	} {
		_, err := f.authn(tt.tok)
		wantCode(t, name, err, tt.code)
	}
	// The role comes from the store, not from the token.
	p, _ := f.authn(sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["role"] = "user"; c["jti"] = "j2" })))
	if p.Role != auth.RoleAdmin {
		t.Fatalf("role %q, want the stored admin", p.Role)
	}
	f.clock.Advance(15 * time.Minute)
	_, err = f.authn(res.Access.Token)
	wantCode(t, "after 15 minutes", err, auth.CodeTokenExpired)
}

// tamper flips the role in a JWT's payload, keeping the signature.
func tamper(t *testing.T, tok auth.Token) auth.Token {
	parts := strings.Split(tok.Reveal(), ".")
	p := []byte(parts[1])
	p[len(p)/2] ^= 1
	out, err := auth.ParseToken(parts[0] + "." + string(p) + "." + parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	set := f.svc.Settings()
	set.MaxSessionsPerUser, set.MaxRelaySessionsPerUser, set.SessionTTL = 3, 2, 2*time.Hour
	if err := f.svc.SetSettings(set); err != nil {
		t.Fatal(err)
	}
	jwtP, wlP := f.mustAuth(res.Access.Token), f.mustAuth(res.APIToken.Token)

	s1, err := f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{Label: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	p := f.mustAuth(s1.Token)
	if p.Kind != auth.KindSession || p.CreatedVia != auth.ViaPassword || !p.Interactive() || p.CredentialID != s1.Session.ID ||
		!p.ExpiresAt.Equal(f.clock.Now().Add(2*time.Hour)) || !strings.HasPrefix(p.CredentialID, "ses_") {
		t.Fatalf("session principal: %+v", p)
	}
	_, err = f.svc.CreateSession(f.ctx, p, auth.SessionRequest{})
	wantCode(t, "session from a session", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{Label: strings.Repeat("x", 65)})
	wantCode(t, "long label", err, auth.CodeValidationFailed)
	_, err = f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{Relay: true})
	wantCode(t, "relay session from a JWT", err, auth.CodeTokenScopeMismatch)

	s2, _ := f.svc.CreateSession(f.ctx, wlP, auth.SessionRequest{})
	p2 := f.mustAuth(s2.Token)
	if p2.CreatedVia != auth.ViaAPIToken || p2.Interactive() || p2.ParentID != res.APIToken.ID {
		t.Fatalf("api_token session principal: %+v", p2)
	}
	// Relay sessions are capped apart and never evict the others.
	var relay []*auth.IssuedSession
	for range 3 {
		r, err := f.svc.CreateSession(f.ctx, wlP, auth.SessionRequest{Relay: true})
		if err != nil {
			t.Fatal(err)
		}
		relay = append(relay, r)
	}
	if len(relay[2].Evicted) != 1 || relay[2].Evicted[0] != relay[0].Session.ID {
		t.Fatalf("third relay session evicted %v", relay[2].Evicted)
	}
	_, err = f.authn(relay[0].Token)
	wantCode(t, "evicted relay session", err, auth.CodeTokenRevoked)
	s3, _ := f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{})
	s4, _ := f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{})
	if len(s3.Evicted) != 0 || len(s4.Evicted) != 1 || s4.Evicted[0] != s1.Session.ID {
		t.Fatalf("console sessions: s3 evicted %v, s4 evicted %v", s3.Evicted, s4.Evicted)
	}
	_, err = f.authn(s1.Token)
	wantCode(t, "evicted session", err, auth.CodeTokenRevoked)

	list, err := f.svc.ListSessions(f.ctx, res.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 { // s2, two relay, s3, s4
		t.Fatalf("%d live sessions, want 5", len(list))
	}
	ids, err := f.svc.DeleteSession(f.ctx, res.User.ID, s2.Session.ID)
	if err != nil || len(ids) != 1 {
		t.Fatalf("DeleteSession: %v %v", ids, err)
	}
	_, err = f.authn(s2.Token)
	wantCode(t, "deleted session", err, auth.CodeTokenRevoked)
	_, err = f.svc.DeleteSession(f.ctx, res.User.ID, s2.Session.ID)
	wantCode(t, "delete again", err, auth.CodeSessionNotFound)
	other := f.user("bob")
	_, err = f.svc.DeleteSession(f.ctx, other.User.ID, s3.Session.ID)
	wantCode(t, "another user's session", err, auth.CodeSessionNotFound)

	// Last use is recorded at most once a minute.
	f.clock.Advance(2 * time.Minute)
	f.mustAuth(s3.Token)
	c, _ := f.store.CredentialByHash(f.ctx, s3.Token.Hash())
	if !c.LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("last used %v, want %v", c.LastUsedAt, f.clock.Now())
	}
	// Expiry.
	f.clock.Advance(2 * time.Hour)
	_, err = f.authn(s3.Token)
	wantCode(t, "expired session", err, auth.CodeTokenExpired)
}

func TestLogoutAndRefresh(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	jwtP := f.mustAuth(res.Access.Token)
	sess, _ := f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{})
	sessP := f.mustAuth(sess.Token)
	apiSess, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.APIToken.Token), auth.SessionRequest{})

	f.clock.Advance(time.Minute)
	fresh, err := f.svc.Refresh(f.ctx, jwtP)
	if err != nil {
		t.Fatal(err)
	}
	fp := f.mustAuth(fresh.Token)
	if !fp.AuthTime.Equal(jwtP.AuthTime) || fp.CredentialID == jwtP.CredentialID {
		t.Fatalf("refreshed JWT: auth_time %v (want %v), jti %s", fp.AuthTime, jwtP.AuthTime, fp.CredentialID)
	}
	fromSess, err := f.svc.Refresh(f.ctx, sessP)
	if err != nil || fromSess.ExpiresAt.After(sess.Session.ExpiresAt) {
		t.Fatalf("refresh from a session: %v %v", fromSess.ExpiresAt, err)
	}
	_, err = f.svc.Refresh(f.ctx, f.mustAuth(res.APIToken.Token))
	wantCode(t, "refresh with a wl_", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.Refresh(f.ctx, f.mustAuth(apiSess.Token))
	wantCode(t, "refresh with an api_token session", err, auth.CodeTokenScopeMismatch)

	// Refreshable until auth_time + 24 h.
	p := fp
	for f.clock.Now().Before(jwtP.AuthTime.Add(24*time.Hour - 15*time.Minute)) {
		f.clock.Advance(10 * time.Minute)
		next, err := f.svc.Refresh(f.ctx, p)
		if err != nil {
			t.Fatalf("refresh at %v: %v", f.clock.Now(), err)
		}
		p = f.mustAuth(next.Token)
	}
	f.clock.Advance(15 * time.Minute)
	_, err = f.svc.Refresh(f.ctx, p)
	wantCode(t, "refresh past auth_time + 24 h", err, auth.CodeReauthRequired)

	// Logout.
	late := f.setupLogin(t)
	lp := f.mustAuth(late.Access.Token)
	if _, err := f.svc.Logout(f.ctx, lp); err != nil {
		t.Fatal(err)
	}
	_, err = f.authn(late.Access.Token)
	wantCode(t, "logged-out JWT", err, auth.CodeTokenRevoked)
	s2, _ := f.svc.CreateSession(f.ctx, f.mustAuth(mustLogin(t, f).Access.Token), auth.SessionRequest{})
	ids, err := f.svc.Logout(f.ctx, f.mustAuth(s2.Token))
	if err != nil || len(ids) != 1 || ids[0] != s2.Session.ID {
		t.Fatalf("logout of a session: %v %v", ids, err)
	}
	_, err = f.authn(s2.Token)
	wantCode(t, "logged-out session", err, auth.CodeTokenRevoked)
	_, err = f.svc.Logout(f.ctx, f.mustAuth(res.APIToken.Token))
	wantCode(t, "logout with a wl_", err, auth.CodeTokenScopeMismatch)
}

func (f *fixture) setupLogin(t *testing.T) *auth.LoginResult { return mustLogin(t, f) }

func mustLogin(t *testing.T, f *fixture) *auth.LoginResult {
	t.Helper()
	res, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLogoutEverywhere(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	jwtP := f.mustAuth(res.Access.Token)
	sess, _ := f.svc.CreateSession(f.ctx, jwtP, auth.SessionRequest{})
	relay, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.APIToken.Token), auth.SessionRequest{Relay: true})
	agent, _ := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{Name: "pi"})
	_, err := f.svc.LogoutEverywhere(f.ctx, f.mustAuth(res.APIToken.Token), false)
	wantCode(t, "with a wl_", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.LogoutEverywhere(f.ctx, f.mustAuth(relay.Token), false)
	wantCode(t, "with a relay session", err, auth.CodeTokenScopeMismatch)

	out, err := f.svc.LogoutEverywhere(f.ctx, jwtP, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.RevokedSessions, []string{sess.Session.ID, relay.Session.ID}) || out.APIToken != nil {
		t.Fatalf("result: %+v", out)
	}
	for name, tok := range map[string]auth.Token{"JWT": res.Access.Token, "session": sess.Token, "relay session": relay.Token} {
		_, err := f.authn(tok)
		wantCode(t, name, err, auth.CodeTokenRevoked)
	}
	f.mustAuth(res.APIToken.Token)
	f.mustAuth(agent.DeviceToken)

	again := mustLogin(t, f)
	out, err = f.svc.LogoutEverywhere(f.ctx, f.mustAuth(again.Access.Token), true)
	if err != nil || out.APIToken == nil || !slices.Contains(out.Revoked, res.APIToken.ID) {
		t.Fatalf("with rotation: %+v %v", out, err)
	}
	_, err = f.authn(res.APIToken.Token)
	wantCode(t, "rotated wl_", err, auth.CodeTokenRevoked)
	f.mustAuth(out.APIToken.Token)
}

func TestRotateAPIToken(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	wl := f.mustAuth(res.APIToken.Token)
	child, _ := f.svc.CreateSession(f.ctx, wl, auth.SessionRequest{Relay: true})
	other, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.Access.Token), auth.SessionRequest{})
	_, err := f.svc.RotateAPIToken(f.ctx, wl)
	wantCode(t, "rotate with the wl_ itself", err, auth.CodeTokenScopeMismatch)
	rot, err := f.svc.RotateAPIToken(f.ctx, f.mustAuth(res.Access.Token))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rot.Revoked, []string{res.APIToken.ID, child.Session.ID}) {
		t.Fatalf("revoked %v, want the old wl_ and its session", rot.Revoked)
	}
	_, err = f.authn(child.Token)
	wantCode(t, "session minted from the old wl_", err, auth.CodeTokenRevoked)
	f.mustAuth(other.Token)
	f.mustAuth(rot.Token)
	u, _ := f.svc.User(f.ctx, res.User.ID)
	if u.APITokenHint != rot.Hint || rot.Hint == res.APIToken.Hint && rot.ID == res.APIToken.ID {
		t.Fatalf("hint %q after rotation to %q", u.APITokenHint, rot.Hint)
	}
}

// TestRevocationBeatsTheCache: once a revoking call returns, this process
// never accepts the credential again, even under concurrent verification.
func TestRevocationBeatsTheCache(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	for round := range 20 {
		s, err := f.svc.CreateSession(f.ctx, f.mustAuth(res.Access.Token), auth.SessionRequest{})
		if err != nil {
			t.Fatal(err)
		}
		f.mustAuth(s.Token) // cached
		var revoked atomic.Bool
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					done := revoked.Load()
					_, err := f.authn(s.Token)
					if done && err == nil {
						t.Errorf("round %d: a revoked session was accepted", round)
						return
					}
				}
			}()
		}
		if _, err := f.svc.DeleteSession(f.ctx, res.User.ID, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		time.Sleep(time.Millisecond)
		close(stop)
		wg.Wait()
	}
}

// TestRevocationInsideATransaction: a revocation inside InTx is honoured
// once the transaction commits, and a rolled-back one changes nothing.
func TestRevocationInsideATransaction(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	s, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.Access.Token), auth.SessionRequest{})
	f.mustAuth(s.Token)
	boom := errors.New("boom")
	err := f.store.InTx(f.ctx, func(ctx context.Context) error {
		_, err := f.svc.DeleteSession(ctx, res.User.ID, s.Session.ID)
		if err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	f.mustAuth(s.Token) // rolled back: still valid
	err = f.store.InTx(f.ctx, func(ctx context.Context) error {
		_, err := f.svc.DeleteSession(ctx, res.User.ID, s.Session.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.authn(s.Token)
	wantCode(t, "after commit", err, auth.CodeTokenRevoked)
}

// TestCacheBoundAcrossNodes: a revocation made by another Service over the
// same store is seen within CacheTTL.
func TestCacheBoundAcrossNodes(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	node2 := f.another()
	s, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.Access.Token), auth.SessionRequest{})
	all := auth.Kinds(auth.KindSession)
	if _, err := node2.Authenticate(f.ctx, s.Token, all); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteSession(f.ctx, res.User.ID, s.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := node2.Authenticate(f.ctx, s.Token, all); err != nil {
		t.Fatalf("within the cache TTL node 2 answers from its cache: %v", err)
	}
	f.clock.Advance(auth.DefaultCacheTTL)
	_, err := node2.Authenticate(f.ctx, s.Token, all)
	wantCode(t, "after the cache TTL", err, auth.CodeTokenRevoked)

	nocache := f.another(func(c *auth.Config) { c.CacheSize = -1 })
	_, err = nocache.Authenticate(f.ctx, s.Token, all)
	wantCode(t, "without a cache", err, auth.CodeTokenRevoked)
}

func TestMCPTokens(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.Access.Token)
	exp := f.clock.Now().Add(24 * time.Hour)
	mk := func(name string, scope auth.Scope, exp time.Time) (*auth.IssuedMCPToken, error) {
		return f.svc.CreateMCPToken(f.ctx, p, auth.MCPTokenRequest{Name: name, Scope: scope, ExpiresAt: exp})
	}
	tok, err := mk("ci", auth.ScopeWrite, exp)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := f.authn(tok.Token, auth.KindMCP)
	if err != nil || mp.Scope != auth.ScopeWrite || mp.Kind != auth.KindMCP || !strings.HasPrefix(mp.CredentialID, "mcp_") {
		t.Fatalf("MCP principal %+v %v", mp, err)
	}
	_, err = f.authn(tok.Token, auth.KindJWT, auth.KindAccount, auth.KindSession)
	wantCode(t, "MCP token on a console endpoint", err, auth.CodeTokenScopeMismatch)
	_, err = mk("ci", auth.ScopeRead, exp)
	wantCode(t, "same name", err, auth.CodeMCPTokenNameTaken)
	_, err = mk("x", "admin", exp)
	wantCode(t, "bad scope", err, auth.CodeValidationFailed)
	_, err = mk("x", auth.ScopeRead, f.clock.Now())
	wantCode(t, "expiry now", err, auth.CodeValidationFailed)
	_, err = mk("x", auth.ScopeRead, f.clock.Now().Add(366*24*time.Hour))
	wantCode(t, "expiry > 365 d", err, auth.CodeValidationFailed)
	_, err = mk("", auth.ScopeRead, exp)
	wantCode(t, "no name", err, auth.CodeValidationFailed)
	_, err = f.svc.CreateMCPToken(f.ctx, f.mustAuth(res.APIToken.Token), auth.MCPTokenRequest{Name: "y", Scope: auth.ScopeRead, ExpiresAt: exp})
	wantCode(t, "minted with a wl_", err, auth.CodeTokenScopeMismatch)
	for i := 1; i < auth.MaxActiveMCPTokens; i++ {
		if _, err := mk("t"+string(rune('a'+i)), auth.ScopeRead, exp); err != nil {
			t.Fatal(err)
		}
	}
	_, err = mk("one too many", auth.ScopeRead, exp)
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeMCPTokenLimitReached || e.Limit != 20 {
		t.Fatalf("21st token: %v", err)
	}
	c, err := f.svc.RevokeMCPToken(f.ctx, res.User.ID, tok.Credential.ID)
	if err != nil || c.RevokedAt.IsZero() {
		t.Fatalf("revoke: %+v %v", c, err)
	}
	_, err = f.authn(tok.Token, auth.KindMCP)
	wantCode(t, "revoked MCP token", err, auth.CodeTokenRevoked)
	if _, err := f.svc.RevokeMCPToken(f.ctx, res.User.ID, tok.Credential.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	_, err = f.svc.RevokeMCPToken(f.ctx, "usr_other", tok.Credential.ID)
	wantCode(t, "another user's token", err, auth.CodeMCPTokenNotFound)
	if _, err := mk("ci", auth.ScopeRead, exp); err != nil {
		t.Fatalf("re-using a revoked token's name: %v", err)
	}
	live, _ := f.svc.ListMCPTokens(f.ctx, res.User.ID, false)
	withRevoked, _ := f.svc.ListMCPTokens(f.ctx, res.User.ID, true)
	if len(live) != 20 || len(withRevoked) != 21 {
		t.Fatalf("lists: %d live, %d with revoked", len(live), len(withRevoked))
	}
	f.clock.Advance(24 * time.Hour)
	last := live[len(live)-1]
	_ = last
	_, err = f.authn(tok.Token, auth.KindMCP)
	wantCode(t, "revoked and expired", err, auth.CodeTokenExpired)
}

func TestDownloadTokens(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	agent, _ := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{Name: "pi"})
	dp := f.mustAuth(agent.DeviceToken)
	tok, g, err := f.svc.IssueDownloadToken(f.ctx, dp, "artifact", "rel_1")
	if err != nil || tok.Kind() != auth.KindDownload || g.AgentID != agent.Agent.AgentID || g.Issuer != agent.CredentialID {
		t.Fatalf("issue: %+v %v", g, err)
	}
	for range 3 { // reusable within its lifetime
		if _, err := f.svc.VerifyDownloadToken(f.ctx, tok, "artifact", "rel_1"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.svc.VerifyDownloadToken(f.ctx, tok, "artifact", "rel_2")
	wantCode(t, "another resource", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.VerifyDownloadToken(f.ctx, tok, "snapshot", "rel_1")
	wantCode(t, "another kind of resource", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.VerifyDownloadToken(f.ctx, res.APIToken.Token, "artifact", "rel_1")
	wantCode(t, "a wl_ as download token", err, auth.CodeTokenScopeMismatch)
	_, err = f.authn(tok, auth.KindJWT, auth.KindAccount, auth.KindSession, auth.KindDevice, auth.KindMCP, auth.KindDownload)
	wantCode(t, "download token as Bearer", err, auth.CodeTokenScopeMismatch)
	_, _, err = f.svc.IssueDownloadToken(f.ctx, dp, "", "x")
	wantCode(t, "empty kind", err, auth.CodeValidationFailed)
	f.clock.Advance(5 * time.Minute)
	_, err = f.svc.VerifyDownloadToken(f.ctx, tok, "artifact", "rel_1")
	wantCode(t, "after 5 minutes", err, auth.CodeTokenExpired)
	// Deleting the agent deletes its download tokens.
	tok2, _, _ := f.svc.IssueDownloadToken(f.ctx, dp, "artifact", "rel_1")
	f.svc.DeleteAgent(f.ctx, res.User.ID, agent.Agent.AgentID)
	_, err = f.svc.VerifyDownloadToken(f.ctx, tok2, "artifact", "rel_1")
	wantCode(t, "after the agent was deleted", err, auth.CodeInvalidToken)
}

func TestEventTickets(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.APIToken.Token)
	tok, exp, err := f.svc.IssueEventTicket(f.ctx, p)
	if err != nil || !exp.Equal(f.clock.Now().Add(30*time.Second)) {
		t.Fatalf("issue: %v %v", exp, err)
	}
	got, err := f.svc.RedeemEventTicket(f.ctx, tok)
	if err != nil || got.UserID != res.User.ID || got.ParentID != res.APIToken.ID || got.Kind != auth.KindEventTicket {
		t.Fatalf("redeem: %+v %v", got, err)
	}
	_, err = f.svc.RedeemEventTicket(f.ctx, tok)
	wantCode(t, "second use", err, auth.CodeInvalidToken)
	late, _, _ := f.svc.IssueEventTicket(f.ctx, p)
	f.clock.Advance(30 * time.Second)
	_, err = f.svc.RedeemEventTicket(f.ctx, late)
	wantCode(t, "after 30 s", err, auth.CodeTokenExpired)
	_, err = f.svc.RedeemEventTicket(f.ctx, res.Access.Token)
	wantCode(t, "a JWT as ticket", err, auth.CodeTokenScopeMismatch)
	_, err = f.authn(tok, auth.KindEventTicket)
	wantCode(t, "ticket as Bearer", err, auth.CodeTokenScopeMismatch)
	// Concurrent redeems: one wins.
	race, _, _ := f.svc.IssueEventTicket(f.ctx, p)
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.RedeemEventTicket(f.ctx, race); err == nil {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d redeems won, want 1", won.Load())
	}
}

func TestRevalidate(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	bob := f.user("bob")
	s1, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.APIToken.Token), auth.SessionRequest{Relay: true})
	s2, _ := f.svc.CreateSession(f.ctx, f.mustAuth(res.APIToken.Token), auth.SessionRequest{Relay: true})
	agent, _ := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{Name: "pi"})
	bobs, _ := f.svc.CreateSession(f.ctx, f.mustAuth(bob.APIToken.Token), auth.SessionRequest{Relay: true})
	f.svc.DeleteSession(f.ctx, res.User.ID, s1.Session.ID)
	yes := true
	f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{Disabled: &yes})
	ids := []string{s1.Session.ID, s2.Session.ID, agent.CredentialID, res.APIToken.ID, bobs.Session.ID, "ses_unknown"}
	got, err := f.svc.Revalidate(f.ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s1.Session.ID, bobs.Session.ID, "ses_unknown"}
	if !slices.Equal(got, want) {
		t.Fatalf("Revalidate: %v, want %v", got, want)
	}
	f.clock.Advance(24 * time.Hour)
	got, _ = f.svc.Revalidate(f.ctx, []string{s2.Session.ID, agent.CredentialID})
	if !slices.Equal(got, []string{s2.Session.ID}) {
		t.Fatalf("after expiry: %v", got)
	}
	_, err = f.svc.Revalidate(f.ctx, make([]string, 1001))
	wantCode(t, "too many ids", err, auth.CodeValidationFailed)
}

func TestRotateSigningKeyAndPurge(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	if err := f.svc.RotateSigningKey(f.ctx); err != nil {
		t.Fatal(err)
	}
	_, err := f.authn(res.Access.Token)
	wantCode(t, "JWT signed with the old key", err, auth.CodeInvalidToken)
	in := mustLogin(t, f)
	f.mustAuth(in.Access.Token)
	if err := f.another(func(c *auth.Config) { c.JWTKey = testKey }).RotateSigningKey(f.ctx); err == nil {
		t.Fatal("rotating a configured key succeeded")
	}

	s, _ := f.svc.CreateSession(f.ctx, f.mustAuth(in.Access.Token), auth.SessionRequest{})
	f.svc.DeleteSession(f.ctx, res.User.ID, s.Session.ID)
	n, err := f.svc.Purge(f.ctx, 0)
	if err != nil || n != 0 {
		t.Fatalf("purge before the retention: %d %v", n, err)
	}
	f.clock.Advance(auth.DefaultRetention + time.Second)
	n, err = f.svc.Purge(f.ctx, 0)
	if err != nil || n != 1 { // the revoked session
		t.Fatalf("purge after the retention: %d %v, want 1", n, err)
	}
	_, err = f.authn(s.Token)
	wantCode(t, "purged session", err, auth.CodeInvalidToken)
}
