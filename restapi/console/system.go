package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Use cases of API.md §3.9 (system) and §3.6 (event tickets, streams).

// SystemHealth answers GET /system/health.
type SystemHealth struct {
	Status  string    `json:"status"` // ok | degraded
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
}

// healthTimeout bounds the database ping of health and status.
const healthTimeout = 2 * time.Second

// Health is GET /system/health (no auth, works before setup): degraded
// when the database does not answer within 2 s.
func (s *Service) Health(ctx context.Context) *SystemHealth {
	st := "ok"
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		st = "degraded"
	}
	return &SystemHealth{Status: st, Time: s.now(), Version: s.version.Version}
}

// SystemVersion answers GET /system/version.
type SystemVersion struct {
	Version      string   `json:"version"`
	Commit       string   `json:"commit"`
	BuildDate    string   `json:"build_date"`
	GoVersion    string   `json:"go_version"`
	APIVersion   int      `json:"api_version"`
	EWSPVersions []string `json:"ewsp_versions"`
}

// Version is GET /system/version (no auth).
func (s *Service) Version() *SystemVersion {
	return &SystemVersion{Version: s.version.Version, Commit: s.version.Commit, BuildDate: s.version.BuildDate,
		GoVersion: s.goVersion, APIVersion: 1, EWSPVersions: append([]string(nil), ewspVersions...)}
}

// SystemStatus answers GET /system/status.
type SystemStatus struct {
	Status    string       `json:"status"` // ok | degraded
	UptimeS   int64        `json:"uptime_s"`
	StartedAt time.Time    `json:"started_at"`
	NodeID    string       `json:"node_id"`
	DB        StatusDB     `json:"db"`
	Broker    StatusBroker `json:"broker"`
	Relay     StatusRelay  `json:"relay"`
	Blobs     StatusBlobs  `json:"blobs"`
	DevAPI    bool         `json:"dev_api"`
}

// StatusDB is the database part of the status.
type StatusDB struct {
	Engine    string  `json:"engine"`
	OK        bool    `json:"ok"`
	LatencyMs float64 `json:"latency_ms"`
}

// StatusBroker is the broker part of the status.
type StatusBroker struct {
	Kind      string `json:"kind"` // inproc | nats
	Connected bool   `json:"connected"`
	Nodes     int    `json:"nodes"`
}

// StatusRelay is the relay part of the status.
type StatusRelay struct {
	Accepting   bool `json:"accepting"`
	Connections int  `json:"connections"`
}

// StatusBlobs is the blob storage part of the status.
type StatusBlobs struct {
	OK        bool  `json:"ok"`
	FreeBytes int64 `json:"free_bytes"`
}

// Accepting is an optional capability of the Relay: whether it accepts
// new connections (false while draining). *relay.Server does not have it
// yet; without it a present relay counts as accepting.
type Accepting interface {
	Accepting() bool
}

// Status is GET /system/status (Auth A): this node's view.
func (s *Service) Status(ctx context.Context, c Caller) (*SystemStatus, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	now := s.now()
	out := &SystemStatus{Status: "ok", UptimeS: int64(now.Sub(s.cfg.StartedAt) / time.Second),
		StartedAt: s.cfg.StartedAt.UTC(), NodeID: s.cfg.NodeID, DevAPI: s.cfg.DevAPI,
		Broker: StatusBroker{Kind: "inproc", Connected: true, Nodes: 1}, Blobs: StatusBlobs{OK: true}}
	pctx, cancel := context.WithTimeout(ctx, healthTimeout)
	t0 := time.Now()
	err := s.store.Ping(pctx)
	cancel()
	out.DB = StatusDB{Engine: s.store.Engine(), OK: err == nil, LatencyMs: float64(time.Since(t0).Microseconds()) / 1000}
	if err != nil {
		out.Status = "degraded"
	}
	if b := s.cfg.Broker; b != nil {
		out.Broker = StatusBroker{Kind: b.Kind(), Connected: b.Connected(), Nodes: b.Nodes()}
		if !out.Broker.Connected {
			out.Status = "degraded"
		}
	}
	if r := s.rly(); r != nil {
		if out.NodeID == "" {
			out.NodeID = r.Node()
		}
		out.Relay = StatusRelay{Accepting: true, Connections: int(r.Stats().Connections)}
		if a, ok := r.(Accepting); ok {
			out.Relay.Accepting = a.Accepting()
		}
	}
	if bl := s.cfg.Blobs; bl != nil {
		free, err := bl.FreeBytes(ctx)
		out.Blobs = StatusBlobs{OK: err == nil, FreeBytes: free}
		if err != nil {
			out.Status = "degraded"
		}
	}
	return out, nil
}

