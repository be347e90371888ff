package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
)

// The first user of a server is created by Setup: an admin, logged in, with
// a JWT access token and an account token (wl_) shown once.
func ExampleService_Setup() {
	ctx := context.Background()
	svc, err := auth.New(authtest.NewMemStore(), auth.Config{})
	if err != nil {
		panic(err)
	}
	res, err := svc.Setup(ctx, auth.NewAccount{Username: "Admin", Password: "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	fmt.Println("user:", res.User.Username, res.User.Role)
	fmt.Println("access token:", res.Access.Token.Kind(), "for", time.Until(res.Access.ExpiresAt).Round(time.Minute))

	// Tokens authenticate later requests; the endpoint says which kinds it
	// admits.
	console := auth.Kinds(auth.KindJWT, auth.KindAccount, auth.KindSession)
	p, err := svc.Authenticate(ctx, res.APIToken.Token, console)
	if err != nil {
		panic(err)
	}
	fmt.Println("wl_ principal:", p.Role, p.Kind, "interactive:", p.Interactive())

	// Setup works once.
	_, err = svc.Setup(ctx, auth.NewAccount{Username: "mallory", Password: "another long password"})
	fmt.Println("second setup:", auth.CodeOf(err))
	// Output:
	// user: admin admin
	// access token: jwt for 15m0s
	// wl_ principal: admin wl interactive: false
	// second setup: ALREADY_INITIALIZED
}

// Logging in with a second factor: the clock is injected, and the
// randomness is seeded only so that this example prints the same secret on
// every run (never seed it outside tests).
func ExampleService_Login_totp() {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc, err := auth.New(authtest.NewMemStore(), auth.Config{Now: clock, Rand: &seeded{}})
	if err != nil {
		panic(err)
	}
	res, err := svc.Setup(ctx, auth.NewAccount{Username: "alice", Password: "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	p, _ := svc.Authenticate(ctx, res.Access.Token, auth.Kinds(auth.KindJWT))

	enr, err := svc.EnrollTOTP(ctx, p, "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	fmt.Println("scan:", enr.URL.Reveal())
	code, _ := totp.GenerateCode(enr.Secret.Reveal(), now) // what the authenticator app shows
	conf, err := svc.ConfirmTOTP(ctx, p, code)
	if err != nil {
		panic(err)
	}
	fmt.Println("recovery codes:", len(conf.RecoveryCodes))

	_, err = svc.Login(ctx, auth.LoginRequest{Username: "alice", Password: "correct horse battery staple"})
	fmt.Println("without a code:", auth.CodeOf(err))

	now = now.Add(30 * time.Second) // a code works once: wait for the next one
	code, _ = totp.GenerateCode(enr.Secret.Reveal(), now)
	in, err := svc.Login(ctx, auth.LoginRequest{Username: "alice", Password: "correct horse battery staple", TOTPCode: code})
	if err != nil {
		panic(err)
	}
	fmt.Println("with the code:", in.Access.Token.Kind(), in.User.TOTPEnabled())
	_, err = svc.Login(ctx, auth.LoginRequest{Username: "alice", Password: "correct horse battery staple", TOTPCode: code})
	fmt.Println("the same code again:", auth.CodeOf(err))
	// Output:
	// scan: otpauth://totp/WakeLink:alice?algorithm=SHA1&digits=6&issuer=WakeLink&period=30&secret=ZEWSC7CAENZRMAK6ZGCGHM6VFHPYIXMM
	// recovery codes: 10
	// without a code: TOTP_REQUIRED
	// with the code: jwt true
	// the same code again: TOTP_INVALID
}

// Registering an agent returns its device token once; rotating it returns
// the credential ids the caller kicks off the relay after committing.
func ExampleService_CreateAgent() {
	ctx := context.Background()
	svc, err := auth.New(authtest.NewMemStore(), auth.Config{})
	if err != nil {
		panic(err)
	}
	res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	a, err := svc.CreateAgent(ctx, res.User.ID, auth.AgentSpec{
		AgentID:  "living-room-pi",
		Name:     "Living room Pi",
		Platform: "linux-arm64",
		Targets:  []auth.Target{{Name: "desktop", MAC: "aa-bb-cc-dd-ee-ff", Broadcast: "192.168.1.255"}},
	})
	if err != nil {
		panic(err)
	}
	t := a.Agent.Targets[0]
	fmt.Println("agent:", a.Agent.AgentID, a.Agent.Channel)
	fmt.Println("target:", t.Name, t.MAC, t.Broadcast, t.Port)
	fmt.Println("device token:", a.DeviceToken.Kind())

	p, err := svc.Authenticate(ctx, a.DeviceToken, auth.Kinds(auth.KindDevice))
	if err != nil {
		panic(err)
	}
	fmt.Println("principal:", p.Kind, p.AgentID)

	rot, err := svc.RotateDeviceToken(ctx, res.User.ID, "living-room-pi", 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("revoked:", len(rot.Revoked), rot.Revoked[0] == a.CredentialID)
	_, err = svc.Authenticate(ctx, a.DeviceToken, auth.Kinds(auth.KindDevice))
	fmt.Println("old token:", auth.CodeOf(err))

	_, err = svc.CreateAgent(ctx, res.User.ID, auth.AgentSpec{Name: "bad", Targets: []auth.Target{{Name: "aabb.ccdd.eeff", MAC: "02:00:00:00:00:01"}}})
	fmt.Println("MAC-like target name:", auth.CodeOf(err))
	// Output:
	// agent: living-room-pi stable
	// target: desktop AA:BB:CC:DD:EE:FF 192.168.1.255 9
	// device token: wld
	// principal: wld living-room-pi
	// revoked: 1 true
	// old token: TOKEN_REVOKED
	// MAC-like target name: VALIDATION_FAILED
}

func ExampleParseToken() {
	for _, s := range []string{
		"wls_" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
		"wlk_" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		tok, err := auth.ParseToken(s)
		if err != nil {
			fmt.Println(auth.CodeOf(err))
			continue
		}
		fmt.Printf("%v %q\n", tok.Kind(), tok)
	}
	// Output:
	// wls "wls_0123…(redacted)"
	// jwt "[redacted jwt]"
	// INVALID_TOKEN
}

// seeded is a deterministic byte stream (SHA-256 of a counter), for
// reproducible examples only.
type seeded struct {
	n   uint64
	buf []byte
}

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		if len(s.buf) == 0 {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], s.n)
			s.n++
			sum := sha256.Sum256(c[:])
			s.buf = sum[:]
		}
		p[i], s.buf = s.buf[0], s.buf[1:]
	}
	return len(p), nil
}
