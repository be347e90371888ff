package console_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// The main flow: a store, auth and the console over one database; the
// first admin; an agent created, listed and deleted.
func Example() {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, ":memory:", sqlstore.Config{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	clock := console.NewClock(nil) // auth and console share it (dev clock)
	authSvc, err := auth.New(db.Auth(), auth.Config{Now: clock.Now})
	if err != nil {
		panic(err)
	}
	svc, err := console.New(authSvc, db.Console(), console.Config{Clock: clock, PublicURL: "https://wl.example.org"})
	if err != nil {
		panic(err)
	}

	res, err := svc.Setup(ctx, console.SignupRequest{Username: "admin", Password: "correct horse battery"})
	if err != nil {
		panic(err)
	}
	// The REST layer authenticates each request with the endpoint's rule.
	c, err := svc.AuthenticateBearer(ctx, "Bearer "+res.AccessToken.Reveal(), console.AuthC, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		panic(err)
	}
	a, err := svc.CreateAgent(ctx, c, console.CreateAgentRequest{AgentID: "pi", Name: "Kitchen Pi"})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.AgentID, a.Online, a.Provisioning.RelayURL, a.DeviceToken != nil)
	page, err := svc.ListAgents(ctx, c, console.AgentFilter{})
	if err != nil {
		panic(err)
	}
	fmt.Println(page.Total, page.Items[0].Name)
	fmt.Println(svc.DeleteAgent(ctx, c, "pi"))
	_, err = svc.GetAgent(ctx, c, "pi")
	code := console.CodeOf(err)
	fmt.Println(code, console.HTTPStatus(code))
	// Output:
	// pi false wss://wl.example.org/wss true
	// 1 Kitchen Pi
	// <nil>
	// AGENT_NOT_FOUND 404
}

// Wiring the relay: the Service is the relay's Authenticator (with
// Revalidate and Directory) and presence observer; the relay is then given
// back to the Service for kicks and presence.
func Example_relay() {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, ":memory:", sqlstore.Config{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	authSvc, err := auth.New(db.Auth(), auth.Config{})
	if err != nil {
		panic(err)
	}
	svc, err := console.New(authSvc, db.Console(), console.Config{})
	if err != nil {
		panic(err)
	}
	rs, err := relay.New(svc, relay.Config{Node: "node-1", OnPresence: svc.ObservePresence})
	if err != nil {
		panic(err)
	}
	defer rs.Close()
	svc.SetRelay(rs)
	defer svc.FlushPresence(ctx, true) // at shutdown: deferred last_seen values

	// A relay auth frame with a garbage token is refused with a §4.2 code.
	_, err = svc.Authenticate(ctx, relay.Credentials{Token: "nope", TokenField: "api_token", ClientType: "client"})
	fmt.Println(err)
	// Output:
	// relay: authentication failed: INVALID_TOKEN: invalid token
}

// Idempotent creation: the REST layer passes the Idempotency-Key and the
// request's fingerprint; a repeated request gets the stored answer,
// without its one-time secret.
func ExampleService_CreateAgent_idempotent() {
	ctx := context.Background()
	db, _ := sqlstore.Open(ctx, ":memory:", sqlstore.Config{})
	defer db.Close()
	authSvc, _ := auth.New(db.Auth(), auth.Config{})
	svc, _ := console.New(authSvc, db.Console(), console.Config{})
	res, _ := svc.Setup(ctx, console.SignupRequest{Username: "admin", Password: "correct horse battery"})
	c, _ := svc.AuthenticateBearer(ctx, "Bearer "+res.AccessToken.Reveal(), console.AuthC, netip.Addr{})

	body := []byte(`{"agent_id":"pi","name":"Pi"}`)
	req := console.CreateAgentRequest{AgentID: "pi", Name: "Pi", Idempotency: console.Idempotency{
		Key: "3f1c9a", Fingerprint: console.RequestFingerprint("POST", "/api/v1/agents", body)}}
	first, _ := svc.CreateAgent(ctx, c, req)
	again, _ := svc.CreateAgent(ctx, c, req)
	fmt.Println(first.Replayed, first.DeviceToken != nil)
	fmt.Println(again.Replayed, again.DeviceToken != nil, again.AgentID)
	// Output:
	// false true
	// true false pi
}
