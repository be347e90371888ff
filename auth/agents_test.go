package auth_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

func TestAgents(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	owner := res.User.ID
	a, err := f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{Name: "Living room", Platform: "linux-arm64",
		Targets: []auth.Target{{Name: "desktop", MAC: "aa-bb-cc-dd-ee-01", Broadcast: "192.168.1.255"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^WL[0-9A-F]{8}$`).MatchString(a.Agent.AgentID) || a.Agent.Channel != "stable" ||
		a.Agent.Targets[0].MAC != "AA:BB:CC:DD:EE:01" || a.Agent.Targets[0].Port != 9 || a.Agent.TokenHint != a.DeviceToken.Hint() {
		t.Fatalf("created agent: %+v", a.Agent)
	}
	p := f.mustAuth(a.DeviceToken)
	if p.Kind != auth.KindDevice || p.AgentID != a.Agent.AgentID || p.UserID != owner || p.CredentialID != a.CredentialID ||
		!slices.Equal(p.CredentialIDs(), []string{a.CredentialID}) {
		t.Fatalf("device principal: %+v", p)
	}
	_, err = f.authn(a.DeviceToken, auth.KindJWT, auth.KindAccount, auth.KindSession)
	wantCode(t, "device token on a console endpoint", err, auth.CodeTokenScopeMismatch)

	_, err = f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{AgentID: "pi", Name: "Pi"})
	wantCode(t, "chosen id", err, "")
	_, err = f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{AgentID: "pi", Name: "Pi 2"})
	wantCode(t, "taken id", err, auth.CodeAgentIDTaken)
	bob := f.user("bob")
	_, err = f.svc.CreateAgent(f.ctx, bob.User.ID, auth.AgentSpec{AgentID: "pi", Name: "Bob's Pi"})
	wantCode(t, "same id, another account", err, "")

	for name, spec := range map[string]auth.AgentSpec{
		"reserved id":       {AgentID: "presence", Name: "x"},
		"bad id":            {AgentID: "-x", Name: "x"},
		"no name":           {},
		"padded name":       {Name: " x"},
		"long name":         {Name: strings.Repeat("x", 65)},
		"control char":      {Name: "a\x00b"},
		"bad platform":      {Name: "x", Platform: "Linux"},
		"bad channel":       {Name: "x", Channel: "nightly"},
		"MAC-like target":   {Name: "x", Targets: []auth.Target{{Name: "deadbeefcafe", MAC: "02:00:00:00:00:01"}}},
		"multicast target":  {Name: "x", Targets: []auth.Target{{Name: "pc", MAC: "01:00:00:00:00:01"}}},
		"duplicate targets": {Name: "x", Targets: []auth.Target{{Name: "pc", MAC: "02:00:00:00:00:01"}, {Name: "PC", MAC: "02:00:00:00:00:02"}}},
	} {
		_, err := f.svc.CreateAgent(f.ctx, owner, spec)
		wantCode(t, name, err, auth.CodeValidationFailed)
	}
	_, err = f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{AgentID: "presence", Name: "x"})
	var e *auth.Error
	if !errors.As(err, &e) || e.Fields[0].Rule != "reserved" || e.Fields[0].Field != "agent_id" {
		t.Fatalf("reserved id: %v", err)
	}

	got, err := f.svc.Agent(f.ctx, owner, "pi")
	if err != nil || got.Name != "Pi" {
		t.Fatalf("Agent: %+v %v", got, err)
	}
	_, err = f.svc.Agent(f.ctx, bob.User.ID, a.Agent.AgentID)
	wantCode(t, "another account's agent", err, auth.CodeAgentNotFound)
	_, err = f.svc.Agent(f.ctx, owner, "../etc")
	wantCode(t, "malformed id", err, auth.CodeAgentNotFound)

	name, ch := "Renamed", "beta"
	tg := []auth.Target{{Name: "nas", MAC: "02:00:00:00:00:09", Port: 7}}
	up, err := f.svc.UpdateAgent(f.ctx, owner, "pi", auth.AgentPatch{Name: &name, Channel: &ch, Targets: &tg})
	if err != nil || up.Name != name || up.Channel != ch || len(up.Targets) != 1 || up.Platform != "" {
		t.Fatalf("UpdateAgent: %+v %v", up, err)
	}
	bad := "nightly"
	_, err = f.svc.UpdateAgent(f.ctx, owner, "pi", auth.AgentPatch{Channel: &bad})
	wantCode(t, "bad channel", err, auth.CodeValidationFailed)
	_, err = f.svc.UpdateAgent(f.ctx, owner, "nope", auth.AgentPatch{Name: &name})
	wantCode(t, "unknown agent", err, auth.CodeAgentNotFound)

	f.clock.Advance(time.Minute)
	err = f.svc.RecordAgentSeen(f.ctx, owner, "pi", f.clock.Now(), auth.AgentSeen{FirmwareVersion: "1.4.0", EWSPVersions: []string{"2"}})
	wantCode(t, "RecordAgentSeen", err, "")
	got, _ = f.svc.Agent(f.ctx, owner, "pi")
	if !got.LastSeen.Equal(f.clock.Now()) || got.FirmwareVersion != "1.4.0" || !slices.Equal(got.EWSPVersions, []string{"2"}) {
		t.Fatalf("after RecordAgentSeen: %+v", got)
	}
	err = f.svc.RecordAgentSeen(f.ctx, owner, "pi", f.clock.Now(), auth.AgentSeen{FirmwareVersion: "v1"})
	wantCode(t, "bad firmware version", err, auth.CodeValidationFailed)
	err = f.svc.RecordAgentSeen(f.ctx, owner, "pi", f.clock.Now(), auth.AgentSeen{EWSPVersions: []string{"3"}})
	wantCode(t, "bad EWSP version", err, auth.CodeValidationFailed)

	list, err := f.svc.ListAgents(f.ctx, owner, "", 100)
	if err != nil || len(list) != 2 || list[0].AgentID != a.Agent.AgentID || list[1].AgentID != "pi" {
		t.Fatalf("ListAgents: %v %v", list, err)
	}
	if n, _ := f.svc.CountAgents(f.ctx, owner); n != 2 {
		t.Fatalf("CountAgents: %d", n)
	}

	ids, err := f.svc.DeleteAgent(f.ctx, owner, a.Agent.AgentID)
	if err != nil || !slices.Equal(ids, []string{a.CredentialID}) {
		t.Fatalf("DeleteAgent: %v %v", ids, err)
	}
	_, err = f.authn(a.DeviceToken)
	wantCode(t, "token of a deleted agent", err, auth.CodeInvalidToken)
	_, err = f.svc.DeleteAgent(f.ctx, owner, a.Agent.AgentID)
	wantCode(t, "delete again", err, auth.CodeAgentNotFound)
}

func TestAgentLimit(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	owner := res.User.ID
	for i := range 10 {
		if _, err := f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{Name: fmt.Sprint("a", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{Name: "eleventh"})
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeDeviceLimitReached || e.Limit != 10 {
		t.Fatalf("11th agent: %v", err)
	}
	twelve := 12
	f.svc.UpdateUser(f.ctx, owner, auth.UserUpdate{AgentsLimit: &twelve})
	if _, err := f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{Name: "eleventh"}); err != nil {
		t.Fatalf("with a per-user override: %v", err)
	}
	f.svc.UpdateUser(f.ctx, owner, auth.UserUpdate{ResetAgentsLimit: true})
	set := f.svc.Settings()
	set.AgentsPerAccount = 0
	f.svc.SetSettings(set)
	for range 5 {
		if _, err := f.svc.CreateAgent(f.ctx, owner, auth.AgentSpec{Name: "more"}); err != nil {
			t.Fatalf("unlimited setting: %v", err)
		}
	}
	// Concurrent creations never pass the limit.
	bob := f.user("bob")
	two := 2
	f.svc.UpdateUser(f.ctx, bob.User.ID, auth.UserUpdate{AgentsLimit: &two})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.svc.CreateAgent(f.ctx, bob.User.ID, auth.AgentSpec{Name: "b"})
		}()
	}
	wg.Wait()
	if n, _ := f.svc.CountAgents(f.ctx, bob.User.ID); n != 2 {
		t.Fatalf("%d agents, limit 2", n)
	}
}

func TestRotateDeviceToken(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	a, _ := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{AgentID: "pi", Name: "Pi"})
	f.mustAuth(a.DeviceToken) // cached
	rot, err := f.svc.RotateDeviceToken(f.ctx, res.User.ID, "pi", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rot.Revoked, []string{a.CredentialID}) || !rot.OldValidUntil.Equal(f.clock.Now().Add(2*time.Minute)) ||
		rot.Agent.TokenHint != rot.DeviceToken.Hint() || !rot.Agent.TokenRotatedAt.Equal(f.clock.Now()) {
		t.Fatalf("rotation: %+v", rot)
	}
	f.mustAuth(a.DeviceToken) // within the grace
	f.mustAuth(rot.DeviceToken)
	f.clock.Advance(2 * time.Minute)
	_, err = f.authn(a.DeviceToken)
	wantCode(t, "old token after the grace", err, auth.CodeTokenRevoked)
	f.mustAuth(rot.DeviceToken)
	revoked, _ := f.svc.Revalidate(f.ctx, []string{a.CredentialID, rot.CredentialID})
	if !slices.Equal(revoked, []string{a.CredentialID}) {
		t.Fatalf("Revalidate after the grace: %v", revoked)
	}
	// Without grace the old token dies at once; a rotation during a grace
	// ends it early.
	r2, _ := f.svc.RotateDeviceToken(f.ctx, res.User.ID, "pi", 10*time.Minute)
	r3, err := f.svc.RotateDeviceToken(f.ctx, res.User.ID, "pi", 0)
	if err != nil || !slices.Equal(r3.Revoked, []string{rot.CredentialID, r2.CredentialID}) {
		t.Fatalf("rotation without grace revoked %v (%v), want the token in its grace and the live one", r3.Revoked, err)
	}
	_, err = f.authn(rot.DeviceToken)
	wantCode(t, "token cut short", err, auth.CodeTokenRevoked)
	_, err = f.authn(r2.DeviceToken)
	wantCode(t, "token rotated without grace", err, auth.CodeTokenRevoked)
	_, err = f.svc.RotateDeviceToken(f.ctx, res.User.ID, "pi", 601*time.Second)
	wantCode(t, "grace > 600 s", err, auth.CodeValidationFailed)
	_, err = f.svc.RotateDeviceToken(f.ctx, res.User.ID, "nope", 0)
	wantCode(t, "unknown agent", err, auth.CodeAgentNotFound)
}

func TestClaimCodesAndBind(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	owner := res.User.ID
	c, err := f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{Name: "Garage"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`).MatchString(c.Code.Reveal()) ||
		c.Claim.CodeHint != c.Code.Reveal()[:4] || !c.Claim.ExpiresAt.Equal(f.clock.Now().Add(10*time.Minute)) ||
		!strings.HasPrefix(c.Claim.ID, "clm_") {
		t.Fatalf("claim: %+v", c.Claim)
	}
	if list, _ := f.svc.ListClaimCodes(f.ctx, owner); len(list) != 1 {
		t.Fatalf("active claims: %v", list)
	}
	req := auth.BindRequest{Code: strings.ToLower(strings.ReplaceAll(c.Code.Reveal(), "-", "")), InstallID: "install-aaaaaaaaaaaa",
		DeviceID: "garage-pi", Platform: "linux-armv7", FirmwareVersion: "1.0.0", EWSPVersions: []string{"2"}}
	b, err := f.svc.Bind(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Created || b.Agent.AgentID != "garage-pi" || b.Agent.Name != "Garage" || b.Agent.Platform != "linux-armv7" ||
		b.Agent.BoundAt.IsZero() || b.Claim.BoundAgentID != "garage-pi" || len(b.Revoked) != 0 {
		t.Fatalf("bind: %+v", b)
	}
	f.mustAuth(b.DeviceToken)
	if list, _ := f.svc.ListClaimCodes(f.ctx, owner); len(list) != 0 {
		t.Fatalf("used claim still listed: %v", list)
	}
	// The same install retries within 5 minutes: re-mint.
	f.clock.Advance(4 * time.Minute)
	retry, err := f.svc.Bind(f.ctx, req)
	if err != nil || !retry.Retry || retry.Created || !slices.Equal(retry.Revoked, []string{b.CredentialID}) {
		t.Fatalf("retry: %+v %v", retry, err)
	}
	_, err = f.authn(b.DeviceToken)
	wantCode(t, "token of the lost answer", err, auth.CodeTokenRevoked)
	f.mustAuth(retry.DeviceToken)
	other := req
	other.InstallID = "install-bbbbbbbbbbbb"
	_, err = f.svc.Bind(f.ctx, other)
	wantCode(t, "another install", err, auth.CodeClaimCodeUsed)
	f.clock.Advance(time.Minute)
	_, err = f.svc.Bind(f.ctx, req)
	wantCode(t, "retry after 5 minutes", err, auth.CodeClaimCodeUsed)

	// Expiry, malformed and unknown codes.
	short, _ := f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{TTL: time.Minute})
	f.clock.Advance(time.Minute)
	_, err = f.svc.Bind(f.ctx, auth.BindRequest{Code: short.Code.Reveal(), InstallID: "install-cccccccccccc", Platform: "esp32"})
	wantCode(t, "expired", err, auth.CodeClaimCodeExpired)
	for _, code := range []string{"ILOU-ILOU-ILOU", "ABCD-EFGH", "0000-0000-0000"} {
		_, err = f.svc.Bind(f.ctx, auth.BindRequest{Code: code, InstallID: "install-cccccccccccc", Platform: "esp32"})
		wantCode(t, "code "+code, err, auth.CodeClaimCodeInvalid)
	}
	_, err = f.svc.Bind(f.ctx, auth.BindRequest{Code: "0000-0000-0000", InstallID: "short", Platform: "esp32"})
	wantCode(t, "bad install id", err, auth.CodeValidationFailed)

	// A claim for an existing agent re-provisions it.
	re, _ := f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{AgentID: "garage-pi"})
	rb, err := f.svc.Bind(f.ctx, auth.BindRequest{Code: re.Code.Reveal(), InstallID: "install-dddddddddddd", Platform: "linux-arm64"})
	if err != nil || rb.Created || rb.Agent.AgentID != "garage-pi" || !slices.Equal(rb.Revoked, []string{retry.CredentialID}) || rb.Agent.Platform != "linux-arm64" {
		t.Fatalf("re-provision: %+v %v", rb, err)
	}
	_, err = f.authn(retry.DeviceToken)
	wantCode(t, "token before re-provisioning", err, auth.CodeTokenRevoked)

	// A device_id that is taken, reserved or absent gives a generated id.
	for _, dev := range []string{"garage-pi", "presence", ""} {
		cc, _ := f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{})
		bb, err := f.svc.Bind(f.ctx, auth.BindRequest{Code: cc.Code.Reveal(), InstallID: "install-eeeeeeeeeeee", DeviceID: dev, Hostname: "box", Platform: "esp32"})
		if err != nil || !regexp.MustCompile(`^WL[0-9A-F]{8}$`).MatchString(bb.Agent.AgentID) || bb.Agent.Name != "box" {
			t.Fatalf("device_id %q: %+v %v", dev, bb, err)
		}
	}

	// Claim-code validation and limits.
	for name, cr := range map[string]auth.ClaimRequest{
		"ttl < 60":    {TTL: 59 * time.Second},
		"ttl > 3600":  {TTL: 3601 * time.Second},
		"reserved id": {AgentID: "presence"},
		"bad channel": {Channel: "x"},
	} {
		_, err := f.svc.CreateClaimCode(f.ctx, owner, cr)
		wantCode(t, name, err, auth.CodeValidationFailed)
	}
	wantCode(t, "delete unknown", f.svc.DeleteClaimCode(f.ctx, owner, "clm_nope"), auth.CodeClaimCodeNotFound)
	var codes []*auth.IssuedClaim
	for range 10 {
		cc, err := f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, cc)
	}
	_, err = f.svc.CreateClaimCode(f.ctx, owner, auth.ClaimRequest{})
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeClaimCodeLimitReached || e.Limit != 10 {
		t.Fatalf("11th claim code: %v", err)
	}
	wantCode(t, "delete", f.svc.DeleteClaimCode(f.ctx, owner, codes[0].Claim.ID), "")
	_, err = f.svc.Bind(f.ctx, auth.BindRequest{Code: codes[0].Code.Reveal(), InstallID: "install-ffffffffffff", Platform: "esp32"})
	wantCode(t, "deleted code", err, auth.CodeClaimCodeInvalid)
}

