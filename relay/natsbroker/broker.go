package natsbroker

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakelink-go/wakelink/relay"
)

// Defaults of Config.
const (
	// DefaultPrefix is the subject prefix (DESIGN.md scale plan).
	DefaultPrefix = "wl.v1"
	// DefaultHeartbeat: each node announces itself this often on
	// <prefix>.nodes.
	DefaultHeartbeat = time.Second
	// DefaultNodeTimeout: a node silent this long is lost, and its agents
	// go offline with reason node_lost (API.md §4.9: within 5 s).
	DefaultNodeTimeout = 3 * time.Second
	// DefaultPending bounds the messages received from NATS and not yet
	// handled; beyond it NATS drops them (slow consumer, logged).
	DefaultPending = 65536
)

// syncBatchBytes bounds one NATS message of a presence snapshot.
const syncBatchBytes = 64 << 10

// Config configures a Broker. The zero value uses the defaults.
type Config struct {
	// Prefix of every subject (default "wl.v1"); nodes of one cluster use
	// the same.
	Prefix string
	// Heartbeat and NodeTimeout: liveness announcements and the silence
	// after which a node is lost (defaults 1 s and 3 s).
	Heartbeat   time.Duration
	NodeTimeout time.Duration
	// Pending bounds received messages waiting to be handled (default
	// 65 536).
	Pending int
	// Logger; nil discards.
	Logger *slog.Logger
}

// Broker is a relay.Broker over core NATS. Create one per relay node with
// New and pass it in relay.Config.Broker; the relay Starts and Closes it.
// The *nats.Conn belongs to the caller, who closes it after the relay.
type Broker struct {
	nc  *nats.Conn
	cfg Config
	log *slog.Logger

	node  string
	epoch string // this incarnation, announced in heartbeats
	h     relay.BrokerHandler
	ch    chan *nats.Msg
	// Subjects fixed at Start.
	nodesSubj, syncSubj string
	bufs                sync.Pool // *[]byte for encoding messages

	mu      sync.Mutex
	started bool
	closed  bool
	fixed   []*nats.Subscription
	agents  map[string]*nats.Subscription // agent subject → subscription
	peers   map[string]*peer              // node → liveness
	stop    chan struct{}
	wg      sync.WaitGroup
}

type peer struct {
	epoch string
	last  time.Time
}

var _ relay.Broker = (*Broker)(nil)

// ErrClosed is returned by a closed Broker.
var ErrClosed = errors.New("natsbroker: closed")

