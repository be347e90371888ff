package console_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestClaimAndBind(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	cl := must(e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{Name: "Garage", TTLS: 120})).of(t)
	if cl.Code == nil || len(cl.Code.Reveal()) != 14 || cl.CodeHint != cl.Code.Reveal()[:4] || cl.AgentID != nil ||
		cl.Command.Reveal() != "firmware provision --server https://wl.example.org --claim "+cl.Code.Reveal() ||
		!cl.ExpiresAt.Equal(cl.CreatedAt.Add(2*time.Minute)) {
		t.Fatalf("claim: %+v", cl)
	}
	if l := must(e.svc.ListClaimCodes(e.ctx, u.caller)).of(t); len(l.Items) != 1 || l.Items[0].ClaimID != cl.ClaimID {
		t.Fatalf("list: %+v", l)
	}
	e.events.take()
	bind := console.BindRequest{Code: cl.Code.Reveal(), InstallID: "install-aaaaaaaaaaaa", DeviceID: "garage-pi",
		Platform: "linux-armv7", FirmwareVersion: "0.9.0", EWSPVersions: []string{"2"}, RemoteIP: testIP}
	prov := must(e.svc.Bind(e.ctx, bind)).of(t)
	if prov.AgentID != "garage-pi" || prov.Name != "Garage" || prov.DeviceToken == nil || prov.Channel != "stable" ||
		prov.RelayURL != "wss://wl.example.org/wss" || prov.OTA.PublicKeys == nil {
		t.Fatalf("bind: %+v", prov)
	}
	if got := types(e.events.take()); !slices.Equal(got, []string{"claim.used", "agent.created"}) {
		t.Fatalf("events: %v", got)
	}
	a := must(e.svc.GetAgent(e.ctx, u.caller, "garage-pi")).of(t)
	if a.BoundAt == nil || *a.FirmwareVersion != "0.9.0" || *a.Platform != "linux-armv7" {
		t.Fatalf("bound agent: %+v", a)
	}
	// The same install within 5 minutes: re-minted, the first token revoked.
	prov2 := must(e.svc.Bind(e.ctx, bind)).of(t)
	if prov2.AgentID != "garage-pi" || prov2.DeviceToken.Reveal() == prov.DeviceToken.Reveal() {
		t.Fatalf("retry: %+v", prov2)
	}
	_, err := e.svc.AuthenticateBearer(e.ctx, "Bearer "+prov.DeviceToken.Reveal(), console.AuthD, testIP)
	wantCode(t, "the first token after a retry", err, auth.CodeTokenRevoked)
	if got := types(e.events.take()); !slices.Equal(got, []string{"agent.token_rotated", "claim.used", "agent.updated"}) {
		t.Fatalf("retry events: %v", got)
	}
	other := bind
	other.InstallID = "install-bbbbbbbbbbbb"
	_, err = e.svc.Bind(e.ctx, other)
	wantCode(t, "another install", err, auth.CodeClaimCodeUsed)
	other.Code = "0000-0000-0000"
	_, err = e.svc.Bind(e.ctx, other)
	wantCode(t, "unknown code", err, auth.CodeClaimCodeInvalid)
	c2 := must(e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{})).of(t)
	e.clk.Advance(11 * time.Minute)
	other.Code = c2.Code.Reveal()
	_, err = e.svc.Bind(e.ctx, other)
	wantCode(t, "expired code", err, auth.CodeClaimCodeExpired)
	c3 := must(e.svc.CreateClaimCode(e.ctx, e.adminJWTFor(u), console.CreateClaimCodeRequest{})).of(t)
	ok(t, e.svc.DeleteClaimCode(e.ctx, u.caller, c3.ClaimID))
	wantCode(t, "deleted twice", e.svc.DeleteClaimCode(e.ctx, u.caller, c3.ClaimID), auth.CodeClaimCodeNotFound)
	_, err = e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{TTLS: 30})
	wantCode(t, "ttl 30", err, auth.CodeValidationFailed)

	got := e.auditActions(admin)
	want := []string{"claim.created", "claim.used", "agent.created", "claim.used", "agent.token_rotated", "claim.created", "auth.login", "claim.created"}
	if !slices.Equal(got[len(got)-len(want):], want) {
		t.Fatalf("audit: %v", got)
	}
	page := must(e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{Action: "claim.used", Limit: 1})).of(t)
	if page.Items[0].ActorKind != console.ActorSystem || *page.Items[0].Target != cl.ClaimID || *page.Items[0].RemoteIP != testIP.String() {
		t.Fatalf("claim.used row: %+v", page.Items[0])
	}
}

// adminJWTFor refreshes a user's caller (its JWT may have expired with the
// clock).
func (e *env) adminJWTFor(a *account) console.Caller {
	e.t.Helper()
	res := must(e.svc.Login(e.ctx, console.LoginRequest{Username: a.username, Password: a.password})).of(e.t)
	a.caller = e.caller(res.AccessToken.Reveal(), console.AuthC)
	return a.caller
}
