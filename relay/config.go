package relay

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Defaults of API.md §4.6 and the timing the protocol fixes. Each is the
// value a zero Config field stands for.
const (
	// DefaultAuthTimeout is the auth window: the first frame must arrive
	// within it (API.md §4.2, the public relay's 30 s).
	DefaultAuthTimeout = 30 * time.Second
	// DefaultHeartbeat is heartbeat_s: the relay pings every period and
	// closes 4009 after two silent ones (API.md §4.5), under the idle cut of
	// common proxies (60 s).
	DefaultHeartbeat = 30 * time.Second
	// DefaultMaxFrameBytes is max_frame_bytes: the largest EWSP packet fits
	// with margin, and a read buffer stays small (API.md §5 #17).
	DefaultMaxFrameBytes = 16384

	DefaultMaxClientsPerAccount = 20  // client connections per account per node
	DefaultClientRate           = 20  // relay frames/s per client connection
	DefaultClientBurst          = 40  //
	DefaultAgentRate            = 50  // relay frames/s per agent connection
	DefaultAgentBurst           = 100 //
	DefaultAccountRate          = 100 // relay frames/s of one account's clients on one node
	DefaultAccountBurst         = 200 //
	// DefaultMaxRefused refused relay frames within DefaultRefusedWindow
	// close a connection 4010 (FLOODING).
	DefaultMaxRefused    = 100
	DefaultRefusedWindow = 10 * time.Second
	// DefaultClientMaxRequests is max_requests for clients; devices are
	// unlimited.
	DefaultClientMaxRequests = 10000

	DefaultSendQueueFrames = 64        // per connection; overflow closes 4007
	DefaultSendQueueBytes  = 256 << 10 // per connection; overflow closes 4007

	// DefaultOfflineQueueTTL is offline_queue_ttl_s: long enough to ride
	// out an agent reconnect, short enough that no wake fires hours late
	// (API.md §5 #15). MaxOfflineQueueTTL is its ceiling.
	DefaultOfflineQueueTTL    = 30 * time.Second
	MaxOfflineQueueTTL        = 300 * time.Second
	DefaultOfflineQueueFrames = 16       // per agent per node
	DefaultOfflineQueueBytes  = 64 << 10 // per agent per node
	// DefaultOfflineQueueTotalBytes bounds all offline queues of a node
	// together (packet bytes), whatever the number of agents.
	DefaultOfflineQueueTotalBytes = 64 << 20

	DefaultMaxConnections = 200000 // per node, authenticated or not
	DefaultAcceptRate     = 2000   // upgrades per second per node
	// DefaultAuthFailuresPerIP failed authentications per minute from one
	// IP make further upgrades from it answer 429 (API.md §4.1).
	DefaultAuthFailuresPerIP = 20
	// DefaultIPTableSize bounds the per-IP failure table (oldest dropped).
	DefaultIPTableSize = 10000

	// DefaultDirectoryCacheSize entries of the agent directory cache
	// (API.md §4.3).
	DefaultDirectoryCacheSize = 100000

	// DefaultRevalidateInterval: live credentials are re-validated this
	// often, bounding a lost kick (API.md §1.9, §4.8).
	DefaultRevalidateInterval = 60 * time.Second

	// DefaultReadBufferSize is the per-connection read buffer: small, since
	// an idle connection keeps it (frames larger than it are read in
	// pieces). DefaultWriteBufferSize is the size of the pooled write
	// buffers, held only while a frame is being written.
	DefaultReadBufferSize  = 512
	DefaultWriteBufferSize = 4096

	// DefaultReconnectJitter bounds the after_ms hint of the reconnect frame
	// sent on Shutdown, spreading the reconnect storm.
	DefaultReconnectJitter = 5 * time.Second

	// DefaultMaxPendingKicks bounds kicks scheduled for a later time (grace
	// periods of token rotations) on one node.
	DefaultMaxPendingKicks = 100000
)

