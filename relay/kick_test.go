package relay_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/relay"
)

func TestKick(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, relay.Config{})
	pi, _ := f.agent("a", "pi")
	piB, _ := f.agent("b", "pi")
	tokA, idA := f.auth.AddClient("a")
	clA := f.srv.Client(t, tokA)
	clA.Expect(t, "presence")
	tokA2, _ := f.auth.AddClient("a")
	clA2 := f.srv.Client(t, tokA2)
	clA2.Expect(t, "presence")
	clB := f.client("b")

	// Revoking one credential closes the connections holding it, within
	// 1 s, and nothing else.
	f.auth.Revoke(idA)
	start := time.Now()
	if err := f.srv.Relay.Kick(ctx, relay.Target{Account: "a", CredentialIDs: []string{idA}}, relay.CloseTokenRevoked, time.Time{}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, clA, 4001, "TOKEN_REVOKED")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("kick took %v", d)
	}
	for _, p := range []*peerT{clA2, clB, pi, piB} {
		expectNothing(t, p)
	}

	// An agent by id: only that account's.
	f.auth.RemoveAgent("a", "pi")
	f.srv.Relay.Kick(ctx, relay.Target{Account: "a", AgentID: "pi"}, relay.CloseAgentDeleted, time.Time{})
	expectClose(t, pi, 4004, "AGENT_DELETED")
	expectNothing(t, piB)
	clA2.Expect(t, "device_status")
	clA2.Relay("pi", "1", "x")
	expectAck(t, clA2, "1", "unknown_agent")

	// By kind: all clients of the account.
	f.srv.Relay.Kick(ctx, relay.Target{Account: "b", Kind: relay.KindClient}, relay.CloseTokenRevoked, time.Time{})
	expectClose(t, clB, 4001, "")
	expectNothing(t, piB)

	// The whole account.
	f.srv.Relay.Kick(ctx, relay.Target{Account: "b"}, relay.CloseAccountDisabled, time.Time{})
	expectClose(t, piB, 4005, "ACCOUNT_DISABLED")
	expectNothing(t, clA2)

	// Everything.
	f.srv.Relay.Kick(ctx, relay.Target{All: true}, relay.CloseServiceRestart, time.Time{})
	expectClose(t, clA2, 1012, "SERVICE_RESTART")
	waitFor(t, "all gone", func() bool { return f.srv.Relay.Stats().Connections == 0 })
	if k := f.srv.Relay.Stats().Kicked; k != 5 {
		t.Fatalf("kicked = %d, want 5", k)
	}
	for _, ev := range f.obs.list() {
		if !ev.Online && ev.Reason != "kicked" {
			t.Fatalf("offline event %+v, want reason kicked", ev)
		}
	}
}

func TestKickScheduled(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, relay.Config{})
	pi, _ := f.agent("a", "pi")
	grace := 2 * time.Minute
	if err := f.srv.Relay.Kick(ctx, relay.Target{Account: "a", AgentID: "pi"}, relay.CloseTokenRevoked, f.clock.Now().Add(grace)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(grace - time.Second)
	expectNothing(t, pi)
	f.clock.Advance(time.Second)
	expectClose(t, pi, 4001, "TOKEN_REVOKED")
}

func TestKickErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, relay.Config{MaxPendingKicks: 1})
	for _, tc := range []struct {
		t    relay.Target
		code int
		want error
	}{
		{relay.Target{}, 4001, relay.ErrInvalidTarget},
		{relay.Target{AgentID: "pi"}, 4001, relay.ErrInvalidTarget},
		{relay.Target{Account: "a", Kind: "robot"}, 4001, relay.ErrInvalidTarget},
		{relay.Target{Account: "a"}, 1006, relay.ErrInvalidCode},
		{relay.Target{Account: "a"}, 999, relay.ErrInvalidCode},
		{relay.Target{Account: "a"}, 5000, relay.ErrInvalidCode},
	} {
		if err := f.srv.Relay.Kick(ctx, tc.t, tc.code, time.Time{}); !errors.Is(err, tc.want) {
			t.Errorf("Kick(%+v, %d): %v, want %v", tc.t, tc.code, err, tc.want)
		}
	}
	later := f.clock.Now().Add(time.Hour)
	if err := f.srv.Relay.Kick(ctx, relay.Target{Account: "a"}, 4001, later); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Relay.Kick(ctx, relay.Target{Account: "a"}, 4001, later); !errors.Is(err, relay.ErrTooManyKicks) {
		t.Fatalf("second scheduled kick: %v", err)
	}
}

// A revoked credential whose kick was lost is caught by revalidation.
func TestRevalidate(t *testing.T) {
	f := newFixture(t, relay.Config{})
	pi, piID := f.agent("a", "pi")
	tok, id := f.auth.AddClient("a")
	cl := f.srv.Client(t, tok)
	cl.Expect(t, "presence")
	keep := f.client("a")
	f.auth.Revoke(id)
	f.auth.Revoke(piID)
	f.clock.Advance(relay.DefaultRevalidateInterval - time.Second)
	expectNothing(t, cl)
	f.clock.Advance(time.Second)
	expectClose(t, cl, 4001, "TOKEN_REVOKED")
	expectClose(t, pi, 4001, "TOKEN_REVOKED")
	keep.Expect(t, "device_status")
	expectNothing(t, keep)
	_, _, n := f.auth.Calls()
	if n != 1 {
		t.Fatalf("revalidations = %d", n)
	}
	// It repeats.
	waitFor(t, "the next revalidation to be armed", func() bool { return f.clock.Timers() >= f.base })
	f.clock.Advance(relay.DefaultRevalidateInterval)
	waitFor(t, "second revalidation", func() bool { _, _, n := f.auth.Calls(); return n == 2 })
}
