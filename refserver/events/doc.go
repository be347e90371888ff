// Package events is the server-sent-events hub of the reference server
// (API.md §3.6): it implements console.Events, fanning events published by
// the console layer out to the event streams of their account, with
// Last-Event-ID replay and, when given a NATS connection, across nodes.
//
// # Contract
//
// Publish follows a commit (API.md §1.9): it never blocks on a stream and
// never fails because of one. Each event gets this node's next id,
// "<epoch>-<seq>": epoch is 16 hex digits, the node's start time in Unix
// milliseconds plus 16 random bits; seq counts the events of this start.
// Ids increase per node; clients treat them as opaque. The last 1024
// events of the last 10 minutes (and at most 16 MiB) stay in a ring.
//
// Subscribe opens a stream. Its Last-Event-ID, when given, is looked up in
// the ring at the instant the stream is registered, so replayed and live
// events neither overlap nor leave a hole: an id of this start whose
// successors are all still held resumes (the successors are replayed); an
// id of this start whose successors were evicted answers reset "gap"; an
// id of another start, of another node, or malformed answers reset
// "restart". Each stream has a queue of 256 events; a stream whose queue
// is full when an event arrives is closed (Err: ErrStreamOverflow), and the
// client resumes by id. A user holds at most 10 streams on a node
// (*console.StreamLimitError), a node at most 10 000.
//
// Who receives what (API.md §3.6 event table): owner events go to the
// streams of their account and to admins' streams with scope=all; admins
// events to every admin stream; self events only to the streams of that
// user in that account. A stream's type filter applies to replay and live
// events alike.
//
// # Multi-node
//
// With Config.NATS, every event published on a node is delivered there and
// sent once on <prefix>.events (default wl.v1.events); every other hub
// delivers it under an id of its own. Core NATS does not retransmit: when
// NATS drops messages for a hub that fell behind (Config.Pending), or the
// connection reconnected, the hub notices at the next message, drops the
// messages waiting, closes every stream and empties its ring, so clients
// reconnect, get reset "gap" and refetch instead of silently missing
// events. The per-user
// stream limit and the ring are per node.
//
// # Concurrency and goroutines
//
// All methods are safe for concurrent use. A Hub without NATS starts no
// goroutine: streams end through context.AfterFunc, and ring ages are
// checked when events are published or streams open. With NATS, New starts
// one goroutine that delivers received events; Close stops it and waits.
// The *nats.Conn belongs to the caller. Heartbeats and the SSE framing are
// the REST layer's (console.AppendEventFrame, console.HeartbeatEvent).
package events
