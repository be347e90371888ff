package relay

import (
	"context"
	"encoding/binary"
	"time"
)

// Broker joins the relay nodes of one cluster (API.md §4.9, DESIGN.md scale
// plan). The relay decides what to send where; the broker only moves
// Messages: to the node holding an agent (MsgFrame, MsgClientGone), to the
// node holding a connection (MsgReply, MsgAck, MsgBounce: the node is the
// prefix of the conn id, see ConnNode), or to every other node (MsgPresence,
// MsgKick). It also watches node liveness and reports a silent node through
// BrokerHandler.NodeLost. A frame crosses at most one broker hop.
//
// Implementations must be safe for concurrent use, keep the order of the
// messages one node publishes to one destination, and never deliver a
// node's own messages back to it. The default (Config.Broker nil) is an
// in-process broker for a single node; relay/natsbroker is one over NATS.
type Broker interface {
	// Start attaches the node to the cluster; h receives the messages
	// addressed to it until Close returns. The Server calls it once, from
	// New.
	Start(ctx context.Context, node string, h BrokerHandler) error
	// Publish sends m to its destination (m.Destination). It must not
	// block for long: it is called from connection goroutines. The broker
	// may keep m only until Publish returns.
	Publish(ctx context.Context, m *Message) error
	// SubscribeAgent makes this node the destination of MsgFrame and
	// MsgClientGone for the agent; the relay calls it before announcing the
	// agent online. UnsubscribeAgent undoes it.
	SubscribeAgent(ctx context.Context, account, agentID string) error
	UnsubscribeAgent(ctx context.Context, account, agentID string) error
	// Close detaches the node; no BrokerHandler call happens after it
	// returns. The Server calls it from Close.
	Close() error
}

// BrokerHandler is what a Broker delivers to; the Server implements it.
type BrokerHandler interface {
	// HandleMessage handles one message from another node. Calls come from
	// one goroutine at a time per origin node, in publishing order. The
	// handler does not keep m or its slices after returning.
	HandleMessage(m *Message)
	// NodeLost reports a node silent past the broker's timeout (or
	// restarted with a new incarnation): its agents go offline with reason
	// node_lost. Exactly one surviving node gets report true and reports
	// them to its Config.OnPresence.
	NodeLost(node string, report bool)
	// Snapshot returns a MsgPresence (online) for each agent connected to
	// this node, for a node that just joined.
	Snapshot() []*Message
}

// MessageKind is the kind of a broker Message.
type MessageKind uint8

// Message kinds. Fields used by each are listed; others are empty.
const (
	// MsgFrame: a client's relay frame for an agent. Account, AgentID
	// (destination), Conn (sender), MID, Packet. The node holding the agent
	// delivers it and acks Conn with MsgAck.
	MsgFrame MessageKind = 1 + iota
	// MsgReply: an agent's relay frame for a client. Conn (destination),
	// Account, AgentID (source agent), Peer (the agent's conn, for the
	// ack), MID (optional), Packet.
	MsgReply
	// MsgAck: an ack for the sender Conn. MID, Status, and AgentID (to a
	// client) or Peer (to an agent: the ack's conn field).
	MsgAck
	// MsgBounce: a MsgFrame whose agent is not on the node it reached, sent
	// back to the sender's node to be queued or acked offline. Same fields
	// as MsgFrame.
	MsgBounce
	// MsgClientGone: client Conn, which wrote to agent (Account, AgentID),
	// disconnected.
	MsgClientGone
	// MsgPresence: agent (Account, AgentID) connected (Status "online") or
	// disconnected ("offline", Reason) on Node with connection Conn at Time;
	// EWSPVersions, FirmwareVersion, Platform, RemoteIP describe it.
	MsgPresence
	// MsgKick: close the matching connections (Target: Account, AgentID,
	// CredentialIDs, TargetKind, All) with Code at Time (zero: now).
	MsgKick
)

// Destination tells a Broker where a Message goes.
type Destination uint8

// Destinations.
const (
	ToAgent Destination = 1 + iota // the node holding (Account, AgentID)
	ToConn                         // the node named by ConnNode(Conn)
	ToAll                          // every other node
)