// New returns a Broker on nc.
func New(nc *nats.Conn, cfg Config) (*Broker, error) {
	if nc == nil {
		return nil, errors.New("natsbroker: nil *nats.Conn")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(cfg.Prefix, " \t\r\n*>") || strings.HasPrefix(cfg.Prefix, ".") || strings.HasSuffix(cfg.Prefix, ".") {
		return nil, fmt.Errorf("natsbroker: Config.Prefix %q is not a subject prefix", cfg.Prefix)
	}
	if cfg.Heartbeat < 0 || cfg.NodeTimeout < 0 || cfg.Pending < 0 {
		return nil, errors.New("natsbroker: negative Config value")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if cfg.NodeTimeout <= cfg.Heartbeat {
		return nil, errors.New("natsbroker: Config.NodeTimeout must exceed Heartbeat")
	}
	if cfg.Pending == 0 {
		cfg.Pending = DefaultPending
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broker{
		nc:     nc,
		cfg:    cfg,
		log:    log,
		agents: make(map[string]*nats.Subscription),
		peers:  make(map[string]*peer),
		stop:   make(chan struct{}),
	}, nil
}

// Subjects (DESIGN.md scale plan). H(x) is the lowercase hex of x.

func (b *Broker) agentSubject(account, agentID string) string {
	return b.cfg.Prefix + ".agent." + hex.EncodeToString([]byte(account)) + "." + hex.EncodeToString([]byte(agentID))
}

// connSubject maps conn id "<node>:<seq>" to <prefix>.conn.<node>.<seq>.
func (b *Broker) connSubject(conn string) (string, bool) {
	node, ok := relay.ConnNode(conn)
	if !ok {
		return "", false
	}
	return b.cfg.Prefix + ".conn." + node + "." + conn[len(node)+1:], true
}

// syncSubject is where a node receives presence snapshots: a token of its
// conn wildcard that no conn id can take.
func (b *Broker) syncSubject(node string) string { return b.cfg.Prefix + ".conn." + node + ".sync" }

func (b *Broker) subject(kind string) string { return b.cfg.Prefix + "." + kind }

// Start implements relay.Broker: it subscribes the node's conn wildcard,
// presence, kicks and heartbeats, and starts the goroutines that handle
// them and announce the node.
func (b *Broker) Start(ctx context.Context, node string, h relay.BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return errors.New("natsbroker: already started")
	}
	b.node, b.h = node, h
	b.nodesSubj, b.syncSubj = b.subject("nodes"), b.syncSubject(node)
	b.epoch = strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatUint(rand.Uint64()%1e6, 36)
	b.ch = make(chan *nats.Msg, b.cfg.Pending)
	for _, subj := range []string{
		b.cfg.Prefix + ".conn." + node + ".*",
		b.subject("presence"),
		b.subject("kick"),
		b.subject("nodes"),
	} {
		sub, err := b.nc.ChanSubscribe(subj, b.ch)
		if err != nil {
			for _, s := range b.fixed {
				s.Unsubscribe()
			}
			b.fixed = nil
			return fmt.Errorf("natsbroker: subscribe %s: %w", subj, err)
		}
		b.fixed = append(b.fixed, sub)
	}
	b.started = true
	b.wg.Add(2)
	go b.dispatch()
	go b.announce()
	return nil
}

// Publish implements relay.Broker.
func (b *Broker) Publish(ctx context.Context, m *relay.Message) error {
	var subj string
	switch m.Destination() {
	case relay.ToAgent:
		subj = b.agentSubject(m.Account, m.AgentID)
	case relay.ToConn:
		s, ok := b.connSubject(m.Conn)
		if !ok {
			return fmt.Errorf("natsbroker: bad conn id %q", m.Conn)
		}
		subj = s
	default:
		if m.Kind == relay.MsgKick {
			subj = b.subject("kick")
		} else {
			subj = b.subject("presence")
		}
	}
	bp, _ := b.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	data, err := m.AppendBinary((*bp)[:0])
	if err == nil {
		err = b.nc.Publish(subj, data) // copies data into the connection's buffer
	}
	*bp = data
	if cap(data) <= 64<<10 {
		b.bufs.Put(bp)
	}
	return err
}

// SubscribeAgent implements relay.Broker.
func (b *Broker) SubscribeAgent(ctx context.Context, account, agentID string) error {
	subj := b.agentSubject(account, agentID)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.agents[subj] != nil {
		return nil
	}
	sub, err := b.nc.ChanSubscribe(subj, b.ch)
	if err != nil {
		return err
	}
	b.agents[subj] = sub
	return nil
}

// UnsubscribeAgent implements relay.Broker.
func (b *Broker) UnsubscribeAgent(ctx context.Context, account, agentID string) error {
	subj := b.agentSubject(account, agentID)
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.agents[subj]
	if sub == nil {
		return nil
	}
	delete(b.agents, subj)
	return sub.Unsubscribe()
}

// Close implements relay.Broker: it unsubscribes and stops the goroutines.
// The NATS connection stays open.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	started := b.started
	for _, s := range b.fixed {
		s.Unsubscribe()
	}
	for subj, s := range b.agents {
		s.Unsubscribe()
		delete(b.agents, subj)
	}
	b.mu.Unlock()
	if started {
		close(b.stop)
		b.wg.Wait()
	}
	return nil
}

// announce publishes a heartbeat every Heartbeat.
func (b *Broker) announce() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	beat := []byte(b.node + " " + b.epoch)
	for {
		b.nc.Publish(b.nodesSubj, beat) // errors: peers will notice the silence
		select {
		case <-t.C:
		case <-b.stop:
			return
		}
	}
}

