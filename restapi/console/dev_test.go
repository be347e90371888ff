package console_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestDevLayer(t *testing.T) {
	off := newEnv(t, sqliteOnly(t), func(c *console.Config) { c.DevAPI = false })
	wantCode(t, "DevReset without -dev-api", off.svc.DevReset(off.ctx), console.CodeNotFound)
	_, err := off.svc.DevSeed(off.ctx, console.DevSeedRequest{Users: 1, Password: "x"})
	wantCode(t, "DevSeed without -dev-api", err, console.CodeNotFound)
	_, err = off.svc.DevClock(off.ctx, console.DevClockRequest{OffsetS: 10})
	wantCode(t, "DevClock without -dev-api", err, console.CodeNotFound)

	e := newEnv(t, sqliteOnly(t))
	// Seed works before setup and ends "setup required".
	res := must(e.svc.DevSeed(e.ctx, console.DevSeedRequest{Users: 3, AgentsPerUser: 2, Password: "pw"})).of(t)
	if len(res.Users) != 3 || len(res.Users[2].Agents) != 2 || res.Users[0].APIToken == nil {
		t.Fatalf("seed: %+v", res)
	}
	ok(t, e.svc.CheckSetup(e.ctx))
	su := res.Users[1]
	c := e.caller(su.APIToken.Reveal(), console.AuthC)
	if page := must(e.svc.ListAgents(e.ctx, c, console.AgentFilter{})).of(t); page.Total != 2 || page.Items[0].AgentID != "agent-00000" {
		t.Fatalf("seeded agents: %+v", page)
	}
	e.caller(su.Agents[1].DeviceToken.Reveal(), console.AuthD)
	lr := must(e.svc.Login(e.ctx, console.LoginRequest{Username: su.Username, Password: "pw"})).of(t)
	if lr.User.ID != su.UserID || lr.User.AgentsLimit != 0 {
		t.Fatalf("seeded login: %+v", lr.User)
	}
	for _, bad := range []console.DevSeedRequest{{Users: 0, Password: "x"}, {Users: 1001, Password: "x"},
		{Users: 1, AgentsPerUser: 10001, Password: "x"}, {Users: 1000, AgentsPerUser: 101, Password: "x"}, {Users: 1}} {
		_, err := e.svc.DevSeed(e.ctx, bad)
		wantCode(t, "bad seed", err, auth.CodeValidationFailed)
	}

	// The clock offset moves auth's expiry.
	jwt := lr.AccessToken.Reveal()
	r := must(e.svc.DevClock(e.ctx, console.DevClockRequest{OffsetS: 3600})).of(t)
	if r.OffsetS != 3600 || r.Now.Sub(e.clk.Now()) != time.Hour {
		t.Fatalf("DevClock: %+v", r)
	}
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+jwt, console.AuthC, testIP)
	wantCode(t, "JWT an hour later", err, auth.CodeTokenExpired)
	_, err = e.svc.DevClock(e.ctx, console.DevClockRequest{OffsetS: 315360001})
	wantCode(t, "offset beyond 10 years", err, auth.CodeValidationFailed)
	must(e.svc.DevClock(e.ctx, console.DevClockRequest{})).of(t)

	// Reset: back to first start, every relay connection closed.
	e.relay.take()
	ok(t, e.svc.DevReset(e.ctx))
	wantCode(t, "after reset", e.svc.CheckSetup(e.ctx), auth.CodeSetupRequired)
	if k := e.relay.take(); len(k) != 1 || !k[0].Target.All || k[0].Code != relay.CloseServiceRestart {
		t.Fatalf("reset kicks: %+v", k)
	}
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+su.APIToken.Reveal(), console.AuthC, testIP)
	wantCode(t, "a token after reset", err, auth.CodeSetupRequired)
	e.setup()
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+su.APIToken.Reveal(), console.AuthC, testIP)
	wantCode(t, "a wiped token", err, auth.CodeInvalidToken)
	_, err = e.svc.AuthenticateBearer(e.ctx, "Bearer "+jwt, console.AuthC, testIP)
	if c := console.CodeOf(err); c != auth.CodeInvalidToken {
		t.Fatalf("a JWT of before the reset: %v", err)
	}
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatal("errors.Is")
	}
}
