package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/relay"
)

// outbox collects what a use case does after its transaction commits
// (API.md §1.9 steps 3 and 4): relay kicks first, then SSE events. It is
// filled while the use case runs and sent by Service.send only after the
// commit, so a rolled-back use case notifies nobody.
type outbox struct {
	kicks  []kickReq
	events []Event
	err    error // an event payload that would not marshal (a bug)
}

type kickReq struct {
	t    relay.Target
	code int
	at   time.Time
}

func (o *outbox) kick(t relay.Target, code int, at time.Time) {
	o.kicks = append(o.kicks, kickReq{t, code, at})
}

// event queues an event with data marshalled now (data must not change
// after the commit anyway: it is what the use case answers).
func (o *outbox) event(ev Event, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		o.err = errors.Join(o.err, err)
		return
	}
	ev.Data = b
	o.events = append(o.events, ev)
}

// send performs the kicks, then publishes the events. Failures are logged
// and counted (wakelink_notify_failures_total) and never returned: the
// commit stands (API.md §1.9). It does not stop when ctx is cancelled (the
// client may have gone; the revocation must still reach the relay).
func (s *Service) send(ctx context.Context, o *outbox) {
	ctx = context.WithoutCancel(ctx)
	if o.err != nil {
		s.log.Error("console: an event payload did not marshal", "err", o.err)
		s.metrics.notifyFailures.WithLabelValues("events").Inc()
	}
	if r := s.rly(); r != nil {
		for _, k := range o.kicks {
			if err := r.Kick(ctx, k.t, k.code, k.at); err != nil {
				s.metrics.notifyFailures.WithLabelValues("relay").Inc()
				s.log.Warn("console: relay kick failed (revalidation bounds it)", "account", k.t.Account,
					"agent_id", k.t.AgentID, "credential_ids", k.t.CredentialIDs, "code", k.code, "err", err)
			}
		}
	}
	if h := s.hub(); h != nil {
		for _, ev := range o.events {
			if ev.Time.IsZero() {
				ev.Time = s.now()
			}
			if err := h.Publish(ctx, ev); err != nil {
				s.metrics.notifyFailures.WithLabelValues("events").Inc()
				s.log.Warn("console: publishing an event failed", "type", ev.Type, "account", ev.Account, "err", err)
			}
		}
	}
}

// publish sends one event after a commit (a use case with nothing else to
// notify).
func (s *Service) publish(ctx context.Context, ev Event, data any) {
	var o outbox
	o.event(ev, data)
	s.send(ctx, &o)
}

// Event constructors for the audiences of API.md §3.6.
func ownerEvent(typ, account string) Event { return Event{Type: typ, Account: account} }
func selfEvent(typ, user string) Event     { return Event{Type: typ, Account: user, User: user} }

type baseURLKey struct{}

// WithBaseURL returns a context carrying the request's base URL
// (scheme://host[:port] as the client reached the server, after the Host
// and trusted-proxy rules). The REST layer sets it on every request; the
// console uses it for api_url, relay_url, bind_url and check_url when
// Config.PublicURL is empty.
func WithBaseURL(ctx context.Context, base string) context.Context {
	if u, err := normalizeBaseURL(base); err == nil {
		return context.WithValue(ctx, baseURLKey{}, u)
	}
	return ctx
}

// normalizeBaseURL accepts http(s)://host[:port] with an optional "/"
// path and returns it without the trailing slash.
func normalizeBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("want http(s)://host[:port]")
	}
	return u.Scheme + "://" + u.Host, nil
}

// apiURL is the server's base URL (API.md: api_url).
func (s *Service) apiURL(ctx context.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	if u, ok := ctx.Value(baseURLKey{}).(string); ok {
		return u
	}
	return defaultPublicURL
}

// relayURL is ws(s)://host/wss.
func (s *Service) relayURL(ctx context.Context) string {
	base := s.apiURL(ctx)
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/wss"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/wss"
}