func TestBindAtTheDeviceLimit(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	one := 1
	f.svc.UpdateUser(f.ctx, res.User.ID, auth.UserUpdate{AgentsLimit: &one})
	c, _ := f.svc.CreateClaimCode(f.ctx, res.User.ID, auth.ClaimRequest{})
	if _, err := f.svc.CreateAgent(f.ctx, res.User.ID, auth.AgentSpec{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.CreateClaimCode(f.ctx, res.User.ID, auth.ClaimRequest{})
	wantCode(t, "claim code for a new agent at the limit", err, auth.CodeDeviceLimitReached)
	req := auth.BindRequest{Code: c.Code.Reveal(), InstallID: "install-aaaaaaaaaaaa", Platform: "esp32"}
	_, err = f.svc.Bind(f.ctx, req)
	wantCode(t, "bind at the limit", err, auth.CodeDeviceLimitReached)
	// The failed bind left the code unused.
	two := 2
	f.svc.UpdateUser(f.ctx, res.User.ID, auth.UserUpdate{AgentsLimit: &two})
	if _, err := f.svc.Bind(f.ctx, req); err != nil {
		t.Fatalf("bind after raising the limit: %v", err)
	}
}

func TestBindRace(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	c, _ := f.svc.CreateClaimCode(f.ctx, res.User.ID, auth.ClaimRequest{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, used := 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Bind(f.ctx, auth.BindRequest{Code: c.Code.Reveal(), InstallID: fmt.Sprintf("install-%012d", i), Platform: "esp32"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, auth.ErrClaimCodeUsed):
				used++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || used != 49 {
		t.Fatalf("%d won, %d CLAIM_CODE_USED; want 1 and 49", won, used)
	}
}

func TestBindRateLimit(t *testing.T) {
	f := newFixture(t)
	f.setup()
	for range 10 {
		_, err := f.svc.Bind(f.ctx, auth.BindRequest{Code: "0000-0000-0000", InstallID: "install-aaaaaaaaaaaa", Platform: "esp32", RemoteIP: ip("198.51.100.7")})
		wantCode(t, "within the burst", err, auth.CodeClaimCodeInvalid)
	}
	_, err := f.svc.Bind(f.ctx, auth.BindRequest{Code: "0000-0000-0000", InstallID: "install-aaaaaaaaaaaa", Platform: "esp32", RemoteIP: ip("198.51.100.7")})
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeRateLimited || e.Scope != "bind" {
		t.Fatalf("11th bind: %v", err)
	}
}
