package relaytest_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClock(t *testing.T) {
	c := relaytest.NewClock(time.Time{})
	start := c.Now()
	var got []string
	c.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	c.AfterFunc(time.Second, func() {
		got = append(got, "a")
		if c.Now() != start.Add(time.Second) {
			t.Errorf("Now in callback = %v", c.Now())
		}
		c.AfterFunc(500*time.Millisecond, func() { got = append(got, "a2") }) // armed by a callback
	})
	stopped := c.AfterFunc(time.Second, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop results")
	}
	reset := c.AfterFunc(time.Hour, func() { got = append(got, "reset") })
	reset.Reset(3 * time.Second)
	if c.Timers() != 3 {
		t.Fatalf("timers = %d", c.Timers())
	}
	c.Advance(2 * time.Second)
	if want := []string{"a", "a2", "b"}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	c.Advance(time.Second)
	if got[len(got)-1] != "reset" || c.Now() != start.Add(3*time.Second) {
		t.Fatalf("after reset: %v at %v", got, c.Now())
	}
	if !c.WaitTimers(0, time.Millisecond) || c.WaitTimers(1, 10*time.Millisecond) {
		t.Fatal("WaitTimers")
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	a := relaytest.NewAuth()
	clk := relaytest.NewClock(time.Time{})
	a.SetClock(clk)
	wl, wlID := a.AddClient("acct")
	wls, sesID := a.AddSession("acct", time.Hour)
	wld, wldID := a.AddAgent("acct", "pi")
	for tok, re := range map[string]string{wl: `^wl_[0-9a-f]{64}$`, wls: `^wls_[0-9a-f]{64}$`, wld: `^wld_[0-9a-f]{64}$`,
		wlID: `^tok_`, sesID: `^ses_`, wldID: `^tok_`} {
		if !regexp.MustCompile(re).MatchString(tok) {
			t.Errorf("%q does not match %s", tok, re)
		}
	}
	client := func(tok, field string) (*relay.Principal, error) {
		return a.Authenticate(ctx, relay.Credentials{Token: relay.Secret(tok), TokenField: field, ClientType: "client"})
	}
	p, err := client(wl, "api_token")
	if err != nil || p.Kind != relay.KindClient || len(p.CredentialIDs) != 2 || p.CredentialIDs[0] != wlID ||
		p.SessionToken == "" || p.ExpiresAt != clk.Now().Add(relaytest.SessionTTL) {
		t.Fatalf("wl_: %+v %v", p, err)
	}
	minted := string(p.SessionToken)
	if p2, err := client(minted, "session_token"); err != nil || p2.CredentialIDs[0] != wlID {
		t.Fatalf("minted wls_: %+v %v", p2, err)
	}
	if _, err := client(wls, "session_token"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cred relay.Credentials
		want error
	}{
		{relay.Credentials{Token: relay.Secret(wld), TokenField: "api_token", ClientType: "client"}, relay.ErrTokenScopeMismatch},
		{relay.Credentials{Token: relay.Secret(wl), TokenField: "api_token", ClientType: "device", AgentID: "pi"}, relay.ErrTokenScopeMismatch},
		{relay.Credentials{Token: relay.Secret(wls), TokenField: "api_token", ClientType: "client"}, relay.ErrTokenScopeMismatch},
		{relay.Credentials{Token: relay.Secret(wld), TokenField: "api_token", ClientType: "device", AgentID: "nas"}, relay.ErrAgentMismatch},
		{relay.Credentials{Token: "wl_" + relay.Secret(wl[3:10]), TokenField: "api_token", ClientType: "client"}, relay.ErrInvalidToken},
	} {
		if _, err := a.Authenticate(ctx, tc.cred); !errors.Is(err, tc.want) {
			t.Errorf("%s as %s: %v, want %v", tc.cred.Token, tc.cred.ClientType, err, tc.want)
		}
	}
	clk.Advance(time.Hour)
	if _, err := client(wls, "session_token"); !errors.Is(err, relay.ErrTokenExpired) {
		t.Fatalf("expired wls_: %v", err)
	}
	a.Revoke(wlID) // also the sessions minted from it
	if _, err := client(minted, "session_token"); !errors.Is(err, relay.ErrTokenRevoked) {
		t.Fatalf("minted wls_ after revoking its wl_: %v", err)
	}
	revoked, _ := a.Revalidate(ctx, []string{wlID, wldID, "tok_unknown"})
	if !slices.Equal(revoked, []string{wlID, "tok_unknown"}) {
		t.Fatalf("Revalidate = %v", revoked)
	}
	a.RegisterAgent("acct", "offline")
	list, _ := a.Agents(ctx, "acct", 10)
	if len(list) != 2 || list[0].AgentID != "offline" || list[1].AgentID != "pi" {
		t.Fatalf("Agents = %+v", list)
	}
	if _, ok, _ := a.LookupAgent(ctx, "other", "pi"); ok {
		t.Fatal("another account's agent found")
	}
	a.Disable("acct", true)
	if _, err := a.Authenticate(ctx, relay.Credentials{Token: relay.Secret(wld), TokenField: "api_token", ClientType: "device", AgentID: "pi"}); !errors.Is(err, relay.ErrAccountDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if s := a.String(); regexp.MustCompile(`wl[sd]?_`).MatchString(s) {
		t.Fatalf("String leaks tokens: %s", s)
	}
}

func TestServerKill(t *testing.T) {
	auth := relaytest.NewAuth()
	srv := relaytest.NewServer(t, auth, relay.Config{Node: "k"})
	tok, _ := auth.AddAgent("a", "pi")
	ag := srv.Agent(t, tok, "pi")
	srv.Kill()
	if code, _, err := ag.Closed(relaytest.DefaultTimeout); err != nil || code != 1006 {
		t.Fatalf("after Kill: %d %v", code, err)
	}
	if _, err := relaytest.Dial(context.Background(), srv.URL); err == nil {
		t.Fatal("dial after Kill succeeded")
	}
}