// CreateEventTicket is POST /events/ticket (Auth C): a wet_ for GET
// /events?ticket=…, valid 30 s, single use (browsers cannot set headers on
// EventSource).
func (s *Service) CreateEventTicket(ctx context.Context, c Caller) (*EventTicket, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	tok, _, err := s.auth.IssueEventTicket(ctx, c.Principal)
	if err != nil {
		return nil, s.wrap("issuing an event ticket", err)
	}
	return &EventTicket{Ticket: newSecret(tok), ExpiresIn: int(auth.EventTicketTTL / time.Second)}, nil
}

// SubscribeRequest is GET /events's query.
type SubscribeRequest struct {
	Types       []string // empty: all
	Scope       string   // "" or account, all (admins)
	LastEventID string   // header, else the last_event_id query
}

// Subscribe opens an event stream for GET /events (Auth: C, or a Caller
// from AuthenticateTicket). The REST layer writes the stream from the
// Subscription (ready, reset or replay, live events, heartbeats) and
// closes it. VALIDATION_FAILED (types, scope), FORBIDDEN (scope all
// without admin), RATE_LIMITED (detail.limit: 10 streams per user, scope
// sse_streams), SERVICE_UNAVAILABLE (no hub, or shut down).
func (s *Service) Subscribe(ctx context.Context, c Caller, req SubscribeRequest) (Subscription, error) {
	if c.Kind != auth.KindEventTicket {
		if err := requireRule(c, AuthC); err != nil {
			return nil, err
		}
	}
	var v validator
	if len(req.Types) > MaxEventTypeFilter {
		v.add("types", "max", itoa(MaxEventTypeFilter))
	}
	for i, t := range req.Types {
		if !ValidEventType(t) {
			v.add("types["+itoa(i)+"]", "event_type", "")
		}
	}
	all := false
	switch req.Scope {
	case "", "account":
	case "all":
		all = true
	default:
		v.add("scope", "oneof", "account all")
	}
	if len(req.LastEventID) > MaxEventIDLen {
		req.LastEventID = "" // not ours: the hub answers reset
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if all && !c.IsAdmin() {
		return nil, fail(auth.ErrForbidden)
	}
	h := s.hub()
	if h == nil {
		return nil, fail(ErrServiceUnavailable)
	}
	sub, err := h.Subscribe(ctx, SubscribeOptions{Account: c.UserID, User: c.UserID, Admin: c.IsAdmin(),
		AllAccounts: all, Types: req.Types, LastEventID: req.LastEventID})
	if err != nil {
		return nil, s.streamErr(err)
	}
	return sub, nil
}

// streamErr maps the hub's Subscribe errors to API codes.
func (s *Service) streamErr(err error) error {
	var lim *StreamLimitError
	switch {
	case errors.As(err, &lim):
		e := fail(auth.ErrRateLimited)
		e.Limit, e.Scope, e.RetryAfter = lim.Limit, "sse_streams", time.Second
		return e
	case errors.Is(err, ErrInvalidSubscription):
		return invalid(FieldError{Field: "types", Rule: "event_type"})
	case errors.Is(err, ErrEventsUnavailable):
		return fmt.Errorf("console: subscribing: %w: %w", ErrUnavailable, err)
	}
	return s.wrap("subscribing", err)
}