// dispatch handles received messages and checks peer liveness, in one
// goroutine, so the relay sees everything in the order NATS delivered it.
func (b *Broker) dispatch() {
	defer b.wg.Done()
	check := time.NewTicker(b.cfg.Heartbeat / 2)
	defer check.Stop()
	var m relay.Message
	for {
		select {
		case msg := <-b.ch:
			b.handle(msg, &m)
		case <-check.C:
			b.checkPeers(time.Now())
		case <-b.stop:
			return
		}
	}
}

func (b *Broker) handle(msg *nats.Msg, m *relay.Message) {
	subj := msg.Subject
	switch {
	case subj == b.nodesSubj:
		b.heartbeat(string(msg.Data), time.Now())
	case subj == b.syncSubj:
		b.applySync(msg.Data)
	default:
		if err := m.UnmarshalBinary(msg.Data); err != nil {
			b.log.Warn("dropping malformed message", "subject", subj)
			return
		}
		if m.Node == b.node {
			return
		}
		if m.Kind == relay.MsgPresence || m.Kind == relay.MsgFrame {
			// A node heard from is alive, whatever its heartbeats say.
			b.touch(m.Node, time.Now())
		}
		b.h.HandleMessage(m)
	}
}

func (b *Broker) touch(node string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.peers[node]; p != nil {
		p.last = now
	}
}

// heartbeat records a peer's announcement; a new peer (or a new
// incarnation of a known one) gets this node's presence snapshot.
func (b *Broker) heartbeat(data string, now time.Time) {
	node, epoch, ok := strings.Cut(data, " ")
	if !ok || node == "" || node == b.node {
		return
	}
	b.mu.Lock()
	p := b.peers[node]
	restarted := p != nil && p.epoch != epoch
	fresh := p == nil || restarted
	if fresh {
		if len(b.peers) >= maxPeers && p == nil {
			b.mu.Unlock()
			return
		}
		p = &peer{epoch: epoch}
		b.peers[node] = p
	}
	p.last = now
	report := restarted && b.reporterLocked()
	b.mu.Unlock()
	if restarted {
		b.h.NodeLost(node, report)
	}
	if fresh {
		b.pushSnapshot(node)
	}
}

// maxPeers bounds the nodes tracked.
const maxPeers = 4096

// checkPeers declares silent peers lost.
func (b *Broker) checkPeers(now time.Time) {
	var lost []string
	b.mu.Lock()
	for node, p := range b.peers {
		if now.Sub(p.last) > b.cfg.NodeTimeout {
			lost = append(lost, node)
			delete(b.peers, node)
		}
	}
	// A node cut off from NATS sees every peer fall silent: it takes their
	// agents offline for its own clients but reports nothing, since it is
	// the one that is lost.
	report := b.reporterLocked() && b.nc.IsConnected()
	b.mu.Unlock()
	for _, node := range lost {
		b.log.Info("node lost", "lost_node", node)
		b.h.NodeLost(node, report)
	}
}

// reporterLocked: the live node with the smallest id reports lost agents
// to its presence observer, so each loss is reported once.
func (b *Broker) reporterLocked() bool {
	for node := range b.peers {
		if node < b.node {
			return false
		}
	}
	return true
}

// pushSnapshot sends this node's presence to a node that just appeared,
// in batches of length-prefixed messages.
func (b *Broker) pushSnapshot(node string) {
	subj := b.syncSubject(node)
	var batch []byte
	for _, m := range b.h.Snapshot() {
		enc, err := m.MarshalBinary()
		if err != nil {
			continue
		}
		if len(batch) > 0 && len(batch)+len(enc) > syncBatchBytes {
			b.nc.Publish(subj, batch)
			batch = nil
		}
		batch = binary.AppendUvarint(batch, uint64(len(enc)))
		batch = append(batch, enc...)
	}
	if len(batch) > 0 {
		b.nc.Publish(subj, batch)
	}
}

// applySync hands a snapshot batch to the relay.
func (b *Broker) applySync(data []byte) {
	var m relay.Message
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return
		}
		if err := m.UnmarshalBinary(data[k : k+int(n)]); err == nil && m.Kind == relay.MsgPresence && m.Node != b.node {
			b.h.HandleMessage(&m)
		}
		data = data[k+int(n):]
	}
}
