package events

import (
	"context"
	"fmt"
	"slices"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// Subscribe implements console.Events. The stream's replay (or reset) is
// computed and the stream registered at one instant, so no event is
// missed or repeated between Replay and C. The stream ends when ctx ends
// (through context.AfterFunc: no goroutine waits for ctx, and the
// registration is dropped when the stream ends otherwise).
func (h *Hub) Subscribe(ctx context.Context, opts console.SubscribeOptions) (console.Subscription, error) {
	if err := validOptions(&opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{
		h:       h,
		account: opts.Account,
		user:    opts.User,
		admin:   opts.Admin,
		all:     opts.AllAccounts,
		ch:      make(chan *console.Event, h.cfg.QueueSize),
	}
	if len(opts.Types) > 0 {
		s.types = slices.Clone(opts.Types)
	}
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		return nil, console.ErrEventsUnavailable
	case h.perUser[s.user] >= h.cfg.MaxStreamsPerUser:
		h.mu.Unlock()
		h.stats.limited.Add(1)
		return nil, &console.StreamLimitError{Limit: h.cfg.MaxStreamsPerUser}
	case h.nsubs >= h.cfg.MaxSubscribers:
		h.mu.Unlock()
		h.stats.atCapacity.Add(1)
		h.log.Warn("events: at capacity, refusing a stream", "max", h.cfg.MaxSubscribers)
		return nil, console.ErrEventsUnavailable
	}
	if opts.LastEventID != "" {
		h.ring.expire(h.now())
		epoch, seq, ok := parseID(opts.LastEventID)
		switch {
		case !ok || epoch != h.epoch:
			s.reset = console.ResetRestart
		default:
			replay, held := h.ring.after(seq, s.wants)
			if held {
				s.resumed, s.replay = true, replay
			} else {
				s.reset = console.ResetGap
			}
		}
		if s.reset != "" {
			h.stats.resets[resetIndex(s.reset)].Add(1)
		}
	}
	// Registered under h.mu, so endLocked always finds stop; if ctx is
	// already done, the callback waits for h.mu and ends the stream.
	s.stop = context.AfterFunc(ctx, func() { h.end(s, context.Cause(ctx)) })
	if s.all {
		h.all[s] = struct{}{}
	} else {
		m := h.accounts[s.account]
		if m == nil {
			m = make(map[*subscription]struct{})
			h.accounts[s.account] = m
		}
		m[s] = struct{}{}
	}
	if s.admin {
		h.admins[s] = struct{}{}
	}
	h.perUser[s.user]++
	h.nsubs++
	h.mu.Unlock()
	return s, nil
}

func validOptions(o *console.SubscribeOptions) error {
	switch {
	case !validPrincipal(o.Account, true):
		return fmt.Errorf("%w: account missing or malformed", console.ErrInvalidSubscription)
	case !validPrincipal(o.User, true):
		return fmt.Errorf("%w: user missing or malformed", console.ErrInvalidSubscription)
	case o.AllAccounts && !o.Admin:
		return fmt.Errorf("%w: scope all needs the admin role", console.ErrInvalidSubscription)
	case len(o.Types) > console.MaxEventTypeFilter:
		return fmt.Errorf("%w: more than %d types", console.ErrInvalidSubscription, console.MaxEventTypeFilter)
	}
	for _, t := range o.Types {
		if !console.ValidEventType(t) {
			return fmt.Errorf("%w: type %q", console.ErrInvalidSubscription, trunc(t))
		}
	}
	return nil
}

func (h *Hub) end(s *subscription, err error) {
	h.mu.Lock()
	h.endLocked(s, err)
	h.mu.Unlock()
}

// endLocked closes s with err, once, and frees its slot.
func (h *Hub) endLocked(s *subscription, err error) {
	if s.done {
		return
	}
	s.done, s.err = true, err
	s.stop()
	if s.all {
		delete(h.all, s)
	} else if m := h.accounts[s.account]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.accounts, s.account)
		}
	}
	delete(h.admins, s)
	if h.perUser[s.user]--; h.perUser[s.user] <= 0 {
		delete(h.perUser, s.user)
	}
	h.nsubs--
	close(s.ch)
}

// endAllLocked closes every stream with err.
func (h *Hub) endAllLocked(err error) {
	for _, m := range h.accounts {
		for s := range m {
			h.endLocked(s, err)
		}
	}
	for s := range h.all {
		h.endLocked(s, err)
	}
}

// subscription implements console.Subscription.
type subscription struct {
	h             *Hub
	account, user string
	admin, all    bool
	types         []string // nil: every type
	ch            chan *console.Event
	stop          func() bool // deregisters the context.AfterFunc; guarded by h.mu

	// set before Subscribe returns, then read-only
	resumed bool
	reset   console.ResetReason
	replay  []*console.Event

	// guarded by h.mu
	done bool
	err  error
}

var _ console.Subscription = (*subscription)(nil)

// wants reports whether the stream receives ev: audience, then type.
func (s *subscription) wants(ev *console.Event) bool {
	switch ev.Audience {
	case console.AudienceOwner:
		if !s.all && s.account != ev.Account {
			return false
		}
	case console.AudienceSelf:
		if s.account != ev.Account || s.user != ev.User {
			return false
		}
	case console.AudienceAdmins:
		if !s.admin {
			return false
		}
	default:
		return false
	}
	return s.types == nil || slices.Contains(s.types, ev.Type)
}

// Resumed implements console.Subscription.
func (s *subscription) Resumed() bool { return s.resumed }

// Reset implements console.Subscription.
func (s *subscription) Reset() console.ResetReason { return s.reset }

// Replay implements console.Subscription.
func (s *subscription) Replay() []*console.Event { return s.replay }

// C implements console.Subscription.
func (s *subscription) C() <-chan *console.Event { return s.ch }

// Close implements console.Subscription.
func (s *subscription) Close() { s.h.end(s, console.ErrSubscriptionClosed) }

// Err implements console.Subscription.
func (s *subscription) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}
