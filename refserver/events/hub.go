package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// Defaults of Config (API.md §3.6, §1.8).
const (
	// DefaultNode names the node in metrics and logs when Config.Node is
	// empty.
	DefaultNode = "local"
	// DefaultPrefix is the NATS subject prefix; events travel on
	// <prefix>.events (DESIGN.md scale plan: wl.v1.events).
	DefaultPrefix = "wl.v1"
	// DefaultRingSize and DefaultRingAge bound the replay ring: 1024
	// events, 10 minutes.
	DefaultRingSize = 1024
	DefaultRingAge  = 10 * time.Minute
	// DefaultRingBytes bounds the ring's memory: ~16 KiB per event of the
	// default ring, far above a typical payload (an Agent is < 8 KiB), so
	// the count bound applies first in practice.
	DefaultRingBytes = 16 << 20
	// DefaultQueueSize bounds a stream's queue; a stream whose queue is
	// full when an event arrives is closed (API.md §3.6: 256).
	DefaultQueueSize = 256
	// DefaultMaxStreamsPerUser is the per-user limit of concurrent streams
	// on a node (API.md §1.8: 10).
	DefaultMaxStreamsPerUser = 10
	// DefaultMaxSubscribers bounds the streams of a node: 10 000 streams
	// of 256 queued events stay within a few hundred MiB even when full.
	DefaultMaxSubscribers = 10000
	// DefaultPending bounds the events received from NATS and not yet
	// delivered; beyond it NATS drops them and the hub closes its streams
	// (see Config.Pending).
	DefaultPending = 4096
)

// minRingBytes keeps room for at least one event of the largest size.
const minRingBytes = console.MaxEventDataBytes + 4<<10

// Config configures a Hub. The zero value is a single in-process node
// with the defaults above.
type Config struct {
	// Node is this node's id (1–32 of [A-Za-z0-9_-]; default "local"),
	// the node label of the metrics.
	Node string
	// NATS, when set, joins the hubs of every node: events published here
	// go to the others on <Prefix>.events and theirs come here. The
	// connection belongs to the caller, who closes it after the Hub.
	NATS *nats.Conn
	// Prefix of the NATS subject (default "wl.v1"); all nodes use the same.
	Prefix string
	// RingSize, RingAge and RingBytes bound the replay ring (defaults
	// 1024 events, 10 min, 16 MiB; RingBytes at least 68 KiB).
	RingSize  int
	RingAge   time.Duration
	RingBytes int
	// QueueSize is each stream's queue (default 256).
	QueueSize int
	// MaxStreamsPerUser limits a user's concurrent streams on this node
	// (default 10).
	MaxStreamsPerUser int
	// MaxSubscribers limits the streams of this node (default 10 000).
	MaxSubscribers int
	// Pending bounds events received from NATS awaiting delivery (default
	// 4096). When NATS drops some (or reconnects, losing what was sent
	// meanwhile), the hub cannot tell which streams missed events: it
	// closes every stream and empties its ring, so clients reconnect,
	// get reset gap and refetch.
	Pending int
	// Now is the clock (nil: time.Now): event times, ring ages, ids' epoch.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Hub is the server-sent-events hub of one node: it implements
// console.Events. Create it with New; all methods are safe for concurrent
// use.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	epoch string // this start: the first part of every id

	mu       sync.Mutex
	closed   bool
	ring     ring
	accounts map[string]map[*subscription]struct{} // account-scope streams by account
	all      map[*subscription]struct{}            // scope=all streams
	admins   map[*subscription]struct{}            // streams of admins, any scope
	perUser  map[string]int                        // open streams by user
	nsubs    int

	stats stats
	peer  *peer // nil without NATS
}

var _ console.Events = (*Hub)(nil)

