package relay

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a frame was dropped (or refused), the "reason" label of
// wakelink_relay_drops_total.
const (
	dropRateLimited = iota
	dropQueueFull
	dropExpired
	dropOffline
	dropUnknownAgent
	dropUnknownConn
	dropSlowConsumer
	dropQuota
	dropInvalid
	dropTooBig
	dropBinary
	numDrops
)

var dropNames = [numDrops]string{
	"rate_limited", "queue_full", "expired", "offline", "unknown_agent", "unknown_conn",
	"slow_consumer", "quota_exceeded", "invalid", "too_big", "binary",
}

// Reasons an upgrade was refused before it happened.
const (
	rejectIP = iota
	rejectDraining
	rejectCapacity
	rejectAcceptRate
	rejectHandshake
	numRejects
)

var rejectNames = [numRejects]string{"ip_auth_failures", "draining", "capacity", "accept_rate", "handshake"}

var authCodes = []string{
	CodeAuthTimeout, CodeAuthRequired, CodeInvalidMessage, CodeInvalidToken, CodeTokenExpired,
	CodeTokenRevoked, CodeTokenScopeMismatch, CodeAgentMismatch, CodeAccountDisabled,
	CodeConnectionLimit, CodeRateLimited, CodeServiceUnavailable, "other",
}

var closeCodes = []int{
	CloseNormal, CloseGoingAway, CloseUnsupportedData, ClosePolicyViolation, CloseMessageTooBig,
	CloseInternalError, CloseServiceRestart, CloseTokenRevoked, CloseTokenExpired, CloseAgentReplaced,
	CloseAgentDeleted, CloseAccountDisabled, CloseProtocolError, CloseSlowConsumer, CloseQuotaExceeded,
	CloseHeartbeat, CloseFlooding, 0, // 0: any other code
}

// stats are a Server's counters: atomics, no locks, nothing global.
type stats struct {
	accepted           atomic.Uint64
	rejected           [numRejects]atomic.Uint64
	clients, agents    atomic.Int64
	framesIn           atomic.Uint64
	framesOut          atomic.Uint64
	bytesIn            atomic.Uint64
	bytesOut           atomic.Uint64
	drops              [numDrops]atomic.Uint64
	queued             atomic.Int64 // frames in send queues
	offlineQueued      atomic.Int64
	authFailures       [13]atomic.Uint64 // indexed like authCodes
	closes             [18]atomic.Uint64 // indexed like closeCodes
	brokerErrors       atomic.Uint64
	dirFailures        atomic.Uint64
	revalidateFailures atomic.Uint64
	kicked             atomic.Uint64
}

func (st *stats) authFailure(code string) {
	for i, c := range authCodes {
		if c == code || i == len(authCodes)-1 {
			st.authFailures[i].Add(1)
			return
		}
	}
}

func (st *stats) closeCode(code int) {
	for i, c := range closeCodes {
		if c == code || i == len(closeCodes)-1 {
			st.closes[i].Add(1)
			return
		}
	}
}

func (st *stats) authOK(k Kind) {
	if k == KindAgent {
		st.agents.Add(1)
	} else {
		st.clients.Add(1)
	}
}

func (st *stats) authGone(k Kind) {
	if k == KindAgent {
		st.agents.Add(-1)
	} else {
		st.clients.Add(-1)
	}
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	// Connections on this node: all, and the authenticated clients and
	// agents among them.
	Connections, Clients, Agents int64
	// Accepted upgrades; Rejected upgrade attempts by reason
	// (ip_auth_failures, draining, capacity, accept_rate, handshake).
	Accepted uint64
	Rejected map[string]uint64
	// Frames and bytes read from and written to peers.
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// Drops by reason: rate_limited, queue_full, expired, offline,
	// unknown_agent, unknown_conn, slow_consumer, quota_exceeded,
	// invalid, too_big, binary.
	Drops map[string]uint64
	// SendQueueFrames are frames in send queues (or being written);
	// OfflineQueueFrames frames held for offline agents.
	SendQueueFrames    int64
	OfflineQueueFrames int64
	// AuthFailures by auth code; Closes by close name (relay-initiated).
	AuthFailures map[string]uint64
	Closes       map[string]uint64
	// BrokerErrors, DirectoryFailures, RevalidateFailures count failed
	// calls; Kicked the connections closed by kicks.
	BrokerErrors, DirectoryFailures, RevalidateFailures, Kicked uint64
}

