// Package relaytest helps test code that talks to a WakeLink relay: it
// starts a relay.Server on 127.0.0.1 (Start, NewServer), provides an
// in-memory Authenticator with revalidation and an agent directory (Auth:
// accounts, clients, agents that may be offline, revocation), WebSocket
// peers that send and receive relay frames with timeouts (Dial, Peer), and
// a manual clock (Clock) for the relay's timers.
//
// It imports only package relay of this module. Tokens it mints are random
// and follow API.md §1.4's formats. Helpers taking a testing.TB fail the
// test on error and register their cleanup; the others return errors.
// Peers run one reader goroutine each, stopped by Close (or the test's
// cleanup); Server.Close stops the relay and the HTTP server.
package relaytest
