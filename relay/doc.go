// Package relay is WakeLink's blind relay: an http.Handler for /wss that
// authenticates clients and agents and forwards their end-to-end encrypted
// EWSP packets between them, on one node or on many joined by a Broker.
// It implements the relay wire protocol of API.md §4.
//
// # Contract
//
// The relay is blind. It reads only the envelope of a frame — type,
// agent_id, conn, mid and the length of packet — and never parses, decrypts
// or alters packet, a JSON string it forwards as the same JSON token, so
// the receiver decodes exactly the bytes the sender encoded. It holds no
// key and imports nothing of EWSP. It decides who may talk to whom: a
// client reaches only the agents of its own account, an agent only the
// connections that wrote to it in the last 30 minutes. Tokens are handed
// to the Authenticator and never logged; logs, kicks and broker messages
// name credentials by their ids.
//
// Every queue, table and frame is bounded: frames by Config.MaxFrameBytes,
// send queues by SendQueueFrames/SendQueueBytes (a slow consumer is closed
// 4007), offline queues per agent and per node, the directory cache, the
// per-IP failure table, the peers an agent remembers. Input from peers
// never panics the relay.
//
// # Protocol flow
//
// A peer sends GET /wss with a WebSocket upgrade (a plain GET gets 426, an
// overloaded node 503 with Retry-After, an IP with too many failed
// authentications 429). After the upgrade the relay waits AuthTimeout
// (30 s) for the first frame, which must be auth: its token goes to the
// Authenticator, which returns a Principal (account, client or agent,
// agent id, credential ids, expiry, limits). The relay answers
// auth_response, with the connection's id "<node>:<seq>", or a failed
// auth_response and close 1008 (binary: 1003, oversize: 1009, at once).
//
// A client then gets a presence frame: its account's registered agents
// (from the optional Directory) and which are connected, followed by a
// device_status frame on every change. A client sends relay frames
// {agent_id, mid, packet}; the relay forwards {conn, mid, packet} to the
// agent and acks the client delivered — or queued (agent registered but
// offline: held up to 30 s, flushed in order when it connects, then a
// second ack delivered or expired), offline, queue_full, unknown_agent,
// rate_limited or quota_exceeded. An agent answers with {conn, mid?,
// packet}; the client receives {agent_id, mid?, packet}. When a client
// leaves, the agents it wrote to get client_gone.
//
// Keepalive: the relay pings every Heartbeat (30 s) and closes 4009 after
// two periods without a frame or pong; an application ping gets a pong. A
// second connection of the same agent, on any node, wins: the older one is
// closed 4003. Kick closes connections by account, agent, credential ids
// or kind with the codes of API.md §4.7, on every node within a second;
// with a Revalidator, live credentials are re-checked every minute.
// Shutdown sends reconnect hints and closes 1001.
//
// # Multi-node
//
// With a Broker (relay/natsbroker), nodes share presence (which node holds
// which agent), forward frames in at most one hop (the node holding the
// destination produces the delivered ack), broadcast kicks, and take the
// agents of a node that goes silent offline with reason node_lost. Limits
// and offline queues are per node.
//
// # Concurrency and goroutines
//
// All exported methods are safe for concurrent use. Each connection has
// one reader goroutine, started by ServeHTTP, which owns the connection:
// it reads and handles frames and, when the connection ends, unregisters
// it. A writer goroutine runs only while frames are queued for the peer:
// it starts when a frame is queued on a connection without one and exits
// once the queue is drained, so an idle connection holds one goroutine, a
// small read buffer (Config.ReadBufferSize) and no write buffer. The
// writer encodes the queued frames itself and coalesces them into one
// write per 32 KiB from a pooled buffer, so a burst costs few system
// calls; gorilla/websocket writes only control frames (ping, close).
// Keepalive, the auth window, session expiry, offline-queue TTLs and
// scheduled kicks run on Clock timers that only signal. Close stops every
// goroutine the Server started and waits for them; Authenticator,
// Directory and OnPresence calls come from connection goroutines, broker
// callbacks from the broker's goroutine.
package relay
