package ewsp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	b, _ := hex.DecodeString("174552889cd7e71b")
	rid, err := NewRequestID(bytes.NewReader(b))
	if err != nil || rid != "X7K2M9P1" {
		t.Errorf("NewRequestID = %q, %v; want X7K2M9P1", rid, err)
	}
	if _, err := NewRequestID(bytes.NewReader(b[:7])); !errors.Is(err, ErrEncryptFailed) {
		t.Errorf("short source: %v", err)
	}
	// Every byte value maps into the alphabet (mod 36).
	for v := range 256 {
		rid, _ := NewRequestID(bytes.NewReader(bytes.Repeat([]byte{byte(v)}, 8)))
		if !ValidRequestID(rid) || rid[0] != RequestIDAlphabet[v%36] {
			t.Fatalf("byte %d gives %q", v, rid)
		}
	}
	for rid, want := range map[string]bool{
		"ABCD1234": true, "X7K2M9P1": true, "abcd1234": false, "ABCD123": false,
		"ABCD12345": false, "ABCD-234": false, "": false, "ÄBCD123": false,
	} {
		if ValidRequestID(rid) != want {
			t.Errorf("ValidRequestID(%q) = %t", rid, !want)
		}
	}
}

func TestAppendRequest(t *testing.T) {
	got, err := AppendRequest([]byte("x"), CmdWake, []byte(` {"mac":"AA:BB:CC:DD:EE:FF"} `), "ABCD1234")
	if err != nil || string(got) != `x{"cmd":"wake","d": {"mac":"AA:BB:CC:DD:EE:FF"} ,"rid":"ABCD1234"}` {
		t.Errorf("got %s, %v (data is copied verbatim)", got, err)
	}
	for _, tt := range []struct {
		cmd  Command
		data string
		rid  string
		code Code
	}{
		{"PING", "", "ABCD1234", CodeUnknownCommand},
		{"status", "", "ABCD1234", CodeUnknownCommand},
		{"session_init", "", "ABCD1234", CodeUnknownCommand},
		{CmdPing, "", "abcd1234", CodeInvalidParams},
		{CmdWake, "[1]", "ABCD1234", CodeInvalidParams},
		{CmdWake, `"x"`, "ABCD1234", CodeInvalidParams},
		{CmdWake, `{"a":1`, "ABCD1234", CodeInvalidParams},
		{CmdWake, `{"a":1}{}`, "ABCD1234", CodeInvalidParams},
		{CmdWake, ` `, "ABCD1234", CodeInvalidParams},
	} {
		if _, err := AppendRequest(nil, tt.cmd, []byte(tt.data), tt.rid); codeOf(err) != tt.code {
			t.Errorf("AppendRequest(%q, %q, %q): %v, want %d", tt.cmd, tt.data, tt.rid, err, tt.code)
		}
	}
}

func TestCommands(t *testing.T) {
	seen := map[int]bool{}
	for i, c := range Commands() {
		if c.Type() != i+1 || seen[c.Type()] || !c.Known() {
			t.Errorf("%s: type %d at position %d", c, c.Type(), i)
		}
		seen[c.Type()] = true
		if internCommand([]byte(c)) != c {
			t.Errorf("internCommand(%s)", c)
		}
	}
	if len(seen) != 21 {
		t.Errorf("%d commands, want 21", len(seen))
	}
	for _, name := range []string{"PING", "status", "session_init", "session_confirm", "", "Ping", "set_config"} {
		if Command(name).Type() != 0 || Command(name).RequiresData() {
			t.Errorf("%q looks up as type %d", name, Command(name).Type())
		}
	}
	data := map[Command]bool{CmdWake: true, CmdWebControl: true, CmdCloudControl: true, CmdUpdateToken: true,
		CmdSetCloud: true, CmdSetWiFi: true, CmdSetDeviceID: true, CmdSetWebAuth: true, CmdChainSync: true}
	for _, c := range Commands() {
		if c.RequiresData() != data[c] {
			t.Errorf("%s.RequiresData() = %t", c, c.RequiresData())
		}
	}
}

func TestParseRequest(t *testing.T) {
	for _, tt := range []struct {
		inner string
		code  Code
	}{
		{`{"cmd":"ping","d":{},"rid":"ABCD1234"}`, CodeOK},
		{`{"cmd":"ping","rid":"ABCD1234"}`, CodeOK},
		{`this is not json`, CodeInvalidJSON},
		{`[{"cmd":"ping"}]`, CodeInvalidJSON},
		{`{"cmd":"ping"`, CodeInvalidJSON},
		{`{"status":"ok"}`, CodeUnknownCommand},
		{`{"cmd":"PING"}`, CodeUnknownCommand},
		{`{"cmd":5}`, CodeUnknownCommand},
		{`{"cmd":"wake","d":[1]}`, CodeInvalidParams},
		{`{"cmd":"wake","d":"x"}`, CodeInvalidParams},
	} {
		r, err := ParseRequest([]byte(tt.inner))
		if codeOf(err) != tt.code {
			t.Errorf("ParseRequest(%s): %v, want %d", tt.inner, err, tt.code)
		}
		if err == nil && (r.Command != CmdPing || r.RequestID != "ABCD1234") {
			t.Errorf("ParseRequest(%s) = %+v", tt.inner, r)
		}
	}
}

func TestEnvelopeCuts(t *testing.T) {
	long := strings.Repeat("c", 40)
	e := ParseEnvelope([]byte(`{"cmd":"` + long + `","rid":"ABCDEFGHIJKL"}`))
	if string(e.Command) != long[:MaxCommandLen] || e.RequestID != "ABCDEFGH" || e.IsResponse {
		t.Errorf("cuts: %+v", e)
	}
	e = ParseEnvelope([]byte(`{"cmd":"pi\ng","rid":7}`))
	if e.Command != "pi\ng" || e.RequestID != "" {
		t.Errorf("escapes: %+v", e)
	}
	e = ParseEnvelope([]byte(`this is not json`))
	if !e.IsResponse || string(e.Data) != "this is not json" {
		t.Errorf("non-JSON: %+v", e)
	}
}

func TestReplies(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{string(AppendOK(nil, "R1")), `{"status":"ok","rid":"R1"}`},
		{string(AppendOK(nil, "")), `{"status":"ok"}`},
		{string(AppendPong(nil, "")), `{"status":"ok","d":{"pong":true}}`},
		{string(AppendErrorReply(nil, CodeNotSupported, "", "")), `{"status":"error","error":"NOT_SUPPORTED","message":"Command not supported"}`},
		{string(AppendErrorReply(nil, -506, "d\"x", "R")), `{"status":"error","error":"UNKNOWN","message":"Unknown error","detail":"d\"x","rid":"R"}`},
	} {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	if _, err := AppendReply(nil, "ok", []byte(`{`), ""); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("invalid reply data: %v", err)
	}
	r := ParseReply([]byte(`{"status":"error","error":"DEVICE_BUSY","message":"busy","rid":"ABCDEFGHIJ","d":[1]}`))
	if r.OK || r.Code != CodeDeviceBusy || r.Message != "busy" || r.RequestID != "ABCDEFGH" || string(r.Data) != "[1]" {
		t.Errorf("ParseReply: %+v", r)
	}
	if err := r.Err(); !errors.Is(err, ErrDeviceBusy) || strings.Contains(err.Error(), "busy\"") {
		t.Errorf("Reply.Err: %v", err)
	}
	for _, in := range []string{`{"status":"OK"}`, `{"status":"success"}`, `{"status":ok}`, `{}`, `x`} {
		if r := ParseReply([]byte(in)); r.OK || r.Code != CodeUnknown {
			t.Errorf("ParseReply(%s) = %+v, want failure -9999", in, r)
		}
	}
	if r := ParseReply([]byte(`{"status":"o\k"}`)); !r.OK {
		t.Errorf(`status "o\k" reads as ok in the reference: %+v`, r)
	}
}

func TestMACLenient(t *testing.T) {
	for _, s := range []string{
		"aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aa-bb:cc-dd:ee-ff", "aabb.ccdd.eeff",
		"AABB.CCDD.EEFF", "aabbccddeeff", "AaBbCcDdEeFf", "  aa:bb:cc:dd:ee:ff\t", "\naabbccddeeff ",
	} {
		m, err := ParseMACLenient(s)
		if err != nil || m.String() != "AA:BB:CC:DD:EE:FF" {
			t.Errorf("ParseMACLenient(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{
		"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aabb.ccdd.eefg", "aabb-ccdd-eeff", "aa:bb:cc:dd:ee:ff:00",
		"aabbccddeef", "aabbccddeeff0", "aa bb cc dd ee ff", "aa:bb:cc:dd:ee.ff", "aa::bb:cc:dd:eeff",
	} {
		if _, err := ParseMACLenient(s); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("ParseMACLenient(%q) accepted", s)
		}
	}
	for _, s := range []string{"aabbccddeeff", "aabb.ccdd.eeff", " AA:BB:CC:DD:EE:FF", "AA_BB_CC_DD_EE_FF"} {
		if _, err := ParseMAC(s); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("strict ParseMAC(%q) accepted", s)
		}
	}
}

func TestWakeRequest(t *testing.T) {
	for _, tt := range []struct {
		w    WakeRequest
		want string
	}{
		{WakeRequest{MAC: "AA:BB:CC:DD:EE:FF"}, `{"mac":"AA:BB:CC:DD:EE:FF"}`},
		{WakeRequest{MAC: "AA:BB:CC:DD:EE:FF", Port: 7, Broadcast: "192.168.1.255", Password: "01-02-03-04-05-06", Repeat: 3},
			`{"mac":"AA:BB:CC:DD:EE:FF","port":7,"broadcast":"192.168.1.255","password":"01-02-03-04-05-06","repeat":3}`},
	} {
		got, err := tt.w.AppendJSON(nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("AppendJSON = %s, %v; want %s", got, err, tt.want)
		}
		back, err := ParseWakeRequest(got)
		if err != nil || back.MAC != tt.w.MAC || back.Broadcast != tt.w.Broadcast || back.Password != tt.w.Password {
			t.Errorf("ParseWakeRequest(%s) = %+v, %v", got, back, err)
		}
	}
	w, _ := ParseWakeRequest([]byte(`{"mac":"aa-bb-cc-dd-ee-ff","extra":true}`))
	if w.Port != DefaultWakePort || w.Repeat != 1 {
		t.Errorf("defaults: %+v", w)
	}
	for _, d := range []string{
		`{}`, `{"mac":"AABBCCDDEEFF"}`, `{"mac":5}`, `{"mac":"AA:BB:CC:DD:EE:FF","port":70000}`,
		`{"mac":"AA:BB:CC:DD:EE:FF","port":-1}`, `{"mac":"AA:BB:CC:DD:EE:FF","port":"9"}`,
		`{"mac":"AA:BB:CC:DD:EE:FF","broadcast":"1.2.3"}`, `{"mac":"AA:BB:CC:DD:EE:FF","broadcast":"1.2.3.256"}`,
		`{"mac":"AA:BB:CC:DD:EE:FF","broadcast":"01.2.3.4"}`, `{"mac":"AA:BB:CC:DD:EE:FF","broadcast":"host"}`,
		`{"mac":"AA:BB:CC:DD:EE:FF","password":"secret"}`, `{"mac":"AA:BB:CC:DD:EE:FF","repeat":11}`,
		`[]`, `not json`,
	} {
		if _, err := ParseWakeRequest([]byte(d)); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("ParseWakeRequest(%s): %v", d, err)
		}
	}
}

func TestTypedReplies(t *testing.T) {
	for _, tt := range []struct {
		got  []byte
		want string
	}{
		{WakeReply{Sent: true, Target: "AA:BB:CC:DD:EE:FF"}.AppendJSON(nil), `{"sent":true,"target":"AA:BB:CC:DD:EE:FF"}`},
		{WebControlReply{}.AppendJSON(nil), `{"enabled":false}`},
		{CloudControlReply{Enabled: true}.AppendJSON(nil), `{"enabled":true,"connected":false}`},
		{OTAStartReply{Started: true}.AppendJSON(nil), `{"started":true}`},
		{CounterInfoReply{RequestCounter: 42, TxSeq: 1<<64 - 1, RxSeq: 3}.AppendJSON(nil), `{"request_counter":42,"tx_seq":18446744073709551615,"rx_seq":3}`},
		{ResetCounterReply{}.AppendJSON(nil), `{"request_counter":0}`},
		{CryptoInfoReply{Versions: []string{"1.0", "2"}, Policy: "strict", Sessions: 2}.AppendJSON(nil), `{"versions":["1.0","2"],"policy":"strict","sessions":2}`},
		{CloudConfigReply{URL: "wss://r/ws", Enabled: true, APITokenHint: "wld_ab12…"}.AppendJSON(nil), `{"url":"wss://r/ws","enabled":true,"connected":false,"api_token_hint":"wld_ab12…"}`},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
		var v any
		if err := json.Unmarshal(tt.got, &v); err != nil {
			t.Errorf("%s is not JSON: %v", tt.got, err)
		}
	}
	var c CounterInfoReply
	if err := DecodeData([]byte(`{"request_counter":1,"tx_seq":2,"rx_seq":3}`), &c); err != nil || c.RxSeq != 3 {
		t.Errorf("DecodeData: %+v, %v", c, err)
	}
	if err := DecodeData([]byte(`{`), &c); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("DecodeData of bad JSON: %v", err)
	}
	info := Info{DeviceID: "WL1", ProtocolVersion: "1.0", RSSI: -67, Uptime: 5, OTAEnabled: true}
	inner := AppendInfoReply(nil, &info, "ABCD1234")
	back, err := ParseInfoReply(inner)
	if err != nil || back != info {
		t.Errorf("info round trip: %+v, %v", back, err)
	}
	if _, err := ParseInfoReply(AppendErrorReply(nil, CodeNotSupported, "", "")); !errors.Is(err, ErrNotSupported) {
		t.Errorf("failed info reply: %v", err)
	}
}

