package ewsp

import (
	"strings"
	"testing"
)

// Reader cases from EWSP.md §1.6 beyond json_codec.json; expectations follow
// from the C semantics the section describes (strtoll, C strings, isspace).

func TestReaderUint(t *testing.T) {
	tests := []struct {
		json string
		want uint64
		code Code
	}{
		{`{"a":0}`, 0, CodeOK},
		{`{"a":+5}`, 5, CodeOK},
		{`{"a":-0}`, 0, CodeOK},
		{`{"a":-1}`, 1<<64 - 1, CodeOK},
		{`{"a":00012}`, 12, CodeOK},
		{`{"a":1.9}`, 1, CodeOK},
		{`{"a":1e3}`, 1, CodeOK},
		{`{"a":9223372036854775807}`, 1<<63 - 1, CodeOK},
		{`{"a":9223372036854775808}`, 1<<63 - 1, CodeOK},
		{`{"a":18446744073709551615}`, 1<<63 - 1, CodeOK},
		{`{"a":99999999999999999999999999999}`, 1<<63 - 1, CodeOK},
		{`{"a":-9223372036854775807}`, 1<<63 + 1, CodeOK},
		{`{"a":-9223372036854775808}`, 1 << 63, CodeOK},
		{`{"a":-9223372036854775809}`, 1 << 63, CodeOK},
		{`{"a":-99999999999999999999999}`, 1 << 63, CodeOK},
		{`{"a":- 5}`, 0, CodeInvalidJSON},
		{`{"a":+}`, 0, CodeInvalidJSON},
		{`{"a":}`, 0, CodeInvalidJSON},
		{`{"a":`, 0, CodeInvalidJSON},
		{`{"a":"1"}`, 0, CodeInvalidJSON},
		{`{"a":true}`, 0, CodeInvalidJSON},
		{`{"b":1}`, 0, CodeMissingField},
	}
	for _, tt := range tests {
		got, code := refUint([]byte(tt.json), "a")
		if code != tt.code || (code == CodeOK && got != tt.want) {
			t.Errorf("refUint(%s) = %d, %v; want %d, %v", tt.json, got, code, tt.want, tt.code)
		}
	}
}

