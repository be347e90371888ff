package console_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/restapi/console"
)

var ts = time.Date(2026, 1, 6, 18, 20, 3, 0, time.UTC)

func TestAppendEventFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   console.Event
		want string
	}{
		{"event", console.Event{ID: "0190a3c4e5f6a1b2-42", Type: console.EventAgentDeleted, Time: ts,
			Account: "usr_a", Data: json.RawMessage(`{"agent_id":"pi"}`)},
			"id: 0190a3c4e5f6a1b2-42\nevent: agent.deleted\n" +
				`data: {"id":"0190a3c4e5f6a1b2-42","type":"agent.deleted","ts":"2026-01-06T18:20:03.000Z","data":{"agent_id":"pi"}}` + "\n\n"},
		{"nil data", console.Event{ID: "x", Type: console.EventClaimUsed, Time: ts},
			"id: x\nevent: claim.used\n" + `data: {"id":"x","type":"claim.used","ts":"2026-01-06T18:20:03.000Z","data":{}}` + "\n\n"},
		{"id escaped in JSON", console.Event{ID: `a"b\c` + "\t", Type: "x", Time: ts.In(time.FixedZone("X", 3600))},
			"id: a\"b\\c\t\nevent: x\n" + `data: {"id":"a\"b\\c\u0009","type":"x","ts":"2026-01-06T18:20:03.000Z","data":{}}` + "\n\n"},
		{"ready", console.ReadyEvent(ts, true),
			"event: ready\n" + `data: {"type":"ready","ts":"2026-01-06T18:20:03.000Z","data":{"server_time":"2026-01-06T18:20:03.000Z","resumed":true}}` + "\n\n"},
		{"ready, fresh", console.ReadyEvent(ts, false),
			"event: ready\n" + `data: {"type":"ready","ts":"2026-01-06T18:20:03.000Z","data":{"server_time":"2026-01-06T18:20:03.000Z","resumed":false}}` + "\n\n"},
		{"reset gap", console.ResetEvent(ts, console.ResetGap),
			"event: reset\n" + `data: {"type":"reset","ts":"2026-01-06T18:20:03.000Z","data":{"reason":"gap"}}` + "\n\n"},
		{"reset restart", console.ResetEvent(ts, console.ResetRestart),
			"event: reset\n" + `data: {"type":"reset","ts":"2026-01-06T18:20:03.000Z","data":{"reason":"restart"}}` + "\n\n"},
		{"reset, unknown reason", console.ResetEvent(ts, "other\n"),
			"event: reset\n" + `data: {"type":"reset","ts":"2026-01-06T18:20:03.000Z","data":{"reason":"restart"}}` + "\n\n"},
		{"heartbeat", console.HeartbeatEvent(ts),
			"event: heartbeat\n" + `data: {"type":"heartbeat","ts":"2026-01-06T18:20:03.000Z","data":{"ts":"2026-01-06T18:20:03.000Z"}}` + "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := console.AppendEventFrame([]byte("prefix"), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, "prefix"+tc.want)
			}
			// The data line is the API's Event JSON.
			line := strings.Split(strings.TrimPrefix(string(got), "prefix"), "\n")
			data := line[len(line)-3]
			var e struct {
				ID   *string         `json:"id"`
				Type string          `json:"type"`
				TS   time.Time       `json:"ts"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &e); err != nil {
				t.Fatalf("data line %q: %v", data, err)
			}
			if e.Type != tc.ev.Type || !e.TS.Equal(tc.ev.Time) || (e.ID == nil) != (tc.ev.ID == "") {
				t.Errorf("data line %q does not match the event %+v", data, tc.ev)
			}
		})
	}
}

func TestAppendEventFrameRefusesBrokenFrames(t *testing.T) {
	for name, ev := range map[string]console.Event{
		"no type":       {ID: "1"},
		"type newline":  {Type: "agent.created\nevent: x"},
		"type space":    {Type: "agent created"},
		"id newline":    {ID: "1\ndata: forged", Type: "x"},
		"id CR":         {ID: "1\r", Type: "x"},
		"id NUL":        {ID: "1\x00", Type: "x"},
		"id bad UTF-8":  {ID: "\xff", Type: "x"},
		"id long":       {ID: strings.Repeat("1", console.MaxEventIDLen+1), Type: "x"},
		"data newline":  {Type: "x", Data: json.RawMessage("{\n}")},
		"data CR":       {Type: "x", Data: json.RawMessage("{\r}")},
		"data injected": {Type: "x", Data: json.RawMessage("{}\n\nevent: agent.deleted\ndata: {}")},
	} {
		got, err := console.AppendEventFrame([]byte("keep"), ev)
		if !errors.Is(err, console.ErrInvalidEvent) || string(got) != "keep" {
			t.Errorf("%s: got %q, %v; want the buffer unchanged and ErrInvalidEvent", name, got, err)
		}
	}
}

func TestAppendEventFrameAllocs(t *testing.T) {
	ev := console.Event{ID: "0190a3c4e5f6a1b2-42", Type: console.EventAgentOnline, Time: ts, Data: json.RawMessage(`{"agent_id":"pi"}`)}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = console.AppendEventFrame(buf[:0], ev)
	}); n != 0 {
		t.Errorf("AppendEventFrame into a large enough buffer allocates %v times, want 0", n)
	}
}

// FuzzAppendEventFrame: whatever the event, the output is either nothing
// (ErrInvalidEvent) or exactly one frame that an SSE parser reads back as
// the event's id and type.
func FuzzAppendEventFrame(f *testing.F) {
	f.Add("0190a3c4e5f6a1b2-42", "agent.online", `{"agent_id":"pi"}`)
	f.Add("", "ready", `{}`)
	f.Add("1\n", "x", "{}")
	f.Add("\"\\", "a.b_c", "{\"a\":\"\\n\"}")
	f.Fuzz(func(t *testing.T, id, typ, data string) {
		ev := console.Event{ID: id, Type: typ, Time: ts, Data: json.RawMessage(data)}
		out, err := console.AppendEventFrame(nil, ev)
		if err != nil {
			if len(out) != 0 {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		// Parse as an EventSource would (lines end at CR, LF or CRLF).
		var gotID, gotType string
		var frames, dataLines int
		sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(out), "\r", "\n")))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				frames++
			case strings.HasPrefix(line, "id: "):
				gotID = line[4:]
			case strings.HasPrefix(line, "event: "):
				gotType = line[7:]
			case strings.HasPrefix(line, "data: "):
				dataLines++
			default:
				t.Fatalf("unexpected line %q in %q", line, out)
			}
		}
		if frames != 1 || dataLines != 1 || gotID != id || gotType != typ {
			t.Fatalf("event %+v framed as %q: %d frames, %d data lines, id %q, type %q", ev, out, frames, dataLines, gotID, gotType)
		}
		if json.Valid([]byte(data)) {
			line := strings.Split(string(out), "\n")[len(strings.Split(string(out), "\n"))-3]
			if !json.Valid([]byte(strings.TrimPrefix(line, "data: "))) {
				t.Fatalf("valid data %q gave an invalid data line %q", data, line)
			}
		}
	})
}

func TestValidEventType(t *testing.T) {
	for s, want := range map[string]bool{
		"agent.created": true, "ota.release.updated": true, "agent.token_rotated": true, "x": true,
		"": false, "Agent": false, ".a": false, "a.": false, "a..b": false, "a._b": false, "_a": false,
		"a-b": false, "a.1": false, "a b": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := console.ValidEventType(s); got != want {
			t.Errorf("ValidEventType(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAudienceOf(t *testing.T) {
	for typ, want := range map[string]console.Audience{
		console.EventAgentCreated: console.AudienceOwner, console.EventAgentUpdated: console.AudienceOwner,
		console.EventAgentDeleted: console.AudienceOwner, console.EventAgentOnline: console.AudienceOwner,
		console.EventAgentOffline: console.AudienceOwner, console.EventAgentTokenRotated: console.AudienceOwner,
		console.EventClaimUsed: console.AudienceOwner, console.EventOTAProgress: console.AudienceOwner,
		console.EventOTAReleaseUpdated: console.AudienceAdmins, console.EventOTARolloutUpdated: console.AudienceAdmins,
		console.EventOTARolloutHalted: console.AudienceAdmins, console.EventBackupUpdated: console.AudienceAdmins,
		console.EventSettingsUpdated: console.AudienceAdmins,
		console.EventAccountUpdated:  console.AudienceSelf, console.EventSessionRevoked: console.AudienceSelf,
	} {
		if got, ok := console.AudienceOf(typ); !ok || got != want {
			t.Errorf("AudienceOf(%q) = %q, %v; want %q", typ, got, ok, want)
		}
		if !console.ValidEventType(typ) || console.IsStreamEvent(typ) {
			t.Errorf("%q: not a valid published event name", typ)
		}
	}
	for _, typ := range []string{console.EventReady, console.EventReset, console.EventHeartbeat, "future.thing"} {
		if a, ok := console.AudienceOf(typ); ok {
			t.Errorf("AudienceOf(%q) = %q, want none", typ, a)
		}
	}
}

// TestEventNamesMatchOpenAPI keeps the constants and the EventType enum of
// /openapi.yaml in step.
func TestEventNamesMatchOpenAPI(t *testing.T) {
	spec, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Skip("openapi.yaml not found:", err)
	}
	s := string(spec)
	i := strings.Index(s, "\n    EventType:")
	j := strings.Index(s[i:], "x-enum-varnames:")
	if i < 0 || j < 0 {
		t.Fatal("EventType enum not found in openapi.yaml")
	}
	var enum []string
	for _, line := range strings.Split(s[i:i+j], "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "- "); ok {
			enum = append(enum, v)
		}
	}
	var ours []string
	for _, typ := range []string{
		console.EventAgentCreated, console.EventAgentUpdated, console.EventAgentDeleted, console.EventAgentOnline,
		console.EventAgentOffline, console.EventAgentTokenRotated, console.EventClaimUsed, console.EventOTAProgress,
		console.EventOTAReleaseUpdated, console.EventOTARolloutUpdated, console.EventOTARolloutHalted,
		console.EventAccountUpdated, console.EventSessionRevoked, console.EventBackupUpdated,
		console.EventSettingsUpdated, console.EventReady, console.EventReset, console.EventHeartbeat,
	} {
		ours = append(ours, typ)
	}
	if fmt.Sprint(enum) != fmt.Sprint(ours) {
		t.Errorf("openapi.yaml EventType enum %v, constants %v", enum, ours)
	}
}

func TestStreamLimitError(t *testing.T) {
	var err error = fmt.Errorf("subscribe: %w", &console.StreamLimitError{Limit: 10})
	var lim *console.StreamLimitError
	if !errors.Is(err, console.ErrTooManyStreams) || !errors.As(err, &lim) || lim.Limit != 10 {
		t.Errorf("%v: want errors.Is ErrTooManyStreams and As *StreamLimitError{10}", err)
	}
	if errors.Is(err, console.ErrEventsUnavailable) {
		t.Error("StreamLimitError matches ErrEventsUnavailable")
	}
}

func ExampleAppendEventFrame() {
	now := time.Date(2026, 1, 6, 18, 20, 0, 0, time.UTC)
	var buf []byte
	buf, _ = console.AppendEventFrame(buf, console.ReadyEvent(now, false))
	buf, _ = console.AppendEventFrame(buf, console.Event{
		ID:   "019b94898c68e1c0-42",
		Type: console.EventAgentDeleted,
		Time: now.Add(3 * time.Second),
		Data: json.RawMessage(`{"agent_id":"pi-livingroom"}`),
	})
	fmt.Print(string(buf))
	// Output:
	// event: ready
	// data: {"type":"ready","ts":"2026-01-06T18:20:00.000Z","data":{"server_time":"2026-01-06T18:20:00.000Z","resumed":false}}
	//
	// id: 019b94898c68e1c0-42
	// event: agent.deleted
	// data: {"id":"019b94898c68e1c0-42","type":"agent.deleted","ts":"2026-01-06T18:20:03.000Z","data":{"agent_id":"pi-livingroom"}}
}
