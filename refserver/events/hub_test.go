package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestFanOutPerAccount(t *testing.T) {
	h := newHub(t, Config{}, nil)
	a1 := subscribe(t, h, user("usr_a"))
	a2 := subscribe(t, h, user("usr_a"))
	b := subscribe(t, h, user("usr_b"))

	publish(t, h, ev(console.EventAgentOnline, "usr_a", 1))
	publish(t, h, ev(console.EventAgentCreated, "usr_b", 2))
	publish(t, h, ev(console.EventAgentOffline, "usr_a", 3))

	for name, tc := range map[string]struct {
		s    console.Subscription
		want []string
	}{
		"a1": {a1, []string{"agent.online:1", "agent.offline:3"}},
		"a2": {a2, []string{"agent.online:1", "agent.offline:3"}},
		"b":  {b, []string{"agent.created:2"}},
	} {
		if got := queued(t, tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}

func TestEventFields(t *testing.T) {
	clk := newClock()
	h := newHub(t, Config{}, clk)
	s := subscribe(t, h, user("usr_a"))
	in := ev(console.EventAgentDeleted, "usr_a", 7)
	in.ID = "forged"
	in.Data = []byte("{\n  \"n\": 7\n}") // pretty: compacted by Publish
	publish(t, h, in)
	got := next(t, s)
	if got.Audience != console.AudienceOwner {
		t.Errorf("audience: got %q, want owner (from the type)", got.Audience)
	}
	if !got.Time.Equal(clk.Now()) {
		t.Errorf("time: got %v, want the clock's %v", got.Time, clk.Now())
	}
	if string(got.Data) != `{"n":7}` {
		t.Errorf("data: got %q, want compacted {\"n\":7}", got.Data)
	}
	epoch, seq, ok := parseID(got.ID)
	if !ok || epoch != h.epoch || seq != 1 {
		t.Errorf("id %q: got epoch %q seq %d ok %v, want %q 1 true", got.ID, epoch, seq, ok, h.epoch)
	}
	if !strings.HasPrefix(epoch, fmt.Sprintf("%012x", clk.Now().UnixMilli())) {
		t.Errorf("epoch %q does not start with the start time in ms %012x", epoch, clk.Now().UnixMilli())
	}

	// Ids increase.
	publish(t, h, ev(console.EventAgentDeleted, "usr_a", 8))
	_, seq2, _ := parseID(next(t, s).ID)
	if seq2 <= seq {
		t.Errorf("second id seq %d, want > %d", seq2, seq)
	}
}

func TestAudiences(t *testing.T) {
	h := newHub(t, Config{}, nil)
	subs := map[string]console.Subscription{
		"user a":             subscribe(t, h, user("usr_a")),
		"user b":             subscribe(t, h, user("usr_b")),
		"admin c, account":   subscribe(t, h, admin("usr_c", false)),
		"admin d, scope=all": subscribe(t, h, admin("usr_d", true)),
	}
	publish(t, h, ev(console.EventAgentUpdated, "usr_a", 1))     // owner a
	publish(t, h, ev(console.EventSettingsUpdated, "", 2))       // admins
	publish(t, h, ev(console.EventAccountUpdated, "usr_a", 3))   // self a
	publish(t, h, ev(console.EventSessionRevoked, "usr_d", 4))   // self d
	publish(t, h, ev(console.EventClaimUsed, "usr_c", 5))        // owner c
	publish(t, h, ev(console.EventOTARolloutHalted, "usr_b", 6)) // admins (account ignored)

	want := map[string][]string{
		"user a":             {"agent.updated:1", "account.updated:3"},
		"user b":             nil,
		"admin c, account":   {"settings.updated:2", "claim.used:5", "ota.rollout.halted:6"},
		"admin d, scope=all": {"agent.updated:1", "settings.updated:2", "session.revoked:4", "claim.used:5", "ota.rollout.halted:6"},
	}
	for name, s := range subs {
		if got := queued(t, s); !slices.Equal(got, want[name]) {
			t.Errorf("%s: got %v, want %v", name, got, want[name])
		}
	}
}

func TestSelfAudienceIsPerUser(t *testing.T) {
	h := newHub(t, Config{}, nil)
	// Two users sharing an account (not the case today: account = user,
	// but the contract keeps them apart).
	me := subscribe(t, h, console.SubscribeOptions{Account: "acc", User: "usr_me"})
	other := subscribe(t, h, console.SubscribeOptions{Account: "acc", User: "usr_other"})
	publish(t, h, console.Event{Type: console.EventSessionRevoked, Account: "acc", User: "usr_me", Data: []byte(`{"n":1}`)})
	publish(t, h, ev(console.EventAgentCreated, "acc", 2))
	if got, want := queued(t, me), []string{"session.revoked:1", "agent.created:2"}; !slices.Equal(got, want) {
		t.Errorf("me: got %v, want %v", got, want)
	}
	if got, want := queued(t, other), []string{"agent.created:2"}; !slices.Equal(got, want) {
		t.Errorf("other: got %v, want %v", got, want)
	}
}

func TestTypeFilter(t *testing.T) {
	clk := newClock()
	h := newHub(t, Config{}, clk)
	opts := user("usr_a")
	opts.Types = []string{console.EventAgentOnline, console.EventAgentOffline, "no.such_event"}
	s := subscribe(t, h, opts)
	publish(t, h, ev(console.EventAgentOnline, "usr_a", 1))
	publish(t, h, ev(console.EventAgentCreated, "usr_a", 2))
	publish(t, h, ev(console.EventAgentOffline, "usr_a", 3))
	publish(t, h, ev(console.EventAccountUpdated, "usr_a", 4))
	live := queued(t, s)
	if want := []string{"agent.online:1", "agent.offline:3"}; !slices.Equal(live, want) {
		t.Errorf("live: got %v, want %v", live, want)
	}

	// The filter applies to replay too.
	first := h.ring.buf[h.ring.head].ev.ID
	opts.LastEventID = first
	r := subscribe(t, h, opts)
	if got, want := labels(t, r.Replay()), []string{"agent.offline:3"}; !r.Resumed() || !slices.Equal(got, want) {
		t.Errorf("replay after %s: resumed %v, got %v, want %v", first, r.Resumed(), got, want)
	}
}

func TestReplay(t *testing.T) {
	h := newHub(t, Config{}, nil)
	s := subscribe(t, h, user("usr_a"))
	for i := 1; i <= 5; i++ {
		publish(t, h, ev(console.EventAgentUpdated, "usr_a", i))
		publish(t, h, ev(console.EventAgentUpdated, "usr_b", 100+i)) // not ours
	}
	var ids []string
	for range 5 {
		ids = append(ids, next(t, s).ID)
	}
	for i, id := range ids {
		opts := user("usr_a")
		opts.LastEventID = id
		r := subscribe(t, h, opts)
		var want []string
		for j := i + 2; j <= 5; j++ {
			want = append(want, fmt.Sprintf("agent.updated:%d", j))
		}
		if got := labels(t, r.Replay()); !r.Resumed() || r.Reset() != "" || !slices.Equal(got, want) {
			t.Errorf("after %s: resumed %v reset %q replay %v, want resumed, no reset, %v", id, r.Resumed(), r.Reset(), got, want)
		}
		r.Close()
	}

	// Replay, then live, without a gap or a repeat.
	opts := user("usr_a")
	opts.LastEventID = ids[2]
	r := subscribe(t, h, opts)
	publish(t, h, ev(console.EventAgentUpdated, "usr_a", 6))
	got := append(labels(t, r.Replay()), queued(t, r)...)
	if want := []string{"agent.updated:4", "agent.updated:5", "agent.updated:6"}; !slices.Equal(got, want) {
		t.Errorf("replay + live: got %v, want %v", got, want)
	}

	// No Last-Event-ID: a fresh stream, neither resumed nor reset.
	f := subscribe(t, h, user("usr_a"))
	if f.Resumed() || f.Reset() != "" || len(f.Replay()) != 0 {
		t.Errorf("fresh: resumed %v reset %q replay %d, want false, none, 0", f.Resumed(), f.Reset(), len(f.Replay()))
	}
}

func TestResetGap(t *testing.T) {
	clk := newClock()
	h := newHub(t, Config{RingSize: 4}, clk)
	s := subscribe(t, h, user("usr_a"))
	publish(t, h, ev(console.EventAgentUpdated, "usr_a", 1))
	first := next(t, s).ID
	for i := 2; i <= 5; i++ { // the ring holds 2..5: nothing after 1 is lost yet
		publish(t, h, ev(console.EventAgentUpdated, "usr_a", i))
	}
	second := h.ring.buf[h.ring.head].ev.ID
	resume := func(id string) console.Subscription {
		opts := user("usr_a")
		opts.LastEventID = id
		r := subscribe(t, h, opts)
		r.Close()
		return r
	}
	if r := resume(first); !r.Resumed() || len(r.Replay()) != 4 {
		t.Fatalf("ring full but holding every successor: resumed %v replay %d reset %q, want resumed with 4", r.Resumed(), len(r.Replay()), r.Reset())
	}
	publish(t, h, ev(console.EventAgentUpdated, "usr_a", 6)) // evicts 2
	if r := resume(first); r.Resumed() || r.Reset() != console.ResetGap || len(r.Replay()) != 0 {
		t.Errorf("evicted by count: resumed %v reset %q replay %d, want gap", r.Resumed(), r.Reset(), len(r.Replay()))
	}
	if r := resume(second); !r.Resumed() {
		t.Errorf("successors of %s held: got reset %q, want resumed", second, r.Reset())
	}

	// By age: 10 minutes.
	last := h.ring.buf[(h.ring.head+h.ring.n-1)%len(h.ring.buf)].ev.ID
	clk.advance(DefaultRingAge)
	if r := resume(second); !r.Resumed() {
		t.Errorf("at exactly the ring age: got reset %q, want resumed", r.Reset())
	}
	clk.advance(time.Millisecond)
	if r := resume(second); r.Reset() != console.ResetGap {
		t.Errorf("past the ring age: got reset %q resumed %v, want gap", r.Reset(), r.Resumed())
	}
	// The newest id still resumes: nothing after it was lost.
	if r := resume(last); !r.Resumed() || len(r.Replay()) != 0 {
		t.Errorf("newest id after expiry: resumed %v replay %d reset %q, want resumed, empty", r.Resumed(), len(r.Replay()), r.Reset())
	}
	// An id of this start from the future is not held either.
	_, seq, _ := parseID(last)
	if r := resume(formatID(h.epoch, seq+1)); r.Reset() != console.ResetGap {
		t.Errorf("future id: got reset %q, want gap", r.Reset())
	}
	if got := h.Stats().Resets[console.ResetGap]; got != 3 {
		t.Errorf("gap resets counted: got %d, want 3", got)
	}
}

func TestResetGapByBytes(t *testing.T) {
	h := newHub(t, Config{RingBytes: minRingBytes}, nil)
	big := `{"s":"` + strings.Repeat("x", console.MaxEventDataBytes-8) + `"}`
	var ids []string
	for i, data := range []string{`{"n":1}`, big, `{"n":3}`, big} {
		publish(t, h, console.Event{Type: console.EventAgentUpdated, Account: "usr_a", Data: []byte(data)})
		ids = append(ids, formatID(h.epoch, uint64(i+1)))
	}
	if h.ring.bytes > minRingBytes {
		t.Errorf("ring bytes %d beyond the bound %d", h.ring.bytes, minRingBytes)
	}
	for i, want := range []console.ResetReason{console.ResetGap, "", "", ""} {
		opts := user("usr_a")
		opts.LastEventID = ids[i]
		if r := subscribe(t, h, opts); r.Reset() != want {
			t.Errorf("after event %d with the ring holding %d: got reset %q, want %q", i+1, h.ring.len(), r.Reset(), want)
		}
	}
}

func TestResetRestart(t *testing.T) {
	clk := newClock()
	old := newHub(t, Config{}, clk)
	s := subscribe(t, old, user("usr_a"))
	publish(t, old, ev(console.EventAgentUpdated, "usr_a", 1))
	id := next(t, s).ID
	old.Close()
	if err := s.Err(); !errors.Is(err, console.ErrEventsUnavailable) {
		t.Errorf("stream of a closed hub: Err %v, want ErrEventsUnavailable", err)
	}

	clk.advance(time.Second)
	h := newHub(t, Config{}, clk)
	publish(t, h, ev(console.EventAgentUpdated, "usr_a", 2)) // same seq 1 as id
	for _, last := range []string{
		id,                              // the previous start
		"0190a3c4e5f6-42",               // the API example: not one of ours
		"garbage",                       // malformed
		strings.Repeat("f", 200),        // oversize
		otherEpoch(h.epoch) + "-1",      // another epoch
		strings.ToUpper(h.epoch) + "-1", // non-canonical
		h.epoch + "-01",                 // non-canonical
		h.epoch + "-0",                  // seq 0 is never issued
	} {
		opts := user("usr_a")
		opts.LastEventID = last
		r := subscribe(t, h, opts)
		if r.Resumed() || r.Reset() != console.ResetRestart || len(r.Replay()) != 0 {
			t.Errorf("Last-Event-ID %q: resumed %v reset %q replay %d, want restart", last, r.Resumed(), r.Reset(), len(r.Replay()))
		}
		r.Close()
	}
}

func TestOverflowClosesStream(t *testing.T) {
	h := newHub(t, Config{QueueSize: 4}, nil)
	slow := subscribe(t, h, user("usr_a"))
	fast := subscribe(t, h, user("usr_a"))
	for i := 1; i <= 5; i++ {
		publish(t, h, ev(console.EventAgentUpdated, "usr_a", i))
		if i <= 4 {
			next(t, fast)
		}
	}
	// The four queued events are still readable, then the channel closes.
	if got, want := queued(t, slow), []string{"agent.updated:1", "agent.updated:2", "agent.updated:3", "agent.updated:4"}; !slices.Equal(got, want) {
		t.Errorf("slow stream: got %v, want %v", got, want)
	}
	if _, ok := <-slow.C(); ok {
		t.Error("slow stream still open")
	}
	if err := slow.Err(); !errors.Is(err, console.ErrStreamOverflow) {
		t.Errorf("slow stream Err: got %v, want ErrStreamOverflow", err)
	}
	if err := fast.Err(); err != nil {
		t.Errorf("fast stream Err: got %v, want nil", err)
	}
	if got := queued(t, fast); !slices.Equal(got, []string{"agent.updated:5"}) {
		t.Errorf("fast stream: got %v, want [agent.updated:5]", got)
	}
	st := h.Stats()
	if st.OverflowCloses != 1 || st.Subscribers != 1 {
		t.Errorf("stats: overflow closes %d subscribers %d, want 1 1", st.OverflowCloses, st.Subscribers)
	}
	slow.Close() // idempotent after the hub closed it
	if err := slow.Err(); !errors.Is(err, console.ErrStreamOverflow) {
		t.Errorf("Err after Close of an overflowed stream: got %v, want ErrStreamOverflow kept", err)
	}
}

func TestPerUserLimit(t *testing.T) {
	h := newHub(t, Config{}, nil)
	var subs []console.Subscription
	for range DefaultMaxStreamsPerUser {
		subs = append(subs, subscribe(t, h, user("usr_a")))
	}
	_, err := h.Subscribe(context.Background(), user("usr_a"))
	var lim *console.StreamLimitError
	if !errors.Is(err, console.ErrTooManyStreams) || !errors.As(err, &lim) || lim.Limit != 10 {
		t.Fatalf("11th stream: got %v, want *StreamLimitError{10} matching ErrTooManyStreams", err)
	}
	// Another user is not affected.
	subscribe(t, h, user("usr_b"))
	// Closing one frees a slot.
	subs[0].Close()
	if err := subs[0].Err(); !errors.Is(err, console.ErrSubscriptionClosed) {
		t.Errorf("Err after Close: got %v, want ErrSubscriptionClosed", err)
	}
	subscribe(t, h, user("usr_a"))
	// So does a cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = h.Subscribe(ctx, user("usr_a"))
	if !errors.Is(err, console.ErrTooManyStreams) {
		t.Fatalf("over the limit again: got %v", err)
	}
	cancel()
	if got := h.Stats().LimitRejects; got != 2 {
		t.Errorf("limit rejects: got %d, want 2", got)
	}
}

func TestContextEndsStream(t *testing.T) {
	h := newHub(t, Config{MaxStreamsPerUser: 1}, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	s, err := h.Subscribe(ctx, user("usr_a"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cause := errors.New("client went away")
	cancel(cause)
	select {
	case _, ok := <-s.C():
		if ok {
			t.Fatal("event on a cancelled stream")
		}
	case <-time.After(wait):
		t.Fatal("stream not closed after its context ended")
	}
	if err := s.Err(); !errors.Is(err, cause) {
		t.Errorf("Err: got %v, want the context's cause", err)
	}
	// Its slot is free.
	subscribe(t, h, user("usr_a"))

	// A context already done is refused.
	if _, err := h.Subscribe(ctx, user("usr_b")); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe with a done ctx: got %v, want context.Canceled", err)
	}
}

func TestMaxSubscribers(t *testing.T) {
	h := newHub(t, Config{MaxSubscribers: 2}, nil)
	subscribe(t, h, user("usr_a"))
	subscribe(t, h, user("usr_b"))
	if _, err := h.Subscribe(context.Background(), user("usr_c")); !errors.Is(err, console.ErrEventsUnavailable) {
		t.Errorf("over MaxSubscribers: got %v, want ErrEventsUnavailable", err)
	}
}

func TestPublishIgnoresCancelledContext(t *testing.T) {
	h := newHub(t, Config{}, nil)
	s := subscribe(t, h, user("usr_a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Publish(ctx, ev(console.EventAgentDeleted, "usr_a", 1)); err != nil {
		t.Fatalf("Publish after commit with a cancelled ctx: %v", err)
	}
	if got := queued(t, s); len(got) != 1 {
		t.Errorf("got %v, want the event", got)
	}
}

func TestPublishInvalid(t *testing.T) {
	h := newHub(t, Config{}, nil)
	s := subscribe(t, h, admin("usr_a", true))
	for name, e := range map[string]console.Event{
		"no type":             {Account: "usr_a"},
		"bad type":            {Type: "Agent.Created", Account: "usr_a"},
		"stream type":         {Type: console.EventHeartbeat, Account: "usr_a"},
		"unlisted, no aud":    {Type: "future.thing", Account: "usr_a"},
		"wrong audience":      {Type: console.EventAccountUpdated, Account: "usr_a", User: "usr_a", Audience: console.AudienceOwner},
		"unknown audience":    {Type: "future.thing", Account: "usr_a", Audience: "everyone"},
		"owner, no account":   {Type: console.EventAgentCreated},
		"self, no user":       {Type: console.EventAccountUpdated, Account: "usr_a"},
		"long account":        {Type: console.EventAgentCreated, Account: strings.Repeat("a", 129)},
		"bad UTF-8 account":   {Type: console.EventAgentCreated, Account: "\xff"},
		"data not JSON":       {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte(`{"a":`)},
		"data array":          {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte(`[1]`)},
		"data null":           {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte(`null`)},
		"data trailing":       {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte(`{} {}`)},
		"data bad UTF-8":      {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte("{\"a\":\"\xff\"}")},
		"data too large":      {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte(`{"a":"` + strings.Repeat("x", console.MaxEventDataBytes) + `"}`)},
		"data huge, indented": {Type: console.EventAgentCreated, Account: "usr_a", Data: []byte("{" + strings.Repeat(" ", 4*console.MaxEventDataBytes) + "}")},
	} {
		if err := h.Publish(context.Background(), e); !errors.Is(err, console.ErrInvalidEvent) {
			t.Errorf("%s: got %v, want ErrInvalidEvent", name, err)
		}
	}
	if got := queued(t, s); len(got) != 0 {
		t.Errorf("invalid events delivered: %v", got)
	}
	// An unlisted type with an audience is fine: the list only grows.
	if err := h.Publish(context.Background(), console.Event{Type: "future.thing", Audience: console.AudienceAdmins}); err != nil {
		t.Errorf("unlisted type with audience: %v", err)
	}
	if got := len(queued(t, s)); got != 1 {
		t.Errorf("unlisted type delivered %d times, want 1", got)
	}
	if got := h.Stats().InvalidPublishes; got != 17 {
		t.Errorf("invalid publishes counted: %d, want 17", got)
	}
}

func TestSubscribeInvalid(t *testing.T) {
	h := newHub(t, Config{}, nil)
	many := make([]string, console.MaxEventTypeFilter+1)
	for i := range many {
		many[i] = "agent.created"
	}
	for name, o := range map[string]console.SubscribeOptions{
		"no account":          {User: "u"},
		"no user":             {Account: "a"},
		"scope all, no admin": {Account: "a", User: "a", AllAccounts: true},
		"bad type":            {Account: "a", User: "a", Types: []string{"Agent"}},
		"empty type":          {Account: "a", User: "a", Types: []string{""}},
		"too many types":      {Account: "a", User: "a", Types: many},
		"long user":           {Account: "a", User: strings.Repeat("u", 200)},
	} {
		if _, err := h.Subscribe(context.Background(), o); !errors.Is(err, console.ErrInvalidSubscription) {
			t.Errorf("%s: got %v, want ErrInvalidSubscription", name, err)
		}
	}
	if got := h.Stats().Subscribers; got != 0 {
		t.Errorf("subscribers after refusals: %d", got)
	}
}

func TestClose(t *testing.T) {
	h := newHub(t, Config{}, nil)
	s := subscribe(t, h, admin("usr_a", true))
	s2 := subscribe(t, h, user("usr_b"))
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []console.Subscription{s, s2} {
		if _, ok := <-s.C(); ok || !errors.Is(s.Err(), console.ErrEventsUnavailable) {
			t.Errorf("stream after Close: open %v Err %v, want closed, ErrEventsUnavailable", ok, s.Err())
		}
	}
	if err := h.Publish(context.Background(), ev(console.EventAgentCreated, "usr_a", 1)); !errors.Is(err, console.ErrEventsUnavailable) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := h.Subscribe(context.Background(), user("usr_a")); !errors.Is(err, console.ErrEventsUnavailable) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"node chars":      {Node: "node.1"},
		"node long":       {Node: strings.Repeat("n", 33)},
		"prefix wildcard": {Prefix: "wl.*"},
		"prefix dot":      {Prefix: "wl."},
		"prefix empty el": {Prefix: "wl..v1"},
		"negative ring":   {RingSize: -1},
		"negative queue":  {QueueSize: -1},
		"negative limit":  {MaxStreamsPerUser: -1},
		"negative subs":   {MaxSubscribers: -1},
		"negative age":    {RingAge: -time.Second},
		"negative pend":   {Pending: -1},
		"ring bytes":      {RingBytes: 1024},
	} {
		if h, err := New(cfg); err == nil {
			h.Close()
			t.Errorf("%s: New(%+v) succeeded, want an error", name, cfg)
		} else if !strings.HasPrefix(err.Error(), "events: Config.") {
			t.Errorf("%s: error %q does not name the field", name, err)
		}
	}
	h, err := New(Config{})
	if err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	defer h.Close()
	if h.cfg.Node != DefaultNode || h.cfg.QueueSize != 256 || h.cfg.RingSize != 1024 || h.cfg.RingAge != 10*time.Minute || h.cfg.MaxStreamsPerUser != 10 {
		t.Errorf("zero Config defaults: %+v", h.cfg)
	}
}

func TestCollector(t *testing.T) {
	h := newHub(t, Config{Node: "n1"}, nil)
	s := subscribe(t, h, user("usr_a"))
	publish(t, h, ev(console.EventAgentCreated, "usr_a", 1))
	_ = s
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(h.Collector()); err != nil {
		t.Fatal(err)
	}
	// A second hub registers beside it: nothing is shared.
	h2 := newHub(t, Config{Node: "n2"}, nil)
	if err := reg.Register(h2.Collector()); err != nil {
		t.Fatalf("second hub's collector: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				got[key] = c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				got[key] = g.GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"wakelink_events_subscribers,node=n1":                        1,
		"wakelink_events_published_total,node=n1":                    1,
		"wakelink_events_delivered_total,node=n1":                    1,
		"wakelink_events_ring_events,node=n1":                        1,
		"wakelink_events_overflow_closes_total,node=n1":              0,
		"wakelink_events_rejected_total,node=n1,reason=stream_limit": 0,
		"wakelink_events_resets_total,node=n1,reason=gap":            0,
		"wakelink_events_subscribers,node=n2":                        0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s: got %v (present %v), want %v", key, v, ok, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	// For -race: publishers, subscribers that come and go, and Close.
	h := newHub(t, Config{QueueSize: 8}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				acct := fmt.Sprintf("usr_%d", (w+i)%3)
				if err := h.Publish(ctx, ev(console.EventAgentUpdated, acct, i)); err != nil && !errors.Is(err, console.ErrEventsUnavailable) {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				opts := user(fmt.Sprintf("usr_%d", (w+i)%3))
				opts.LastEventID = formatID(h.epoch, uint64(i))
				s, err := h.Subscribe(ctx, opts)
				if err != nil {
					continue // limit or closed
				}
				for range 3 {
					select {
					case <-s.C():
					default:
					}
				}
				_ = s.Err()
				s.Close()
			}
		}()
	}
	for range 8 {
		<-done
	}
	h.Close()
	if got := h.Stats().Subscribers; got != 0 {
		t.Errorf("subscribers left: %d", got)
	}
}

// otherEpoch returns epoch with its last digit changed.
func otherEpoch(epoch string) string {
	if epoch[len(epoch)-1] == '0' {
		return epoch[:len(epoch)-1] + "1"
	}
	return epoch[:len(epoch)-1] + "0"
}