// New returns a Hub. With Config.NATS it subscribes to <Prefix>.events
// and starts one goroutine delivering what other nodes publish; Close
// stops it.
func New(cfg Config) (*Hub, error) {
	if cfg.Node == "" {
		cfg.Node = DefaultNode
	}
	if !validNode(cfg.Node) {
		return nil, fmt.Errorf("events: Config.Node %q: want 1–32 of [A-Za-z0-9_-]", cfg.Node)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("events: Config.Prefix %q is not a subject prefix", cfg.Prefix)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"RingSize", &cfg.RingSize, DefaultRingSize},
		{"RingBytes", &cfg.RingBytes, DefaultRingBytes},
		{"QueueSize", &cfg.QueueSize, DefaultQueueSize},
		{"MaxStreamsPerUser", &cfg.MaxStreamsPerUser, DefaultMaxStreamsPerUser},
		{"MaxSubscribers", &cfg.MaxSubscribers, DefaultMaxSubscribers},
		{"Pending", &cfg.Pending, DefaultPending},
	} {
		if *f.v < 0 {
			return nil, fmt.Errorf("events: Config.%s is negative", f.name)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if cfg.RingBytes < minRingBytes {
		return nil, fmt.Errorf("events: Config.RingBytes %d is below %d (one event of the largest size)", cfg.RingBytes, minRingBytes)
	}
	if cfg.RingAge < 0 {
		return nil, errors.New("events: Config.RingAge is negative")
	}
	if cfg.RingAge == 0 {
		cfg.RingAge = DefaultRingAge
	}
	h := &Hub{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		ring:     newRing(cfg.RingSize, cfg.RingBytes, cfg.RingAge),
		accounts: make(map[string]map[*subscription]struct{}),
		all:      make(map[*subscription]struct{}),
		admins:   make(map[*subscription]struct{}),
		perUser:  make(map[string]int),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "events", "node", cfg.Node)
	if h.now == nil {
		h.now = time.Now
	}
	h.epoch = newEpoch(h.now(), uint16(rand.Uint32()))
	if cfg.NATS != nil {
		p, err := startPeer(h, cfg.NATS, cfg.Prefix+".events", cfg.Pending)
		if err != nil {
			return nil, err
		}
		h.peer = p
	}
	return h, nil
}

// Close ends every stream (Err: console.ErrEventsUnavailable), stops the
// NATS goroutine and waits for it. Later Publish and Subscribe calls fail
// with console.ErrEventsUnavailable. It is idempotent; the NATS connection
// stays open.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.endAllLocked(console.ErrEventsUnavailable)
	h.ring.clear()
	h.mu.Unlock()
	if h.peer != nil {
		h.peer.close()
	}
	return nil
}

// Publish implements console.Events: it assigns the event this node's next
// id, keeps it in the ring, queues it on every matching stream (closing
// those whose queue is full) and, with NATS, sends it to the other nodes.
// It never blocks on a stream and ignores ctx's cancellation: it follows a
// commit (API.md §1.9). An error from the NATS leg comes after local
// delivery.
func (h *Hub) Publish(ctx context.Context, ev console.Event) error {
	ev, err := h.prepare(ev)
	if err != nil {
		h.stats.invalid.Add(1)
		return err
	}
	if !h.deliver(ev, false) {
		return console.ErrEventsUnavailable
	}
	if h.peer == nil {
		return nil
	}
	if err := h.peer.publish(ev); err != nil {
		h.stats.brokerErrors.Add(1)
		h.log.Warn("events: publishing to other nodes failed", "type", ev.Type, "err", err)
		return fmt.Errorf("events: publish to other nodes: %w", err)
	}
	return nil
}