func TestReaderString(t *testing.T) {
	tests := []struct {
		json string
		max  int
		want string
		code Code
	}{
		{`{"a":"x\u0041y"}`, 100, "xu0041y", CodeOK},
		{`{"a":"x\/y\by\fz"}`, 100, "x/ybyfz", CodeOK},
		{`{"a":"1\n2\r3\t4"}`, 100, "1\n2\r3\t4", CodeOK},
		{`{"a":"q\"q\\q"}`, 100, `q"q\q`, CodeOK},
		{`{"a":"unterminated`, 100, "unterminated", CodeOK},
		{`{"a":"ends in \`, 100, `ends in \`, CodeOK},
		{`{"a":"12345"}`, 5, "12345", CodeOK},
		{`{"a":"123456"}`, 5, "", CodeBufferTooSmall},
		{`{"a":"1234\n"}`, 5, "1234\n", CodeOK},
		{`{"a":"1234\n6"}`, 5, "", CodeBufferTooSmall},
		{`{"a":5}`, 100, "", CodeInvalidJSON},
		{`{"a":`, 100, "", CodeInvalidJSON},
		{`{ "b" : 1 , "a" : "sp" }`, 100, "sp", CodeOK},
		{"\v{\f\"a\"\v:\r\"ws\"}", 100, "ws", CodeOK},
		{`{"a" "nocolon"}`, 100, "nocolon", CodeOK},
		{`{"a"::"two"}`, 100, "", CodeInvalidJSON},
		{`{"a\"":"esc","a":"plain"}`, 100, "plain", CodeOK},
		{`{"b":{"a":"in"},"a":"out"}`, 100, "out", CodeOK},
		{`{"b":["a",{"a":1}],"a":"out"}`, 100, "out", CodeOK},
		{`{"b":"x\"a\":1","a":"out"}`, 100, "out", CodeOK},
		{`{"a":"first","a":"second"}`, 100, "first", CodeOK},
		{`{"b":1]"a":"x"}`, 100, "", CodeMissingField},
		{`{"b":1 x "a":"x"}`, 100, "", CodeMissingField},
		{`{,,"a":"commas"}`, 100, "commas", CodeOK},
		{`{"b":}"a":"x"}`, 100, "", CodeMissingField},
		{`["a"]`, 100, "", CodeMissingField},
		{`"a":"x"`, 100, "", CodeMissingField},
		{``, 100, "", CodeMissingField},
		{`{"A":"x"}`, 100, "", CodeMissingField},
	}
	for _, tt := range tests {
		got, code := refString(nil, []byte(tt.json), "a", tt.max)
		if code != tt.code || string(got) != tt.want {
			t.Errorf("refString(%q) = %q, %v; want %q, %v", tt.json, got, code, tt.want, tt.code)
		}
	}
}

func TestReaderRaw(t *testing.T) {
	tests := []struct {
		json, want string
		code       Code
	}{
		{`{"a":]{{}}`, `]{{}`, CodeOK},
		{`{"a":-1}`, `-1}`, CodeOK},
		{`{"a":{"b":[1,"}",{"c":2}]},"z":0}`, `{"b":[1,"}",{"c":2}]}`, CodeOK},
		{`{"a":[1,2],"b":3}`, `[1,2]`, CodeOK},
		{`{"a":{"s":"\"}"}}`, `{"s":"\"}"}`, CodeOK},
		{`{"a":1,"b":{}}`, `1,"b":{}`, CodeOK},
		{`{"a":}{}`, `}{}`, CodeOK},
		{`{"a":`, ``, CodeOK},
		{`{"b":1}`, ``, CodeMissingField},
	}
	for _, tt := range tests {
		got, code := refRaw([]byte(tt.json), "a")
		if code != tt.code || string(got) != tt.want {
			t.Errorf("refRaw(%q) = %q, %v; want %q, %v", tt.json, got, code, tt.want, tt.code)
		}
	}
	// The 2048-byte limit, and the extra byte a final string backslash counts.
	head := `{"a":`
	for _, tt := range []struct {
		value string
		code  Code
	}{
		{`"` + strings.Repeat("x", 2045) + `"`, CodeOK},             // 2047 bytes
		{`"` + strings.Repeat("x", 2046) + `"`, CodeBufferTooSmall}, // 2048 bytes
		{`"` + strings.Repeat("x", 2045) + `\`, CodeBufferTooSmall}, // 2047 + 1
		{`"` + strings.Repeat("x", 2044) + `\`, CodeOK},             // 2046 + 1
		{`[` + strings.Repeat("1", 2045) + `]`, CodeOK},
		{`[` + strings.Repeat("1", 2046) + `]`, CodeBufferTooSmall},
	} {
		got, code := refRaw([]byte(head+tt.value), "a")
		if code != tt.code {
			t.Errorf("refRaw of a %d-byte value: %v, want %v", len(tt.value), code, tt.code)
		}
		if code == CodeOK && string(got) != tt.value {
			t.Errorf("refRaw of a %d-byte value returned %d bytes", len(tt.value), len(got))
		}
	}
}

func TestReaderCString(t *testing.T) {
	in := cString([]byte("{\"a\":1\x00,\"b\":2}"))
	if _, code := refUint(in, "b"); code != CodeMissingField {
		t.Errorf("key after 0x00: %v, want MISSING_FIELD", code)
	}
	if v, code := refUint(in, "a"); code != CodeOK || v != 1 {
		t.Errorf("key before 0x00: %d, %v", v, code)
	}
}

// TestParseEnvelopeMatchesReader checks the one-walk envelope reader against
// the reference functions applied key by key.
func TestParseEnvelopeMatchesReader(t *testing.T) {
	for _, in := range []string{
		`{"cmd":"ping","d":{},"rid":"X7K2M9P1"}`,
		`{"status":"ok","d":{"pong":true},"rid":"X7K2M9P1"}`,
		`{"d":]{{}},"cmd":"x"}`,
		`{"d":{"a":[1,2]},"d":5,"rid":"R","cmd":"c"}`,
		`{"rid":"AB\"CDEFGHIJ","cmd":"pi\ng"}`,
		`{"d":"\`,
		`{"d":-1,"x":2}`,
		`this is not json`,
		`{"cmd":5,"rid":7,"d":}`,
		"{\"cmd\":\"ping\x00\",\"d\":{}}",
	} {
		checkEnvelope(t, []byte(in))
	}
}

func checkEnvelope(t *testing.T, inner []byte) {
	t.Helper()
	got := ParseEnvelope(inner)
	in := cString(inner)
	want := Envelope{IsResponse: refFind(in, "cmd") < 0, Data: in}
	if s, code := refString(nil, in, "cmd", len(in)); code == CodeOK {
		want.Command = Command(s[:min(len(s), MaxCommandLen)])
	}
	if s, code := refString(nil, in, "rid", len(in)); code == CodeOK {
		want.RequestID = string(s[:min(len(s), RequestIDLen)])
	}
	if d, code := refRaw(in, "d"); code == CodeOK {
		want.Data = d
	}
	if got.IsResponse != want.IsResponse || got.Command != want.Command ||
		got.RequestID != want.RequestID || string(got.Data) != string(want.Data) {
		t.Errorf("ParseEnvelope(%q) = %+v, want %+v", inner, got, want)
	}
}
