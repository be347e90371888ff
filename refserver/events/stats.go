package events

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// stats are a Hub's counters: atomics, nothing global.
type stats struct {
	published     atomic.Uint64 // published on this node
	received      atomic.Uint64 // received from other nodes
	delivered     atomic.Uint64 // queued on streams
	overflows     atomic.Uint64 // streams closed because their queue was full
	limited       atomic.Uint64 // subscriptions refused: per-user limit
	atCapacity    atomic.Uint64 // subscriptions refused: MaxSubscribers
	invalid       atomic.Uint64 // Publish calls refused as invalid
	brokerErrors  atomic.Uint64 // failed publishes to NATS
	remoteInvalid atomic.Uint64 // malformed messages from NATS
	remoteDropped atomic.Uint64 // messages NATS dropped before the hub read them
	lossResets    atomic.Uint64 // times every stream was closed after a NATS loss
	resets        [2]atomic.Uint64
}

var resetNames = [2]console.ResetReason{console.ResetGap, console.ResetRestart}

func resetIndex(r console.ResetReason) int {
	if r == console.ResetGap {
		return 0
	}
	return 1
}

// Stats is a snapshot of a Hub's counters.
type Stats struct {
	// Subscribers are the open streams; RingEvents the events held for
	// replay.
	Subscribers, RingEvents int
	// Published on this node; Received from other nodes over NATS;
	// Delivered: event copies queued on streams.
	Published, Received, Delivered uint64
	// OverflowCloses: streams closed because their queue was full.
	OverflowCloses uint64
	// LimitRejects and CapacityRejects: subscriptions refused by the
	// per-user limit and by MaxSubscribers.
	LimitRejects, CapacityRejects uint64
	// Resets by reason (gap, restart) sent to resuming streams.
	Resets map[console.ResetReason]uint64
	// InvalidPublishes: events Publish refused. BrokerErrors: events that
	// could not be sent to NATS (delivered locally only).
	InvalidPublishes, BrokerErrors uint64
	// RemoteInvalid: malformed messages received; RemoteDropped: messages
	// NATS dropped because the hub fell behind; LossResets: times every
	// stream was closed after such a loss or a NATS reconnect.
	RemoteInvalid, RemoteDropped, LossResets uint64
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	subs, ring := h.nsubs, h.ring.len()
	h.mu.Unlock()
	st := &h.stats
	out := Stats{
		Subscribers:      subs,
		RingEvents:       ring,
		Published:        st.published.Load(),
		Received:         st.received.Load(),
		Delivered:        st.delivered.Load(),
		OverflowCloses:   st.overflows.Load(),
		LimitRejects:     st.limited.Load(),
		CapacityRejects:  st.atCapacity.Load(),
		Resets:           make(map[console.ResetReason]uint64, len(resetNames)),
		InvalidPublishes: st.invalid.Load(),
		BrokerErrors:     st.brokerErrors.Load(),
		RemoteInvalid:    st.remoteInvalid.Load(),
		RemoteDropped:    st.remoteDropped.Load(),
		LossResets:       st.lossResets.Load(),
	}
	for i, r := range resetNames {
		out.Resets[r] = st.resets[i].Load()
	}
	return out
}

// Collector returns a Prometheus collector of this hub's metrics
// (wakelink_events_*), labelled node=<Config.Node>. Register it where the
// program wants (never done here); two hubs in one process share nothing.
func (h *Hub) Collector() prometheus.Collector { return (*collector)(h) }

type collector Hub

type metric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(s *Stats) float64
}

func (c *collector) metrics() []metric {
	node := prometheus.Labels{"node": c.cfg.Node}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wakelink_events_"+name, help, labels, node)
	}
	return []metric{
		{d("subscribers", "Open event streams on this node."), prometheus.GaugeValue,
			func(s *Stats) float64 { return float64(s.Subscribers) }},
		{d("ring_events", "Events held for Last-Event-ID replay."), prometheus.GaugeValue,
			func(s *Stats) float64 { return float64(s.RingEvents) }},
		{d("published_total", "Events published on this node."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.Published) }},
		{d("received_total", "Events received from other nodes."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.Received) }},
		{d("delivered_total", "Event copies queued on streams."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.Delivered) }},
		{d("overflow_closes_total", "Streams closed because their queue was full."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.OverflowCloses) }},
		{d("invalid_publishes_total", "Events Publish refused as invalid."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.InvalidPublishes) }},
		{d("broker_errors_total", "Events that could not be sent to other nodes."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.BrokerErrors) }},
		{d("remote_invalid_total", "Malformed messages received from other nodes."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.RemoteInvalid) }},
		{d("remote_dropped_total", "Messages from other nodes dropped because the hub fell behind."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.RemoteDropped) }},
		{d("loss_resets_total", "Times every stream was closed after events from other nodes were lost."), prometheus.CounterValue,
			func(s *Stats) float64 { return float64(s.LossResets) }},
	}
}

func (c *collector) labelled() (rejects, resets *prometheus.Desc) {
	node := prometheus.Labels{"node": c.cfg.Node}
	rejects = prometheus.NewDesc("wakelink_events_rejected_total",
		"Subscriptions refused, by reason (stream_limit, capacity).", []string{"reason"}, node)
	resets = prometheus.NewDesc("wakelink_events_resets_total",
		"Reset events sent to resuming streams, by reason (gap, restart).", []string{"reason"}, node)
	return rejects, resets
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics() {
		ch <- m.desc
	}
	rejects, resets := c.labelled()
	ch <- rejects
	ch <- resets
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Hub)(c).Stats()
	for _, m := range c.metrics() {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(&s))
	}
	rejects, resets := c.labelled()
	ch <- prometheus.MustNewConstMetric(rejects, prometheus.CounterValue, float64(s.LimitRejects), "stream_limit")
	ch <- prometheus.MustNewConstMetric(rejects, prometheus.CounterValue, float64(s.CapacityRejects), "capacity")
	for _, r := range resetNames {
		ch <- prometheus.MustNewConstMetric(resets, prometheus.CounterValue, float64(s.Resets[r]), string(r))
	}
}
