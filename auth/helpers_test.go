package auth_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
)

// fakeClock is the injected clock: tests advance it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fastParams keep argon2id cheap; TestDefaults checks the real defaults.
var fastParams = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}

const (
	adminPassword = "correct horse battery"
	userPassword  = "long user passphrase"
)

type fixture struct {
	t     *testing.T
	clock *fakeClock
	store *authtest.MemStore
	svc   *auth.Service
	ctx   context.Context
}

func newFixture(t *testing.T, mods ...func(*auth.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newClock(), store: authtest.NewMemStore(), ctx: context.Background()}
	cfg := auth.Config{Now: f.clock.Now, Password: fastParams, CommonPasswords: []string{"Password123", "qwertyuiop"}}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := auth.New(f.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// another returns a second Service over the same store (another node).
func (f *fixture) another(mods ...func(*auth.Config)) *auth.Service {
	f.t.Helper()
	cfg := auth.Config{Now: f.clock.Now, Password: fastParams}
	for _, m := range mods {
		m(&cfg)
	}
	svc, err := auth.New(f.store, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

func (f *fixture) setup() *auth.LoginResult {
	f.t.Helper()
	res, err := f.svc.Setup(f.ctx, auth.NewAccount{Username: "admin", Password: adminPassword})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// user creates a user and logs it in.
func (f *fixture) user(name string) *auth.LoginResult {
	f.t.Helper()
	if _, err := f.svc.CreateUser(f.ctx, auth.NewAccount{Username: name, Password: userPassword}); err != nil {
		f.t.Fatal(err)
	}
	res, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: name, Password: userPassword})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) authn(tok auth.Token, kinds ...auth.Kind) (auth.Principal, error) {
	if len(kinds) == 0 {
		kinds = []auth.Kind{auth.KindJWT, auth.KindAccount, auth.KindSession, auth.KindDevice, auth.KindMCP}
	}
	return f.svc.Authenticate(f.ctx, tok, auth.Kinds(kinds...))
}

func (f *fixture) mustAuth(tok auth.Token) auth.Principal {
	f.t.Helper()
	p, err := f.authn(tok)
	if err != nil {
		f.t.Fatalf("Authenticate(%v): %v", tok, err)
	}
	return p
}

// wantCode fails unless err carries code ("" = no error).
func wantCode(t *testing.T, what string, err error, code auth.Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }
