package console

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Presence (API.md §3.2, §4.5): the relay reports each agent's
// online/offline changes; the console records last_seen and what the agent
// declared, and publishes agent.online / agent.offline.
//
// last_seen is written at connect, at disconnect and at most every
// LastSeenInterval (60 s) per agent: an event within that interval of the
// agent's last write is deferred (a flapping agent costs one write a
// minute, not one per reconnect), and FlushPresence — which refserver
// calls every few seconds and at shutdown — writes deferred values once
// their interval has passed, and refreshes the last_seen of agents still
// connected to this node once a minute. A connect that declares other
// metadata (firmware, EWSP versions, platform, address) is written at once.

// presenceTable is the throttle state of agents connected to this node or
// recently seen; bounded by Config.MaxTrackedAgents.
type presenceTable struct {
	mu  sync.Mutex
	max int
	m   map[AgentRef]*presState
}

type presState struct {
	online    bool
	lastWrite time.Time // console clock
	pending   time.Time // a deferred last_seen; zero: none
	meta      string    // the metadata last written
}

func (t *presenceTable) init(max int) {
	t.max = max
	t.m = make(map[AgentRef]*presState)
}

// presenceWrite is one last_seen write.
type presenceWrite struct {
	ref  AgentRef
	at   time.Time
	seen auth.AgentSeen
	ip   string // "" unchanged
}

// ObservePresence is the relay's presence observer: pass it as
// relay.Config.OnPresence. It runs synchronously on the relay's connection
// goroutine; its database write is bounded by Config.PresenceTimeout, and a
// failure is logged, counted and retried by the next FlushPresence.
func (s *Service) ObservePresence(ev relay.PresenceEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PresenceTimeout)
	defer cancel()
	s.observe(ctx, ev)
}

// observe applies one presence event: last_seen (throttled), then the SSE
// event. It reports false, publishing nothing, when a write found the
// agent gone.
func (s *Service) observe(ctx context.Context, ev relay.PresenceEvent) bool {
	at := ev.Time.UTC().Truncate(time.Millisecond)
	if at.IsZero() {
		at = s.now()
	}
	ref := AgentRef{ev.Account, ev.AgentID}
	w := presenceWrite{ref: ref, at: at}
	if ev.Online {
		w.seen = auth.AgentSeen{FirmwareVersion: ev.FirmwareVersion, Platform: ev.Platform}
		if len(ev.EWSPVersions) > 0 {
			w.seen.EWSPVersions = slices.Clone(ev.EWSPVersions)
		}
		w.ip = ev.RemoteIP
	}
	if s.presenceDue(ref, ev.Online, at, metaOf(ev)) {
		if !s.writePresence(ctx, w) {
			return false // no such agent (deleted): nothing to tell
		}
	} else {
		s.metrics.presenceWrites.WithLabelValues("throttled").Inc()
	}
	var o outbox
	if ev.Online {
		fw := strPtr(ev.FirmwareVersion)
		ew := ev.EWSPVersions
		if ew == nil {
			ew = []string{}
		}
		o.event(ownerEvent(EventAgentOnline, ev.Account), map[string]any{"agent_id": ev.AgentID, "connected_at": at,
			"node": ev.Node, "ewsp_versions": ew, "firmware_version": fw})
	} else {
		reason := ev.Reason
		if reason == "" {
			reason = "closed"
		}
		o.event(ownerEvent(EventAgentOffline, ev.Account), map[string]any{"agent_id": ev.AgentID, "last_seen": at, "reason": reason})
	}
	s.send(ctx, &o)
	return true
}

func metaOf(ev relay.PresenceEvent) string {
	if !ev.Online {
		return ""
	}
	return ev.FirmwareVersion + "|" + strings.Join(ev.EWSPVersions, ",") + "|" + ev.Platform + "|" + ev.RemoteIP
}

// presenceDue updates the throttle state for an event and reports whether
// it must be written now (else it is deferred).
func (s *Service) presenceDue(ref AgentRef, online bool, at time.Time, meta string) bool {
	now := s.now()
	t := &s.presence
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[ref]
	if st == nil {
		if len(t.m) >= t.max {
			return true // untracked: unthrottled
		}
		st = &presState{}
		t.m[ref] = st
	}
	st.online = online
	due := st.lastWrite.IsZero() || now.Sub(st.lastWrite) >= LastSeenInterval || (online && meta != st.meta)
	if !due {
		st.pending = at
		return false
	}
	st.lastWrite, st.pending = now, time.Time{}
	if online {
		st.meta = meta
	}
	return true
}

// writePresence stores one last_seen (and, at connect, what the agent
// declared and its address). Metadata auth refuses (a firmware version
// that is not semver, a malformed platform) is dropped, never the
// last_seen. It reports false when the agent no longer exists.
func (s *Service) writePresence(ctx context.Context, w presenceWrite) bool {
	err := s.store.InTx(ctx, func(ctx context.Context) error { return s.applyPresenceWrite(ctx, w) })
	switch {
	case err == nil:
		s.metrics.presenceWrites.WithLabelValues("written").Inc()
	case auth.CodeOf(err) == auth.CodeAgentNotFound:
		s.forget(w.ref)
		return false
	default:
		s.metrics.presenceWrites.WithLabelValues("failed").Inc()
		s.log.Warn("console: recording last_seen failed", "account", w.ref.OwnerID, "agent_id", w.ref.AgentID, "err", err)
		s.presence.mu.Lock()
		if st := s.presence.m[w.ref]; st != nil && st.pending.IsZero() {
			st.pending = w.at // the next flush retries
			st.lastWrite = time.Time{}
		}
		s.presence.mu.Unlock()
	}
	return true
}

