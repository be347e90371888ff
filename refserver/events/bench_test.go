package events

import (
	"context"
	"fmt"
	"testing"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// BenchmarkPublish measures Publish fanning out to 1 000 streams: all in
// the event's account (each gets a copy), or each in its own account (one
// gets it). Streams are drained with the timer stopped.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name     string
		accounts int
	}{
		{"1000subs/same-account", 1},
		{"1000subs/1000-accounts", 1000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := New(Config{MaxStreamsPerUser: 1000})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			subs := make([]console.Subscription, 1000)
			for i := range subs {
				acct := fmt.Sprintf("usr_%d", i%tc.accounts)
				if subs[i], err = h.Subscribe(context.Background(), console.SubscribeOptions{Account: acct, User: acct}); err != nil {
					b.Fatal(err)
				}
			}
			e := ev(console.EventAgentOnline, "usr_0", 1)
			e.Data = []byte(`{"agent_id":"pi-livingroom","connected_at":"2026-01-06T18:20:03Z","node":"node-1","ewsp_versions":["2"],"firmware_version":"1.4.0"}`)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := h.Publish(ctx, e); err != nil {
					b.Fatal(err)
				}
				if i%(DefaultQueueSize/2) == 0 {
					b.StopTimer()
					for _, s := range subs {
						for len(s.C()) > 0 {
							<-s.C()
						}
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			if st := h.Stats(); st.OverflowCloses != 0 {
				b.Fatalf("%d streams overflowed", st.OverflowCloses)
			}
		})
	}
}

// TestPublishAllocs guards the hot path: fan-out allocates nothing per
// stream.
func TestPublishAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation guard")
	}
	allocs := func(streams int) float64 {
		h := newHub(t, Config{MaxStreamsPerUser: streams, QueueSize: 1024}, nil)
		var subs []console.Subscription
		for range streams {
			subs = append(subs, subscribe(t, h, user("usr_a")))
		}
		e := ev(console.EventAgentOnline, "usr_a", 1)
		got := testing.AllocsPerRun(100, func() {
			if err := h.Publish(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		})
		for _, s := range subs {
			s.Close()
		}
		return got
	}
	one, many := allocs(1), allocs(200)
	if many != one {
		t.Errorf("Publish allocates %v with 1 stream, %v with 200: want no allocation per stream", one, many)
	}
	if one > 6 {
		t.Errorf("Publish allocates %v times, want ≤ 6", one)
	}
}
