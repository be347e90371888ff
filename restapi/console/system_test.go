package console_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

type broker struct{}

func (broker) Kind() string    { return "nats" }
func (broker) Connected() bool { return false }
func (broker) Nodes() int      { return 3 }

type blobs struct{}

func (blobs) FreeBytes(context.Context) (int64, error) { return 1 << 30, nil }

func TestSystem(t *testing.T) {
	e := newEnv(t, sqliteOnly(t), func(c *console.Config) { c.Broker, c.Blobs = broker{}, blobs{} })
	h := e.svc.Health(e.ctx)
	if h.Status != "ok" || h.Version != "1.2.3" || !h.Time.Equal(e.clock.Now().UTC().Truncate(1e6)) {
		t.Fatalf("health: %+v", h)
	}
	v := e.svc.Version()
	if v.Version != "1.2.3" || v.APIVersion != 1 || v.GoVersion == "" || len(v.EWSPVersions) != 2 {
		t.Fatalf("version: %+v", v)
	}
	admin := e.setup()
	st := must(e.svc.Status(e.ctx, admin.caller)).of(t)
	if st.Status != "degraded" || st.NodeID != "node-1" || !st.DB.OK || st.DB.Engine != "sqlite" || st.Broker.Kind != "nats" ||
		st.Broker.Nodes != 3 || st.Relay.Connections != 3 || !st.Relay.Accepting || st.Blobs.FreeBytes != 1<<30 || !st.DevAPI {
		t.Fatalf("status: %+v", st)
	}
	if s := must(e.svc.AdminStats(e.ctx, admin.caller)).of(t); s.Relay.Nodes != 3 || s.Server.Broker != "nats" {
		t.Fatalf("stats with a broker: %+v", s)
	}
}

func TestEventsSubscribe(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	tk := must(e.svc.CreateEventTicket(e.ctx, u.caller)).of(t)
	if tk.Ticket == nil || tk.ExpiresIn != 30 {
		t.Fatalf("ticket: %+v", tk)
	}
	c := must(e.svc.AuthenticateTicket(e.ctx, tk.Ticket.Reveal(), testIP)).of(t)
	if c.UserID != u.id {
		t.Fatalf("ticket caller: %+v", c)
	}
	_, err := e.svc.AuthenticateTicket(e.ctx, tk.Ticket.Reveal(), testIP)
	wantCode(t, "ticket reused", err, auth.CodeInvalidToken)
	_, err = e.svc.AuthenticateTicket(e.ctx, u.wl, testIP)
	wantCode(t, "wl_ as a ticket", err, auth.CodeTokenScopeMismatch)

	_, err = e.svc.Subscribe(e.ctx, c, console.SubscribeRequest{Types: []string{"agent.created"}, LastEventID: "1-2"})
	ok(t, err)
	_, err = e.svc.Subscribe(e.ctx, admin.caller, console.SubscribeRequest{Scope: "all"})
	ok(t, err)
	o := e.events.opts
	if len(o) != 2 || o[0].Account != u.id || o[0].User != u.id || o[0].Admin || o[0].LastEventID != "1-2" ||
		!o[1].Admin || !o[1].AllAccounts {
		t.Fatalf("subscribe options: %+v", o)
	}
	_, err = e.svc.Subscribe(e.ctx, u.caller, console.SubscribeRequest{Types: []string{"Bad Type"}})
	wantCode(t, "bad type", err, auth.CodeValidationFailed)
	_, err = e.svc.Subscribe(e.ctx, u.caller, console.SubscribeRequest{Scope: "everyone"})
	wantCode(t, "bad scope", err, auth.CodeValidationFailed)
	e.events.subErr = &console.StreamLimitError{Limit: 10}
	_, err = e.svc.Subscribe(e.ctx, u.caller, console.SubscribeRequest{})
	wantCode(t, "11th stream", err, auth.CodeRateLimited)
	var ae *console.Error
	if !errors.As(err, &ae) || ae.Limit != 10 || ae.Scope != "sse_streams" {
		t.Fatalf("stream limit detail: %+v", ae)
	}
	e.events.subErr = console.ErrEventsUnavailable
	_, err = e.svc.Subscribe(e.ctx, u.caller, console.SubscribeRequest{})
	wantCode(t, "hub shut down", err, console.CodeServiceUnavailable)
	e.svc.SetEvents(nil)
	_, err = e.svc.Subscribe(e.ctx, u.caller, console.SubscribeRequest{})
	wantCode(t, "no hub", err, console.CodeServiceUnavailable)
	// Without a hub, use cases still succeed (nothing to notify).
	must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{Name: "x"})).of(t)
}

// TestNotifyFailuresCounted: a failing kick is logged and counted, and the
// use case still succeeds (API.md §1.9).
func TestNotifyFailuresCounted(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
	e.relay.failKick = errors.New("broker down")
	ok(t, e.svc.DeleteAgent(e.ctx, u.caller, "pi"))
	reg := prometheus.NewPedanticRegistry()
	ok(t, reg.Register(e.svc.Collector()))
	if v := counterValue(t, reg, "wakelink_notify_failures_total", "relay"); v != 1 {
		t.Fatalf("wakelink_notify_failures_total{target=relay} = %v, want 1", v)
	}
	if _, err := e.svc.GetAgent(e.ctx, u.caller, "pi"); console.CodeOf(err) != auth.CodeAgentNotFound {
		t.Fatalf("the deletion stands: %v", err)
	}
}

// counterValue returns the value of the series of a counter family whose
// only label has value label.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	ok(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s}", name, label)
	return 0
}