func (s *Service) applyPresenceWrite(ctx context.Context, w presenceWrite) error {
	err := s.auth.RecordAgentSeen(ctx, w.ref.OwnerID, w.ref.AgentID, w.at, w.seen)
	if auth.CodeOf(err) == auth.CodeValidationFailed {
		err = s.auth.RecordAgentSeen(ctx, w.ref.OwnerID, w.ref.AgentID, w.at, auth.AgentSeen{})
	}
	if err != nil {
		return err
	}
	if w.ip != "" {
		if err := s.store.SetAgentRemoteIP(ctx, w.ref.OwnerID, w.ref.AgentID, w.ip); err != nil && !errors.Is(err, ErrStoreNotFound) {
			return err
		}
	}
	return nil
}

func (s *Service) forget(ref AgentRef) {
	s.presence.mu.Lock()
	delete(s.presence.m, ref)
	s.presence.mu.Unlock()
}

// FlushPresence writes the deferred last_seen values whose interval has
// passed (all of them with force, at shutdown), refreshes the last_seen of
// agents still connected to this node that were not written for
// LastSeenInterval, and forgets quiet disconnected agents. It starts no
// goroutine: refserver calls it every few seconds (10 s is plenty) and
// once with force when stopping. Writes go in batches of one transaction.
func (s *Service) FlushPresence(ctx context.Context, force bool) error {
	now := s.now()
	var due []presenceWrite
	r := s.rly()
	t := &s.presence
	t.mu.Lock()
	for ref, st := range t.m {
		quiet := now.Sub(st.lastWrite) >= LastSeenInterval
		if st.online && quiet && !force {
			// Refresh only what the relay still holds (an offline event
			// that never came must not keep last_seen moving).
			if r == nil {
				st.online = false
			} else if _, ok := r.AgentPresence(ctx, ref.OwnerID, ref.AgentID); !ok {
				st.online = false
			}
		}
		switch {
		case !st.pending.IsZero() && (force || quiet):
			due = append(due, presenceWrite{ref: ref, at: st.pending})
		case st.online && quiet:
			due = append(due, presenceWrite{ref: ref, at: now})
		case !st.online && quiet:
			delete(t.m, ref)
			continue
		default:
			continue
		}
		st.pending, st.lastWrite = time.Time{}, now
	}
	t.mu.Unlock()
	const batch = 200
	var firstErr error
	for len(due) > 0 {
		n := min(batch, len(due))
		part := due[:n]
		due = due[n:]
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			for _, w := range part {
				// A deleted agent fails with a sentinel, leaving the
				// transaction usable.
				if err := s.applyPresenceWrite(ctx, w); err != nil && auth.CodeOf(err) != auth.CodeAgentNotFound {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.metrics.presenceWrites.WithLabelValues("failed").Add(float64(len(part)))
			if firstErr == nil {
				firstErr = s.wrap("flushing presence", err)
			}
			t.mu.Lock()
			for _, w := range part {
				if st := t.m[w.ref]; st != nil && st.pending.IsZero() {
					st.pending, st.lastWrite = w.at, time.Time{}
				}
			}
			t.mu.Unlock()
			continue
		}
		s.metrics.presenceWrites.WithLabelValues("written").Add(float64(len(part)))
	}
	return firstErr
}

// RelayPresenceEvent is one event of POST /api/internal/relay/presence.
type RelayPresenceEvent struct {
	AccountID       string
	AgentID         string
	Status          string // online | offline
	TS              time.Time
	EWSPVersions    []string
	FirmwareVersion string
	Reason          string // offline: closed, timeout, kicked, replaced, node_lost, shutdown
}

// RelayPresenceRequest is the body of POST /api/internal/relay/presence.
type RelayPresenceRequest struct {
	NodeID string
	Events []RelayPresenceEvent // ≤ 1000
}

// RelayPresenceResult answers the internal presence report.
type RelayPresenceResult struct {
	Accepted int `json:"accepted"`
}

// MaxPresenceEvents bounds one internal presence report.
const MaxPresenceEvents = 1000

// RelayPresence is POST /api/internal/relay/presence: an external relay
// node's online/offline changes, applied like ObservePresence's. Accepted
// counts the events of agents that exist.
func (s *Service) RelayPresence(ctx context.Context, req RelayPresenceRequest) (*RelayPresenceResult, error) {
	events := req.Events
	if len(events) > MaxPresenceEvents {
		return nil, invalid(FieldError{Field: "events", Rule: "max", Param: itoa(MaxPresenceEvents)})
	}
	var v validator
	for i, e := range events {
		f := "events[" + itoa(i) + "]"
		if !validUserID(e.AccountID) {
			v.add(f+".account_id", "user_id", "")
		}
		if !auth.ValidAgentID(e.AgentID) {
			v.add(f+".agent_id", "agent_id", "")
		}
		if e.Status != "online" && e.Status != "offline" {
			v.add(f+".status", "oneof", "online offline")
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	out := &RelayPresenceResult{}
	for _, e := range events {
		ev := relay.PresenceEvent{Account: e.AccountID, AgentID: e.AgentID, Online: e.Status == "online", Time: e.TS,
			Reason: e.Reason, Node: req.NodeID, EWSPVersions: e.EWSPVersions, FirmwareVersion: e.FirmwareVersion}
		if s.observe(ctx, ev) {
			out.Accepted++
		}
	}
	return out, nil
}
