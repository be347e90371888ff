// Package natsbroker is a relay.Broker over core NATS, joining several
// relay nodes into one cluster (API.md §4.9, DESIGN.md scale plan).
//
// Subjects, under a prefix (default "wl.v1"); H(x) is the lowercase hex of
// the bytes of x, so ids holding "." or other metacharacters are safe:
//
//	wl.v1.agent.H(account).H(agent_id)  frames for an agent; subscribed by the node holding it
//	wl.v1.conn.<node>.<seq>             frames and acks for connection "<node>:<seq>"; one wildcard per node
//	wl.v1.conn.<node>.sync              presence snapshots pushed to a node that just appeared
//	wl.v1.presence                      agent online/offline, with node and connection
//	wl.v1.kick                          kick targets (credentials by id, never tokens)
//	wl.v1.nodes                         heartbeats "<node> <incarnation>" every second
//
// A frame crosses one hop: the sender's node publishes it on the agent's
// (or connection's) subject and the node holding the destination delivers
// it and publishes the ack. A node silent for NodeTimeout (3 s) is lost:
// every other node takes its agents offline with reason node_lost, and the
// live node with the smallest id reports them to its presence observer. A
// node seen for the first time, or with a new incarnation, is sent every
// other node's presence snapshot.
//
// Messages are relay.Message in its binary form. One goroutine per Broker
// handles everything received, in NATS delivery order (per publisher and
// subject, NATS keeps order); another publishes heartbeats. Agent
// subscriptions are channel subscriptions into that one goroutine, so a
// node holding many agents holds no goroutine per agent. Received
// messages wait in a bounded channel (Config.Pending); NATS drops beyond
// it. Close stops both goroutines; the *nats.Conn belongs to the caller.
package natsbroker
