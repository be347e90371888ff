package events

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/restapi/console"
)

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		formatID(newEpoch(time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC), 0xabcd), 1),
		formatID(strings.Repeat("f", epochLen), 1<<64-1),
		"0190a3c4e5f6-42", "0000000000000000-0", "0000000000000000-18446744073709551616",
		"0000000000000000--1", "0000000000000000-+1", "0000000000000000-1\n", "", "-", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		epoch, seq, ok := parseID(s)
		if !ok {
			return
		}
		if len(epoch) != epochLen || seq == 0 {
			t.Fatalf("parseID(%q) = %q, %d: epoch length or seq out of range", s, epoch, seq)
		}
		if got := formatID(epoch, seq); got != s {
			t.Fatalf("parseID(%q) then formatID = %q: not canonical", s, got)
		}
		if _, err := console.AppendEventFrame(nil, console.Event{ID: s, Type: "agent.created"}); err != nil {
			t.Fatalf("parsed id %q does not frame: %v", s, err)
		}
	})
}

// FuzzLastEventID resumes streams with arbitrary ids on a hub holding a
// few events: never a panic, always exactly one of resumed or reset, and a
// replay only of events after the id.
func FuzzLastEventID(f *testing.F) {
	clk := newClock()
	h, err := New(Config{Now: clk.Now, RingSize: 4})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	for i := range 6 {
		if err := h.Publish(context.Background(), ev(console.EventAgentUpdated, "usr_a", i)); err != nil {
			f.Fatal(err)
		}
	}
	for i := range 8 {
		f.Add(formatID(h.epoch, uint64(i)))
	}
	f.Add(formatID(otherEpoch(h.epoch), 5))
	f.Add("garbage")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		s, err := h.Subscribe(context.Background(), console.SubscribeOptions{Account: "usr_a", User: "usr_a", LastEventID: id})
		if err != nil {
			t.Fatalf("Subscribe(%q): %v", id, err)
		}
		defer s.Close()
		if id == "" {
			if s.Resumed() || s.Reset() != "" || len(s.Replay()) != 0 {
				t.Fatalf("no Last-Event-ID: resumed %v, reset %q, replay %d", s.Resumed(), s.Reset(), len(s.Replay()))
			}
			return
		}
		if s.Resumed() == (s.Reset() != "") {
			t.Fatalf("Last-Event-ID %q: resumed %v and reset %q", id, s.Resumed(), s.Reset())
		}
		_, after, _ := parseID(id)
		for _, e := range s.Replay() {
			if _, seq, _ := parseID(e.ID); seq <= after {
				t.Fatalf("Last-Event-ID %q replayed %s", id, e.ID)
			}
		}
	})
}

// FuzzDecodeWire feeds arbitrary NATS messages through decoding and
// validation: never a panic, and whatever is accepted frames cleanly.
func FuzzDecodeWire(f *testing.F) {
	h, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	good, _ := json.Marshal(wireEvent{V: 1, Origin: "n/e", Type: console.EventAgentOnline, Time: time.Unix(1, 0),
		Account: "usr_a", Audience: console.AudienceOwner, Data: json.RawMessage(`{"agent_id":"pi"}`)})
	f.Add(good)
	f.Add([]byte(`{"v":1,"origin":"o","type":"account.updated","account":"a","user":"a","audience":"self","data":{"x":"\u2028\n"}}`))
	f.Add([]byte(`{"v":1,"origin":"o","type":"x.y","audience":"admins","data":{ "a" : [1, 2] }}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, _, err := decodeWire(data)
		if err != nil {
			return
		}
		e, err = h.prepare(e)
		if err != nil {
			return
		}
		e.ID = formatID(h.epoch, 1)
		frame, err := console.AppendEventFrame(nil, e)
		if err != nil {
			t.Fatalf("accepted event %+v does not frame: %v", e, err)
		}
		if got := strings.Count(string(frame), "\n"); got != 4 {
			t.Fatalf("frame of an accepted event has %d line breaks, want 4:\n%s", got, frame)
		}
		var line struct {
			Data json.RawMessage `json:"data"`
		}
		dataLine := strings.Split(string(frame), "\n")[2]
		if err := json.Unmarshal([]byte(strings.TrimPrefix(dataLine, "data: ")), &line); err != nil {
			t.Fatalf("data line %q is not JSON: %v", dataLine, err)
		}
	})
}