// Timing constants that are not configurable.
const (
	// replyWindow: an agent may send to a connection that wrote to it within
	// this period (API.md §4.3).
	replyWindow = 30 * time.Minute
	// maxPeersPerAgent bounds the connections an agent connection remembers
	// as having written to it; the least recent is forgotten first.
	maxPeersPerAgent = 4096
	// maxAgentsPerClient bounds the agents a client connection remembers
	// having written to (for client_gone and offline-queue cleanup).
	maxAgentsPerClient = 1024
	// maxErrorFrames error frames per errorWindow close a connection 4006
	// (API.md §4.3: more than 10 a minute).
	maxErrorFrames = 10
	errorWindow    = time.Minute
	// writeWait bounds one batch of writes to a peer: a peer that accepts
	// nothing for this long is dead or hopelessly slow, and is closed.
	writeWait = 10 * time.Second
	// closeWriteWait bounds writing a close frame; closeGrace is how long the
	// relay waits for the peer's close frame before dropping the TCP
	// connection (RFC 6455 closing handshake).
	closeWriteWait = time.Second
	closeGrace     = time.Second
	// killWriteWait bounds the write in progress when a slow consumer is
	// evicted: its queue is gone, so only the close frame is left to send.
	killWriteWait = 250 * time.Millisecond
	// authCallTimeout bounds one Authenticator call.
	authCallTimeout = 10 * time.Second
	// directoryTimeout bounds one Directory call.
	directoryTimeout = 5 * time.Second
	// revalidateTimeout bounds one Revalidate call (≤ 1000 ids).
	revalidateTimeout = 30 * time.Second
	// revalidateBatch is the most credential ids per Revalidate call
	// (API.md §3.12).
	revalidateBatch = 1000
	// snapshotLimit agents at most in the presence frame (API.md §4.3).
	snapshotLimit = 1000
	// Directory cache TTLs of API.md §4.3: a registered agent, an absent
	// one, an account's list.
	dirTTLPresent = 60 * time.Second
	dirTTLAbsent  = 5 * time.Second
	dirTTLList    = 5 * time.Second
	// Retry-After hints: an over-capacity upgrade, and a client over the
	// per-account connection cap.
	retryAfterBusy  = 1 * time.Second
	retryAfterLimit = 5 * time.Second
)

// Subprotocol is the optional WebSocket subprotocol of API.md §4.1.
const Subprotocol = "wakelink.relay.v1"

