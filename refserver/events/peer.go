package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// wireVersion is the version of wireEvent; a hub drops other versions.
const wireVersion = 1

// maxWireBytes bounds a NATS message of ours: the largest data plus the
// other fields, escaped.
const maxWireBytes = console.MaxEventDataBytes + 4<<10

// wireEvent is an event on <prefix>.events. Ids are per node, so none is
// sent: the receiving hub assigns its own.
type wireEvent struct {
	V        int              `json:"v"`
	Origin   string           `json:"origin"` // the publishing hub: node + "/" + epoch
	Type     string           `json:"type"`
	Time     time.Time        `json:"ts"`
	Account  string           `json:"account,omitempty"`
	User     string           `json:"user,omitempty"`
	Audience console.Audience `json:"audience"`
	Data     json.RawMessage  `json:"data"`
}

// peer is a Hub's NATS leg: it publishes local events and delivers the
// other hubs' events from one goroutine.
type peer struct {
	h       *Hub
	nc      *nats.Conn
	subject string
	origin  string
	sub     *nats.Subscription
	msgs    chan *nats.Msg
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	// owned by the receive goroutine
	dropped    int
	reconnects uint64
}

// startPeer subscribes to subject and starts the receive goroutine. The
// subscription is flushed to the server first, so events other nodes
// publish after New returns reach this hub.
func startPeer(h *Hub, nc *nats.Conn, subject string, pending int) (*peer, error) {
	p := &peer{
		h:          h,
		nc:         nc,
		subject:    subject,
		origin:     h.cfg.Node + "/" + h.epoch,
		msgs:       make(chan *nats.Msg, pending),
		stop:       make(chan struct{}),
		reconnects: nc.Stats().Reconnects,
	}
	sub, err := nc.ChanSubscribe(subject, p.msgs)
	if err != nil {
		return nil, fmt.Errorf("events: subscribe %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("events: subscribe %s: %w", subject, err)
	}
	p.sub = sub
	p.wg.Add(1)
	go p.receive()
	return p, nil
}

// close unsubscribes and stops the receive goroutine, waiting for it.
func (p *peer) close() {
	p.once.Do(func() {
		_ = p.sub.Unsubscribe() // fails only when nc is already closed
		close(p.stop)
		p.wg.Wait()
	})
}

func (p *peer) publish(ev console.Event) error {
	b, err := json.Marshal(wireEvent{
		V:        wireVersion,
		Origin:   p.origin,
		Type:     ev.Type,
		Time:     ev.Time,
		Account:  ev.Account,
		User:     ev.User,
		Audience: ev.Audience,
		Data:     ev.Data,
	})
	if err != nil {
		return err
	}
	return p.nc.Publish(p.subject, b)
}

func (p *peer) receive() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case m := <-p.msgs:
			if p.lossSinceLast() {
				// The lost messages are newer than some of those
				// waiting and older than any arriving later: drop
				// the waiting ones with this one, then reset.
				for n := len(p.msgs); n > 0; n-- {
					<-p.msgs
				}
				p.h.lost()
				continue
			}
			p.handle(m.Data)
		}
	}
}

// lossSinceLast reports whether NATS dropped messages for this hub, or
// reconnected (losing what was published meanwhile), since the last call.
func (p *peer) lossSinceLast() bool {
	dropped, err := p.sub.Dropped()
	if err != nil {
		dropped = p.dropped
	}
	reconnects := p.nc.Stats().Reconnects
	if dropped == p.dropped && reconnects == p.reconnects {
		return false
	}
	if dropped > p.dropped {
		p.h.stats.remoteDropped.Add(uint64(dropped - p.dropped))
	}
	p.h.log.Warn("events: events from other nodes were lost, closing every stream",
		"dropped", dropped-p.dropped, "reconnects", reconnects-p.reconnects)
	p.dropped, p.reconnects = dropped, reconnects
	return true
}

// handle delivers one message from another hub; malformed ones are
// counted and dropped, never trusted.
func (p *peer) handle(data []byte) {
	ev, origin, err := decodeWire(data)
	if err == nil && origin == p.origin {
		return // our own, already delivered
	}
	if err == nil {
		ev, err = p.h.prepare(ev)
	}
	if err != nil {
		p.h.stats.remoteInvalid.Add(1)
		p.h.log.Warn("events: dropping a malformed message from NATS", "err", err)
		return
	}
	p.h.deliver(ev, true)
}

var errWire = errors.New("events: malformed message from another node")

// decodeWire parses a message of <prefix>.events; the event still needs
// Hub.prepare. It never panics on input.
func decodeWire(data []byte) (console.Event, string, error) {
	if len(data) > maxWireBytes {
		return console.Event{}, "", fmt.Errorf("%w: %d bytes", errWire, len(data))
	}
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return console.Event{}, "", errWire
	}
	if w.V != wireVersion {
		return console.Event{}, "", fmt.Errorf("%w: version %d", errWire, w.V)
	}
	if w.Origin == "" || w.Audience == "" {
		return console.Event{}, "", fmt.Errorf("%w: no origin or audience", errWire)
	}
	return console.Event{
		Type:     w.Type,
		Time:     w.Time,
		Account:  w.Account,
		User:     w.User,
		Audience: w.Audience,
		Data:     w.Data,
	}, w.Origin, nil
}

// lost closes every stream with ErrStreamOverflow and empties the ring:
// clients reconnect with their last id, get reset gap, and refetch.
func (h *Hub) lost() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.stats.lossResets.Add(1)
	h.endAllLocked(console.ErrStreamOverflow)
	h.ring.clear()
}