// Message is what relay nodes exchange through a Broker. Its wire form is
// MarshalBinary / UnmarshalBinary; brokers need not look inside beyond
// Destination, Account, AgentID and Conn. Credentials appear only by id.
type Message struct {
	Kind MessageKind
	// Node is the origin node (set by the relay).
	Node    string
	Account string
	AgentID string
	Conn    string
	Peer    string
	MID     string
	Status  string
	Reason  string
	// Packet is the raw JSON string token of a relay frame's packet, quotes
	// included, forwarded unchanged.
	Packet []byte
	Time   time.Time
	// Presence metadata.
	LastSeen        time.Time
	EWSPVersions    []string
	FirmwareVersion string
	Platform        string
	RemoteIP        string
	// Kick.
	Code          int
	CredentialIDs []string
	TargetKind    Kind
	All           bool
}

// Destination returns where m goes.
func (m *Message) Destination() Destination {
	switch m.Kind {
	case MsgFrame, MsgClientGone:
		return ToAgent
	case MsgReply, MsgAck, MsgBounce:
		return ToConn
	default:
		return ToAll
	}
}

// ConnNode returns the node part of a conn id "<node>:<seq>".
func ConnNode(connID string) (node string, ok bool) {
	n, _, ok := parseConnID(connID)
	return n, ok
}

// messageVersion is the first byte of a marshalled Message.
const messageVersion = 1

// maxMessageList bounds the lists of a decoded Message.
const maxMessageList = 4096

// MarshalBinary encodes m.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 64+len(m.Packet)))
}

// AppendBinary appends the encoding of m to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, messageVersion, byte(m.Kind))
	for _, s := range [...]string{m.Node, m.Account, m.AgentID, m.Conn, m.Peer, m.MID,
		m.Status, m.Reason, m.FirmwareVersion, m.Platform, m.RemoteIP, string(m.TargetKind)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Packet)))
	b = append(b, m.Packet...)
	b = binary.AppendVarint(b, unixNano(m.Time))
	b = binary.AppendVarint(b, unixNano(m.LastSeen))
	b = binary.AppendVarint(b, int64(m.Code))
	if m.All {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, l := range [...][]string{m.EWSPVersions, m.CredentialIDs} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes data into m. Packet aliases data; every other
// field is a copy.
func (m *Message) UnmarshalBinary(data []byte) error {
	*m = Message{}
	d := decoder{b: data}
	if d.byte() != messageVersion {
		return ErrBadMessage
	}
	m.Kind = MessageKind(d.byte())
	var tk string
	for _, p := range [...]*string{&m.Node, &m.Account, &m.AgentID, &m.Conn, &m.Peer, &m.MID,
		&m.Status, &m.Reason, &m.FirmwareVersion, &m.Platform, &m.RemoteIP, &tk} {
		*p = string(d.bytes())
	}
	m.TargetKind = Kind(tk)
	if p := d.bytes(); len(p) > 0 {
		m.Packet = p
	}
	m.Time = fromUnixNano(d.varint())
	m.LastSeen = fromUnixNano(d.varint())
	m.Code = int(d.varint())
	m.All = d.byte() == 1
	for _, l := range [...]*[]string{&m.EWSPVersions, &m.CredentialIDs} {
		n := d.uvarint()
		if n > maxMessageList || n > uint64(len(d.b)) {
			return ErrBadMessage
		}
		for i := uint64(0); i < n; i++ {
			*l = append(*l, string(d.bytes()))
		}
	}
	if d.bad || len(d.b) != 0 || m.Kind < MsgFrame || m.Kind > MsgKick {
		return ErrBadMessage
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// localBroker is the default Broker: a single node, nothing to join.
type localBroker struct{}

func (localBroker) Start(context.Context, string, BrokerHandler) error     { return nil }
func (localBroker) Publish(context.Context, *Message) error                { return nil }
func (localBroker) SubscribeAgent(context.Context, string, string) error   { return nil }
func (localBroker) UnsubscribeAgent(context.Context, string, string) error { return nil }
func (localBroker) Close() error                                           { return nil }