// Config configures a Server. Its zero value is a working single-node relay
// with the defaults of API.md §4.6. Durations and counts: zero means the
// default; where a field says so, a negative value disables the limit.
type Config struct {
	// Node is this node's id, 1–32 of [A-Za-z0-9_-], unique in the cluster;
	// it prefixes conn ids ("<node>:<seq>"). Empty: the host name reduced to
	// those characters (cut to 32), else "relay".
	Node string
	// Broker joins this node to others. Nil: an in-process broker, a single
	// node. The Server calls Start on it in New and Close in Close.
	Broker Broker
	// Logger receives connection-level logs; nil discards them. Tokens are
	// never logged; credentials are named by their ids.
	Logger *slog.Logger
	// Clock is the time source for every protocol timer (auth window,
	// heartbeats, TTLs, rate limits, expiry, scheduled kicks). Nil: the
	// system clock. Tests inject a manual clock (relaytest.Clock).
	Clock Clock
	// OnPresence, if set, is called on each online/offline change of an
	// agent connected to this node (and, on one surviving node, for the
	// agents of a lost node). It is called synchronously, in order per
	// agent, from the connection's goroutine: it must not block for long.
	OnPresence func(PresenceEvent)

	// AuthTimeout is the auth window (default 30 s).
	AuthTimeout time.Duration
	// Heartbeat is heartbeat_s (default 30 s): pings every period, close
	// 4009 after two without a life sign.
	Heartbeat time.Duration
	// MaxFrameBytes is max_frame_bytes (default 16 384).
	MaxFrameBytes int

	// ClientRate and ClientBurst: relay frames per second per client
	// connection (default 20, burst 40). AgentRate and AgentBurst: per
	// agent connection (50, 100). AccountRate and AccountBurst: all client
	// connections of one account on this node (100, 200). A principal's
	// Limits override them. Negative rate: unlimited.
	ClientRate   float64
	ClientBurst  int
	AgentRate    float64
	AgentBurst   int
	AccountRate  float64
	AccountBurst int
	// MaxRefused refused relay frames within RefusedWindow close the
	// connection 4010 (default 100 in 10 s).
	MaxRefused    int
	RefusedWindow time.Duration
	// MaxClientsPerAccount caps client connections per account on this
	// node (default 20; negative: no cap).
	MaxClientsPerAccount int
	// ClientMaxRequests is max_requests for clients (default 10 000;
	// negative: unlimited). Devices are unlimited.
	ClientMaxRequests int

	// SendQueueFrames and SendQueueBytes bound each connection's send queue
	// (default 64 frames, 256 KiB); overflow closes it 4007.
	SendQueueFrames int
	SendQueueBytes  int

	// OfflineQueueTTL is offline_queue_ttl_s (default 30 s, at most 300 s;
	// negative: no offline queue, offline agents are acked "offline").
	OfflineQueueTTL time.Duration
	// OfflineQueueFrames and OfflineQueueBytes bound each agent's offline
	// queue on this node (default 16 frames, 64 KiB); OfflineQueueTotalBytes
	// bounds them all (default 64 MiB).
	OfflineQueueFrames     int
	OfflineQueueBytes      int
	OfflineQueueTotalBytes int

	// MaxConnections caps connections on this node (default 200 000);
	// AcceptRate caps upgrades per second (default 2 000, negative:
	// unlimited) with AcceptBurst (default: AcceptRate). Over either, an
	// upgrade is answered 503 with Retry-After.
	MaxConnections int
	AcceptRate     float64
	AcceptBurst    int
	// AuthFailuresPerIP failed authentications per minute from one client
	// IP make further upgrades from it answer 429 (default 20; negative:
	// off). IPTableSize bounds the IPs tracked (default 10 000).
	AuthFailuresPerIP int
	IPTableSize       int
	// ClientIP extracts the client IP of an upgrade request (for the
	// failure limiter and the Authenticator). Nil: the host of RemoteAddr.
	// A server behind trusted proxies passes its own.
	ClientIP func(r *http.Request) string
	// CheckOrigin is passed to the WebSocket upgrader. Nil: gorilla's
	// default, which refuses a cross-origin Origin header and accepts
	// requests without one. Hosts that apply their own Origin guard
	// (API.md §1.5) before the relay pass a function returning true.
	CheckOrigin func(r *http.Request) bool

	// DirectoryCacheSize bounds the agent directory cache (default
	// 100 000 entries).
	DirectoryCacheSize int
	// RevalidateInterval is how often live credentials are re-validated
	// when the Authenticator implements Revalidator (default 60 s).
	RevalidateInterval time.Duration
	// MaxPendingKicks bounds kicks scheduled for later (default 100 000).
	MaxPendingKicks int
	// ReconnectJitter bounds the after_ms of the reconnect frame sent on
	// Shutdown (default 5 s).
	ReconnectJitter time.Duration

	// ReadBufferSize is each connection's read buffer (default 512);
	// WriteBufferSize the size of the pooled write buffers (default 4 096).
	ReadBufferSize  int
	WriteBufferSize int
}