// Stats returns a snapshot of the node's counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Connections:        s.nconns.Load(),
		Clients:            st.clients.Load(),
		Agents:             st.agents.Load(),
		Accepted:           st.accepted.Load(),
		Rejected:           make(map[string]uint64),
		FramesIn:           st.framesIn.Load(),
		FramesOut:          st.framesOut.Load(),
		BytesIn:            st.bytesIn.Load(),
		BytesOut:           st.bytesOut.Load(),
		Drops:              make(map[string]uint64),
		SendQueueFrames:    st.queued.Load(),
		OfflineQueueFrames: st.offlineQueued.Load(),
		AuthFailures:       make(map[string]uint64),
		Closes:             make(map[string]uint64),
		BrokerErrors:       st.brokerErrors.Load(),
		DirectoryFailures:  st.dirFailures.Load(),
		RevalidateFailures: st.revalidateFailures.Load(),
		Kicked:             st.kicked.Load(),
	}
	for i, n := range rejectNames {
		out.Rejected[n] = st.rejected[i].Load()
	}
	for i, n := range dropNames {
		out.Drops[n] = st.drops[i].Load()
	}
	for i, c := range authCodes {
		out.AuthFailures[c] = st.authFailures[i].Load()
	}
	for i, c := range closeCodes {
		name := "other"
		if c != 0 {
			name = CloseName(c)
		}
		out.Closes[name] = st.closes[i].Load()
	}
	return out
}

// Collector returns a Prometheus collector of this Server's metrics, all
// labelled node=<id>. Register it where the program wants (never done
// here); two Servers in one process share nothing.
func (s *Server) Collector() prometheus.Collector { return (*collector)(s) }

type collector Server

func desc(name, help string, node string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("wakelink_relay_"+name, help, labels, prometheus.Labels{"node": node})
}

func (c *collector) descs() []*prometheus.Desc {
	n := c.node
	return []*prometheus.Desc{
		desc("connections", "Connections on this node by state.", n, "kind"),
		desc("accepted_total", "Accepted WebSocket upgrades.", n),
		desc("rejected_total", "Upgrades refused before the handshake, by reason.", n, "reason"),
		desc("frames_total", "Frames read from (in) and written to (out) peers.", n, "direction"),
		desc("bytes_total", "Frame bytes read from (in) and written to (out) peers.", n, "direction"),
		desc("drops_total", "Frames dropped or refused, by reason.", n, "reason"),
		desc("send_queue_frames", "Frames waiting in connection send queues.", n),
		desc("offline_queue_frames", "Frames held for offline agents.", n),
		desc("auth_failures_total", "Failed authentications by code.", n, "code"),
		desc("closes_total", "Connections closed by the relay, by close code.", n, "code"),
		desc("broker_errors_total", "Failed broker calls.", n),
		desc("directory_failures_total", "Failed agent directory calls.", n),
		desc("revalidate_failures_total", "Failed credential revalidation calls.", n),
		desc("kicked_total", "Connections closed by kicks.", n),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	st := s.Stats()
	d := c.descs()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge(d[0], float64(st.Clients), "client")
	gauge(d[0], float64(st.Agents), "agent")
	gauge(d[0], float64(max(st.Connections-st.Clients-st.Agents, 0)), "unauthenticated")
	counter(d[1], st.Accepted)
	for _, n := range rejectNames {
		counter(d[2], st.Rejected[n], n)
	}
	counter(d[3], st.FramesIn, "in")
	counter(d[3], st.FramesOut, "out")
	counter(d[4], st.BytesIn, "in")
	counter(d[4], st.BytesOut, "out")
	for _, n := range dropNames {
		counter(d[5], st.Drops[n], n)
	}
	gauge(d[6], float64(st.SendQueueFrames))
	gauge(d[7], float64(st.OfflineQueueFrames))
	for _, code := range authCodes {
		counter(d[8], st.AuthFailures[code], code)
	}
	for i, code := range closeCodes {
		label := "other"
		if code != 0 {
			label = strconv.Itoa(code)
		}
		counter(d[9], s.stats.closes[i].Load(), label)
	}
	counter(d[10], st.BrokerErrors)
	counter(d[11], st.DirectoryFailures)
	counter(d[12], st.RevalidateFailures)
	counter(d[13], st.Kicked)
}