func TestTypedRequests(t *testing.T) {
	if got, _ := (ControlRequest{Action: ActionEnable}).AppendJSON(nil); string(got) != `{"action":"enable"}` {
		t.Errorf("control: %s", got)
	}
	if _, err := ParseControlRequest([]byte(`{"action":"toggle"}`)); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("control toggle: %v", err)
	}
	tok := strings.Repeat("k", 40)
	if got, _ := (UpdateTokenRequest{Token: tok}).AppendJSON(nil); string(got) != `{"token":"`+tok+`"}` {
		t.Errorf("update_token: %s", got)
	}
	for _, d := range []string{`{}`, `{"token":"short"}`, `{"token":"` + strings.Repeat("k", 39) + ` "}`, `{"token":5}`} {
		if _, err := ParseUpdateTokenRequest([]byte(d)); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("update_token %s: %v", d, err)
		}
	}
	url, on := "wss://relay.example/ws", true
	if got, _ := (SetCloudRequest{URL: &url, Enabled: &on}).AppendJSON(nil); string(got) != `{"url":"wss://relay.example/ws","enabled":true}` {
		t.Errorf("set_cloud: %s", got)
	}
	for _, d := range []string{`{}`, `{"url":"` + strings.Repeat("u", 256) + `"}`, `{"api_token":"` + strings.Repeat("t", 128) + `"}`} {
		if _, err := ParseSetCloudRequest([]byte(d)); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("set_cloud %s: %v", d, err)
		}
	}
	if got, _ := (CredentialsRequest{Name: "HomeNet", Password: "secret123"}).AppendJSON(nil, CmdSetWiFi); string(got) != `{"ssid":"HomeNet","password":"secret123"}` {
		t.Errorf("set_wifi: %s", got)
	}
	if r, err := ParseCredentialsRequest([]byte(`{"username":"admin","password":"pw"}`), CmdSetWebAuth); err != nil || r.Name != "admin" {
		t.Errorf("set_web_auth: %+v %v", r, err)
	}
	if _, err := ParseCredentialsRequest([]byte(`{"ssid":"x"}`), CmdSetWiFi); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("set_wifi without password: %v", err)
	}
	if got, _ := (SetDeviceIDRequest{DeviceID: "WL00000001"}).AppendJSON(nil); string(got) != `{"device_id":"WL00000001"}` {
		t.Errorf("set_device_id: %s", got)
	}
	if _, err := ParseSetDeviceIDRequest([]byte(`{"device_id":""}`)); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("set_device_id empty: %v", err)
	}
}

func TestTokenPolicy(t *testing.T) {
	for tok, ok := range map[string]bool{
		"wlk_" + strings.Repeat("0", 64): true,
		strings.Repeat("!", 32):          true,
		strings.Repeat("~", 256):         true,
		strings.Repeat("a", 31):          false,
		strings.Repeat("a", 257):         false,
		strings.Repeat("a", 31) + " ":    false,
		strings.Repeat("a", 31) + "\x7f": false,
		strings.Repeat("a", 31) + "é":    false,
	} {
		if err := CheckTokenPolicy([]byte(tok)); (err == nil) != ok {
			t.Errorf("CheckTokenPolicy(%q) = %v", tok, err)
		}
	}
}
