package relay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// seedFrames are the seed corpus of FuzzParseEnvelope and the table of
// TestParseEnvelope's accepting cases.
var seedFrames = []string{
	`{"type":"auth","api_token":"wl_00","client_type":"client"}`,
	`{"type":"relay","agent_id":"pi","mid":"m-1","packet":"{\"v\":1}"}`,
	`{"type":"relay","conn":"n1:17","packet":"x"}`,
	`{"type":"ping","ts":"t"}`,
	`{"type":"pong"}`,
	` { "type" : "relay" , "packet" : "\u0041\ud83d\ude00" , "x" : [1, -2.5e3, true, false, null, {"y": []}] } `,
	`{"extra":{"a":[[[]]]},"type":"x"}`,
	`{"type":"relay","mid":5}`,
	`{"t\u0079pe":"relay"}`,
	`{"type":"a","type":"b"}`,
	`{"type":"relay","packet":"` + strings.Repeat("p", 300) + `"}`,
}

func TestParseEnvelope(t *testing.T) {
	var e envelope
	if err := parseEnvelope([]byte(seedFrames[1]), &e); err != nil {
		t.Fatal(err)
	}
	if string(e.typ) != "relay" || string(e.agentID) != "pi" || string(e.mid) != "m-1" || string(e.packet) != `"{\"v\":1}"` {
		t.Fatalf("got %+v", e)
	}
	if err := parseEnvelope([]byte(seedFrames[5]), &e); err != nil || string(e.packet) != `"\u0041\ud83d\ude00"` {
		t.Fatalf("packet token: %q %v", e.packet, err)
	}
	if err := parseEnvelope([]byte(seedFrames[7]), &e); err != nil || e.badField != "mid" {
		t.Fatalf("non-string mid: %+v %v", e, err)
	}
	if err := parseEnvelope([]byte(seedFrames[8]), &e); err != nil || string(e.typ) != "relay" {
		t.Fatalf("escaped key: %+v %v", e, err)
	}
	if err := parseEnvelope([]byte(seedFrames[9]), &e); err != nil || string(e.typ) != "b" {
		t.Fatalf("duplicate key: %+v %v", e, err)
	}
	for _, s := range seedFrames {
		if err := parseEnvelope([]byte(s), &e); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``, `x`, `[]`, `"type"`, `{}`, `{"type":1}`, `{"type":null}`, `{"type":"a"`, `{"type":"a"}x`,
		`{"type":"a",}`, `{"type":"a" "b":1}`, `{"type":"a","b":01}`, `{"type":"a","b":1.}`, `{"type":"a","b":-}`,
		`{"type":"a","b":tru}`, `{"type":"\x01"}`, `{"type":"\q"}`, `{"type":"\u12"}`, "{\"type\":\"\xff\"}",
		`{"type":"a","b":[1,]}`, `{"type":"a","b":{"c"}}`, `{"type":"a","b":{1:2}}`,
		`{"type":"a","b":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `}`,
	}
	for _, s := range bad {
		if err := parseEnvelope([]byte(s), &e); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
	deep := `{"type":"a","b":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`
	if err := parseEnvelope([]byte(deep), &e); err != nil {
		t.Errorf("depth %d refused: %v", maxJSONDepth, err)
	}
}

// FuzzParseEnvelope checks the envelope scanner against encoding/json: it
// never panics, accepts only valid JSON objects with a string type, reads
// the same type and packet, and accepts every such object that is UTF-8
// and nested at most maxJSONDepth.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range seedFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e envelope
		err := parseEnvelope(b, &e)
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(b, &m)
		var typ string
		typeOK := jerr == nil && json.Unmarshal(m["type"], &typ) == nil && len(bytes.TrimSpace(m["type"])) > 0 && m["type"][0] == '"'
		if err == nil {
			if !json.Valid(b) || jerr != nil || !typeOK {
				t.Fatalf("accepted %q, which encoding/json refuses", b)
			}
			if string(e.typ) != typ {
				t.Fatalf("%q: type %q, encoding/json %q", b, e.typ, typ)
			}
			if e.packet != nil {
				var want, got string
				if json.Unmarshal(m["packet"], &want) != nil || json.Unmarshal(e.packet, &got) != nil || got != want {
					t.Fatalf("%q: packet %q, encoding/json %q", b, e.packet, m["packet"])
				}
			}
			return
		}
		if typeOK && utf8.Valid(b) && depth(b) <= maxJSONDepth {
			t.Fatalf("refused %q (%v), a valid object with a string type", b, err)
		}
	})
}

// depth is the maximum bracket nesting outside strings.
func depth(b []byte) int {
	d, maxD, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			d++
			maxD = max(maxD, d)
		case !inStr && (c == '}' || c == ']'):
			d--
		}
	}
	return maxD - 1 // the envelope object itself
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\r\t", "ü€𝄞", "</script>"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("%q: encoded %s, decoded %q %v", s, b, got, err)
		}
	}
}

func TestParseConnID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		node string
		seq  uint64
		ok   bool
	}{
		{"n1:17", "n1", 17, true},
		{"a:b:3", "a:b", 3, true},
		{"n1:", "", 0, false},
		{":5", "", 0, false},
		{"n1:x", "", 0, false},
		{"n1:99999999999999999999", "", 0, false},
		{"", "", 0, false},
		{strings.Repeat("n", 64) + ":1", "", 0, false},
	} {
		node, seq, ok := parseConnID(tc.in)
		if ok != tc.ok || (ok && (node != tc.node || seq != tc.seq)) {
			t.Errorf("parseConnID(%q) = %q %d %v", tc.in, node, seq, ok)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	msgs := []*Message{
		{Kind: MsgFrame, Node: "n1", Account: "acct", AgentID: "pi", Conn: "n1:5", MID: "m", Packet: []byte(`"x"`)},
		{Kind: MsgPresence, Node: "n2", Account: "a", AgentID: "b", Conn: "n2:1", Status: "online",
			Time: time.Unix(1700000000, 123), EWSPVersions: []string{"1.0", "2"}, FirmwareVersion: "1", Platform: "p", RemoteIP: "::1"},
		{Kind: MsgKick, Node: "n3", Account: "a", CredentialIDs: []string{"ses_1", "tok_2"}, TargetKind: KindClient, Code: 4001, All: true},
		{Kind: MsgAck, Conn: "n1:1", MID: "m", Status: "delivered", Peer: "n2:2"},
	}
	for _, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) || got.Kind != m.Kind || got.Account != m.Account || !got.Time.Equal(m.Time) ||
			string(got.Packet) != string(m.Packet) || len(got.CredentialIDs) != len(m.CredentialIDs) {
			t.Fatalf("round trip: %+v -> %+v", m, got)
		}
		// Every truncation fails cleanly.
		for i := range b {
			if err := got.UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("%+v truncated to %d decoded", m, i)
			}
		}
	}
}

func FuzzMessage(f *testing.F) {
	m := &Message{Kind: MsgReply, Node: "n1", Account: "a", AgentID: "pi", Conn: "n2:9", Peer: "n1:3", MID: "x", Packet: []byte(`"p"`)}
	b, _ := m.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 7, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.UnmarshalBinary(b) != nil {
			return
		}
		b2, _ := m.MarshalBinary()
		var m2 Message
		if err := m2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoding of a decoded message does not decode: %v", err)
		}
	})
}

func TestEnvelopeAllocs(t *testing.T) {
	frame := []byte(`{"type":"relay","agent_id":"pi","mid":"m-1","packet":"` + strings.Repeat("a", 200) + `"}`)
	var e envelope
	out := make([]byte, 0, 1024)
	n := testing.AllocsPerRun(100, func() {
		if parseEnvelope(frame, &e) != nil {
			t.Fatal("parse")
		}
		out = appendRelayToAgent(out[:0], "n1:12345", e.mid, e.packet)
		out = appendAck(out[:0], &ack{mid: e.mid, status: ackDelivered, agentID: e.agentID})
	})
	if n != 0 {
		t.Fatalf("%v allocations per frame, want 0", n)
	}
}

func BenchmarkParseEnvelope(b *testing.B) {
	frame := []byte(`{"type":"relay","agent_id":"pi","mid":"m-1","packet":"` + strings.Repeat("a", 256) + `"}`)
	var e envelope
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		parseEnvelope(frame, &e)
	}
}