// Clock is the time source of a Server. Implementations must be safe for
// concurrent use; AfterFunc runs f in its own goroutine (or, for manual
// clocks, in the goroutine that advances time).
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer made by Clock.AfterFunc; *time.Timer satisfies it.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// resolve returns cfg with every zero field set to its default, or an error
// naming the first invalid field.
func (cfg Config) resolve() (Config, error) {
	c := cfg
	if c.Node == "" {
		c.Node = defaultNode()
	}
	if !validNodeID(c.Node) {
		return c, fmt.Errorf("relay: Config.Node %q: want 1–32 of [A-Za-z0-9_-]", c.Node)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	type durField struct {
		name string
		p    *time.Duration
		def  time.Duration
	}
	for _, f := range []durField{
		{"AuthTimeout", &c.AuthTimeout, DefaultAuthTimeout},
		{"Heartbeat", &c.Heartbeat, DefaultHeartbeat},
		{"RefusedWindow", &c.RefusedWindow, DefaultRefusedWindow},
		{"RevalidateInterval", &c.RevalidateInterval, DefaultRevalidateInterval},
		{"ReconnectJitter", &c.ReconnectJitter, DefaultReconnectJitter},
	} {
		if *f.p < 0 {
			return c, fmt.Errorf("relay: Config.%s is negative", f.name)
		}
		if *f.p == 0 {
			*f.p = f.def
		}
	}
	switch {
	case c.OfflineQueueTTL == 0:
		c.OfflineQueueTTL = DefaultOfflineQueueTTL
	case c.OfflineQueueTTL > MaxOfflineQueueTTL:
		return c, fmt.Errorf("relay: Config.OfflineQueueTTL %v is over %v", c.OfflineQueueTTL, MaxOfflineQueueTTL)
	case c.OfflineQueueTTL < 0:
		c.OfflineQueueTTL = -1
	}
	type intField struct {
		name     string
		p        *int
		def      int
		negative bool // a negative value is allowed (disables the limit)
	}
	for _, f := range []intField{
		{"MaxFrameBytes", &c.MaxFrameBytes, DefaultMaxFrameBytes, false},
		{"ClientBurst", &c.ClientBurst, DefaultClientBurst, false},
		{"AgentBurst", &c.AgentBurst, DefaultAgentBurst, false},
		{"AccountBurst", &c.AccountBurst, DefaultAccountBurst, false},
		{"MaxRefused", &c.MaxRefused, DefaultMaxRefused, false},
		{"MaxClientsPerAccount", &c.MaxClientsPerAccount, DefaultMaxClientsPerAccount, true},
		{"ClientMaxRequests", &c.ClientMaxRequests, DefaultClientMaxRequests, true},
		{"SendQueueFrames", &c.SendQueueFrames, DefaultSendQueueFrames, false},
		{"SendQueueBytes", &c.SendQueueBytes, DefaultSendQueueBytes, false},
		{"OfflineQueueFrames", &c.OfflineQueueFrames, DefaultOfflineQueueFrames, false},
		{"OfflineQueueBytes", &c.OfflineQueueBytes, DefaultOfflineQueueBytes, false},
		{"OfflineQueueTotalBytes", &c.OfflineQueueTotalBytes, DefaultOfflineQueueTotalBytes, false},
		{"MaxConnections", &c.MaxConnections, DefaultMaxConnections, false},
		{"AuthFailuresPerIP", &c.AuthFailuresPerIP, DefaultAuthFailuresPerIP, true},
		{"IPTableSize", &c.IPTableSize, DefaultIPTableSize, false},
		{"DirectoryCacheSize", &c.DirectoryCacheSize, DefaultDirectoryCacheSize, false},
		{"MaxPendingKicks", &c.MaxPendingKicks, DefaultMaxPendingKicks, false},
		{"ReadBufferSize", &c.ReadBufferSize, DefaultReadBufferSize, false},
		{"WriteBufferSize", &c.WriteBufferSize, DefaultWriteBufferSize, false},
	} {
		if *f.p < 0 && !f.negative {
			return c, fmt.Errorf("relay: Config.%s is negative", f.name)
		}
		if *f.p == 0 {
			*f.p = f.def
		}
	}
	if c.MaxFrameBytes < 256 {
		return c, fmt.Errorf("relay: Config.MaxFrameBytes %d is under 256", c.MaxFrameBytes)
	}
	if c.SendQueueBytes < c.MaxFrameBytes {
		return c, fmt.Errorf("relay: Config.SendQueueBytes %d is under MaxFrameBytes", c.SendQueueBytes)
	}
	type rateField struct {
		name string
		p    *float64
		def  float64
	}
	for _, f := range []rateField{
		{"ClientRate", &c.ClientRate, DefaultClientRate},
		{"AgentRate", &c.AgentRate, DefaultAgentRate},
		{"AccountRate", &c.AccountRate, DefaultAccountRate},
		{"AcceptRate", &c.AcceptRate, DefaultAcceptRate},
	} {
		if *f.p == 0 {
			*f.p = f.def
		}
	}
	if c.AcceptBurst < 0 {
		return c, fmt.Errorf("relay: Config.AcceptBurst is negative")
	}
	if c.AcceptBurst == 0 {
		c.AcceptBurst = max(1, int(c.AcceptRate))
	}
	return c, nil
}

// defaultNode is the host name reduced to [A-Za-z0-9_-] and cut to 32, or
// "relay".
func defaultNode() string {
	h, err := os.Hostname()
	if err != nil {
		return "relay"
	}
	var b strings.Builder
	for i := 0; i < len(h) && b.Len() < 32; i++ {
		if c := h[i]; isAlnum(c) || c == '_' || c == '-' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "relay"
	}
	return b.String()
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