// prepare validates ev and normalises it: audience from its type, time,
// data compacted into a fresh buffer (so the caller may reuse its own).
func (h *Hub) prepare(ev console.Event) (console.Event, error) {
	if !console.ValidEventType(ev.Type) || console.IsStreamEvent(ev.Type) {
		return ev, fmt.Errorf("%w: type %q", console.ErrInvalidEvent, trunc(ev.Type))
	}
	known, listed := console.AudienceOf(ev.Type)
	switch {
	case ev.Audience == "" && !listed:
		return ev, fmt.Errorf("%w: %s needs an audience", console.ErrInvalidEvent, ev.Type)
	case ev.Audience == "":
		ev.Audience = known
	case !ev.Audience.Valid():
		return ev, fmt.Errorf("%w: %s: audience %q", console.ErrInvalidEvent, ev.Type, trunc(string(ev.Audience)))
	case listed && ev.Audience != known:
		return ev, fmt.Errorf("%w: %s goes to %s, not %s", console.ErrInvalidEvent, ev.Type, known, ev.Audience)
	}
	if !validPrincipal(ev.Account, ev.Audience != console.AudienceAdmins) ||
		!validPrincipal(ev.User, ev.Audience == console.AudienceSelf) {
		return ev, fmt.Errorf("%w: %s: account or user missing or malformed", console.ErrInvalidEvent, ev.Type)
	}
	if ev.Audience == console.AudienceAdmins {
		ev.Account, ev.User = "", ""
	} else if ev.Audience == console.AudienceOwner {
		ev.User = ""
	}
	data, err := compactObject(ev.Data)
	if err != nil {
		return ev, fmt.Errorf("%w: %s: data: %v", console.ErrInvalidEvent, ev.Type, err)
	}
	ev.Data = data
	ev.ID = ""
	if ev.Time.IsZero() {
		ev.Time = h.now()
	}
	ev.Time = ev.Time.UTC()
	return ev, nil
}

var emptyObject = json.RawMessage("{}")

// compactObject returns data, which must be a JSON object in valid UTF-8,
// compacted into a new buffer of at most console.MaxEventDataBytes.
func compactObject(data json.RawMessage) (json.RawMessage, error) {
	if len(data) == 0 {
		return emptyObject, nil
	}
	if len(data) > 4*console.MaxEventDataBytes { // bound the work on input
		return nil, errors.New("too large")
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, errors.New("not JSON")
	}
	out := buf.Bytes()
	switch {
	case len(out) == 0 || out[0] != '{':
		return nil, errors.New("not an object")
	case len(out) > console.MaxEventDataBytes:
		return nil, errors.New("too large")
	case !utf8.Valid(out):
		return nil, errors.New("invalid UTF-8")
	}
	return out, nil
}

// deliver assigns ev its id, rings it and queues it on the matching
// streams. False when the hub is closed.
func (h *Hub) deliver(ev console.Event, remote bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	now := h.now()
	ev.ID = formatID(h.epoch, h.ring.next)
	e := &ev // shared by the ring and every stream, never modified
	h.ring.expire(now)
	h.ring.push(e, now)
	if remote {
		h.stats.received.Add(1)
	} else {
		h.stats.published.Add(1)
	}
	switch ev.Audience {
	case console.AudienceOwner, console.AudienceSelf:
		for s := range h.accounts[ev.Account] {
			h.sendLocked(s, e)
		}
		for s := range h.all {
			h.sendLocked(s, e)
		}
	case console.AudienceAdmins:
		for s := range h.admins {
			h.sendLocked(s, e)
		}
	}
	return true
}

// sendLocked queues ev on s if s wants it; a full queue closes s.
func (h *Hub) sendLocked(s *subscription, ev *console.Event) {
	if !s.wants(ev) {
		return
	}
	select {
	case s.ch <- ev:
		h.stats.delivered.Add(1)
	default:
		h.stats.overflows.Add(1)
		h.log.Info("events: stream queue full, closing it", "user", s.user, "queue", cap(s.ch))
		h.endLocked(s, console.ErrStreamOverflow)
	}
}

func validNode(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validPrefix(p string) bool {
	if strings.ContainsAny(p, " \t\r\n*>") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") ||
		strings.Contains(p, "..") || !utf8.ValidString(p) {
		return false
	}
	return true
}

// validPrincipal checks an account or user id: bounded, valid UTF-8 and,
// when required, present.
func validPrincipal(s string, required bool) bool {
	if s == "" {
		return !required
	}
	return len(s) <= console.MaxEventPrincipalLen && utf8.ValidString(s)
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
