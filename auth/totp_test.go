package auth_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

func TestTOTP(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.Access.Token)

	_, err := f.svc.EnrollTOTP(f.ctx, p, "wrong password")
	wantCode(t, "enroll with a wrong password", err, auth.CodeInvalidCredentials)
	_, err = f.svc.EnrollTOTP(f.ctx, f.mustAuth(res.APIToken.Token), adminPassword)
	wantCode(t, "enroll with a wl_", err, auth.CodeTokenScopeMismatch)
	_, err = f.svc.ConfirmTOTP(f.ctx, p, "123456")
	wantCode(t, "confirm without enrolling", err, auth.CodeTOTPNotEnrolled)

	enr, err := f.svc.EnrollTOTP(f.ctx, p, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	secret := enr.Secret.Reveal()
	u, err := url.Parse(enr.URL.Reveal())
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret || enr.Digits != 6 || enr.Period != 30*time.Second ||
		enr.Algorithm != "SHA1" || len(secret) != 32 || !enr.ExpiresAt.Equal(f.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("enrollment: %+v (%v)", enr, err)
	}
	if strings.Contains(enr.URL.String(), secret) || strings.Contains(enr.Secret.String(), secret) {
		t.Fatal("the enrollment prints its secret")
	}
	_, err = f.svc.ConfirmTOTP(f.ctx, p, "000000")
	wantCode(t, "wrong confirmation code", err, auth.CodeTOTPInvalid)
	conf, err := f.svc.ConfirmTOTP(f.ctx, p, totpCode(t, secret, f.clock.Now()))
	if err != nil || len(conf.RecoveryCodes) != 10 {
		t.Fatalf("confirm: %v", err)
	}
	_, err = f.svc.EnrollTOTP(f.ctx, p, adminPassword)
	wantCode(t, "enroll while enabled", err, auth.CodeTOTPAlreadyEnabled)

	login := func(code, recovery string) error {
		_, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword, TOTPCode: code, RecoveryCode: recovery})
		return err
	}
	wantCode(t, "login without a code", login("", ""), auth.CodeTOTPRequired)
	f.clock.Advance(30 * time.Second)
	now := f.clock.Now()
	wantCode(t, "login with the code", login(totpCode(t, secret, now), ""), "")
	wantCode(t, "the same code again", login(totpCode(t, secret, now), ""), auth.CodeTOTPInvalid)
	wantCode(t, "the previous step", login(totpCode(t, secret, now.Add(-30*time.Second)), ""), auth.CodeTOTPInvalid)
	wantCode(t, "one step ahead", login(totpCode(t, secret, now.Add(30*time.Second)), ""), "")
	f.clock.Advance(5 * time.Minute)
	now = f.clock.Now()
	wantCode(t, "one step behind", login(totpCode(t, secret, now.Add(-30*time.Second)), ""), "")
	wantCode(t, "two steps ahead", login(totpCode(t, secret, now.Add(60*time.Second)), ""), auth.CodeTOTPInvalid)
	wantCode(t, "not digits", login("12345a", ""), auth.CodeTOTPInvalid)

	rc := conf.RecoveryCodes[3].Reveal()
	wantCode(t, "recovery code", login("", strings.ToUpper(rc)), "")
	wantCode(t, "recovery code twice", login("", rc), auth.CodeTOTPInvalid)
	wantCode(t, "junk recovery code", login("", "zzzz"), auth.CodeTOTPInvalid)

	// Regenerate: the old set is void.
	p = f.mustAuth(mustLoginTOTP(t, f, secret).Access.Token)
	f.clock.Advance(30 * time.Second)
	_, err = f.svc.RegenerateRecoveryCodes(f.ctx, p, adminPassword, "000000")
	wantCode(t, "regenerate with a wrong code", err, auth.CodeTOTPInvalid)
	fresh, err := f.svc.RegenerateRecoveryCodes(f.ctx, p, adminPassword, totpCode(t, secret, f.clock.Now()))
	if err != nil || len(fresh) != 10 {
		t.Fatalf("regenerate: %v", err)
	}
	wantCode(t, "an old recovery code", login("", conf.RecoveryCodes[5].Reveal()), auth.CodeTOTPInvalid)

	// Password change needs the code.
	_, err = f.svc.ChangePassword(f.ctx, p, auth.PasswordChange{Current: adminPassword, New: "a new long password"})
	wantCode(t, "password change without a code", err, auth.CodeTOTPRequired)

	// Disable with a recovery code.
	err = f.svc.DisableTOTP(f.ctx, p, "wrong password", fresh[0].Reveal())
	wantCode(t, "disable with a wrong password", err, auth.CodeInvalidCredentials)
	err = f.svc.DisableTOTP(f.ctx, p, adminPassword, "000000")
	wantCode(t, "disable with a wrong code", err, auth.CodeTOTPInvalid)
	wantCode(t, "disable", f.svc.DisableTOTP(f.ctx, p, adminPassword, fresh[0].Reveal()), "")
	wantCode(t, "login after disabling", login("", ""), "")
	wantCode(t, "disable again", f.svc.DisableTOTP(f.ctx, p, adminPassword, "000000"), auth.CodeTOTPNotEnabled)
	_, err = f.svc.RegenerateRecoveryCodes(f.ctx, p, adminPassword, "000000")
	wantCode(t, "regenerate while off", err, auth.CodeTOTPNotEnabled)
	if n, _ := f.store.CountRecoveryCodes(f.ctx, res.User.ID); n != 0 {
		t.Fatalf("%d recovery codes left after disabling", n)
	}
}

func mustLoginTOTP(t *testing.T, f *fixture, secret string) *auth.LoginResult {
	t.Helper()
	f.clock.Advance(30 * time.Second)
	res, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "admin", Password: adminPassword, TOTPCode: totpCode(t, secret, f.clock.Now())})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTOTPEnrollmentExpires(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.Access.Token)
	enr, err := f.svc.EnrollTOTP(f.ctx, p, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	_, err = f.svc.ConfirmTOTP(f.ctx, p, totpCode(t, enr.Secret.Reveal(), f.clock.Now()))
	wantCode(t, "confirm after 10 minutes", err, auth.CodeTOTPNotEnrolled)
}

func TestTOTPAttemptsAreLimited(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	p := f.mustAuth(res.Access.Token)
	if _, err := f.svc.EnrollTOTP(f.ctx, p, adminPassword); err != nil {
		t.Fatal(err)
	}
	for range 9 {
		_, err := f.svc.ConfirmTOTP(f.ctx, p, "000000")
		wantCode(t, "guess", err, auth.CodeTOTPInvalid)
	}
	_, err := f.svc.ConfirmTOTP(f.ctx, p, "000000")
	wantCode(t, "11th TOTP check of the minute", err, auth.CodeRateLimited)
}

func TestAdminResetDisablesTOTP(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	bob := f.user("bob")
	p := f.mustAuth(bob.Access.Token)
	enr, _ := f.svc.EnrollTOTP(f.ctx, p, userPassword)
	if _, err := f.svc.ConfirmTOTP(f.ctx, p, totpCode(t, enr.Secret.Reveal(), f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ResetPassword(f.ctx, bob.User.ID, "reset by the admin", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(f.ctx, auth.LoginRequest{Username: "bob", Password: "reset by the admin"}); err != nil {
		t.Fatalf("login after a reset with disable_totp: %v", err)
	}
	_ = res
}
