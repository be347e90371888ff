package ewsp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Typed request data and reply data for the commands whose fields EWSP.md
// §1.12 defines, shared by both profiles. AppendJSON methods write the
// exact bytes with the canonical writer (fields in the order of §1.12,
// optional ones only when set); Parse functions are for the receiving side:
// they ignore unknown keys and report a missing or malformed key as
// INVALID_PARAMS. Wrap reply data with AppendReply(dst, "ok", data, rid).

// DecodeData decodes the raw "d" of a reply (Envelope.Data or Reply.Data)
// into v with encoding/json, for the reply shapes below; a malformed d is
// INVALID_JSON.
func DecodeData(d []byte, v any) error {
	if err := json.Unmarshal(d, v); err != nil {
		return &Error{Code: CodeInvalidJSON, Detail: "reply data does not decode", Err: err}
	}
	return nil
}

// decodeParams decodes request data for a Parse function.
func decodeParams(d []byte, v any) error {
	if !isJSONObject(d) {
		return newError(CodeInvalidParams, "request data is not a JSON object")
	}
	if err := json.Unmarshal(d, v); err != nil {
		return &Error{Code: CodeInvalidParams, Detail: "request data has a malformed field", Err: err}
	}
	return nil
}

func errParam(detail string) error { return newError(CodeInvalidParams, detail) }

// WakeRequest is the "d" of a wake request (#2).
type WakeRequest struct {
	// MAC is the target in EWSP MAC syntax (ParseMAC); required.
	MAC string `json:"mac"`
	// Port is the UDP port, 1–65535; 0 means the default, 9.
	Port int `json:"port,omitempty"`
	// Broadcast is the IPv4 broadcast address; empty means the device's
	// configured one, else 255.255.255.255.
	Broadcast string `json:"broadcast,omitempty"`
	// Password is a SecureOn password (6 bytes in MAC syntax); empty for
	// none. A reference device ignores it.
	Password string `json:"password,omitempty"`
	// Repeat is the number of magic packets, 1–10; 0 means 1. A reference
	// device ignores it.
	Repeat int `json:"repeat,omitempty"`
}

// DefaultWakePort is the UDP port of magic packets when a wake request
// names none.
const DefaultWakePort = 9

func (w *WakeRequest) validate() error {
	if _, err := ParseMAC(w.MAC); err != nil {
		return errParam("wake: mac is not in EWSP MAC syntax")
	}
	if w.Port < 0 || w.Port > 65535 {
		return errParam("wake: port is not 1-65535")
	}
	if w.Broadcast != "" && !validIPv4(w.Broadcast) {
		return errParam("wake: broadcast is not an IPv4 address")
	}
	if w.Password != "" {
		if _, err := ParseMAC(w.Password); err != nil {
			return errParam("wake: password is not 6 bytes in MAC syntax")
		}
	}
	if w.Repeat < 0 || w.Repeat > 10 {
		return errParam("wake: repeat is not 1-10")
	}
	return nil
}

// AppendJSON appends {"mac":…[,"port":…][,"broadcast":…][,"password":…][,"repeat":…]}.
func (w WakeRequest) AppendJSON(dst []byte) ([]byte, error) {
	if err := w.validate(); err != nil {
		return dst, err
	}
	o := newObject(dst)
	o.str("mac", w.MAC)
	if w.Port != 0 {
		o.int("port", int64(w.Port))
	}
	if w.Broadcast != "" {
		o.str("broadcast", w.Broadcast)
	}
	if w.Password != "" {
		o.str("password", w.Password)
	}
	if w.Repeat != 0 {
		o.int("repeat", int64(w.Repeat))
	}
	return o.end(), nil
}

// ParseWakeRequest reads and checks the "d" of a wake request. Absent port
// and repeat come back as their defaults (9 and 1).
func ParseWakeRequest(d []byte) (WakeRequest, error) {
	var w WakeRequest
	if err := decodeParams(d, &w); err != nil {
		return WakeRequest{}, err
	}
	if err := w.validate(); err != nil {
		return WakeRequest{}, err
	}
	if w.Port == 0 {
		w.Port = DefaultWakePort
	}
	if w.Repeat == 0 {
		w.Repeat = 1
	}
	return w, nil
}

// validIPv4 reports whether s is a dotted-quad IPv4 address (no leading
// zeros).
func validIPv4(s string) bool {
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || n > 255 {
				return false
			}
			parts++
			n, digits = 0, 0
			continue
		}
		c := s[i]
		if !isDigit(c) || (digits == 1 && n == 0) || digits == 3 {
			return false
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return parts == 4
}

// WakeReply is the "d" of wake's reply: {"sent":true,"target":"AA:BB:CC:DD:EE:FF"}.
type WakeReply struct {
	Sent   bool   `json:"sent"`   // the magic packet went out
	Target string `json:"target"` // normalised MAC
}

// AppendJSON appends {"sent":B,"target":S}.
func (r WakeReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.bool("sent", r.Sent)
	o.str("target", r.Target)
	return o.end()
}

// Info is the info reply (#3), whose fields sit next to "status".
type Info struct {
	DeviceID        string `json:"device_id"`        // the device id
	FirmwareVersion string `json:"firmware_version"` // the device's software version
	ProtocolVersion string `json:"protocol_version"` // the profile that carried the request
	IP              string `json:"ip"`               // the device's LAN address
	MAC             string `json:"mac"`              // the device's own MAC address
	Uptime          uint64 `json:"uptime"`           // seconds since start
	RSSI            int64  `json:"rssi"`             // Wi-Fi signal in dBm (0 when wired)
	FreeHeap        uint64 `json:"free_heap"`        // free memory in bytes
	RequestCounter  uint64 `json:"request_counter"`  // commands run since reset_counter
	CloudConnected  bool   `json:"cloud_connected"`  // connected to the relay
	WebEnabled      bool   `json:"web_enabled"`      // local web UI on
	OTAEnabled      bool   `json:"ota_enabled"`      // updates allowed
}

// AppendInfoReply appends the reference's info reply
// {"status":"ok","device_id":…,…,"ota_enabled":B[,"rid":S]}.
func AppendInfoReply(dst []byte, info *Info, rid string) []byte {
	o := newObject(dst)
	o.str("status", "ok")
	o.str("device_id", info.DeviceID)
	o.str("firmware_version", info.FirmwareVersion)
	o.str("protocol_version", info.ProtocolVersion)
	o.str("ip", info.IP)
	o.str("mac", info.MAC)
	o.uint("uptime", info.Uptime)
	o.int("rssi", info.RSSI)
	o.uint("free_heap", info.FreeHeap)
	o.uint("request_counter", info.RequestCounter)
	o.bool("cloud_connected", info.CloudConnected)
	o.bool("web_enabled", info.WebEnabled)
	o.bool("ota_enabled", info.OTAEnabled)
	if rid != "" {
		o.str("rid", rid)
	}
	return o.end()
}

// ParseInfoReply reads an info reply; a failed reply returns its error.
func ParseInfoReply(inner []byte) (Info, error) {
	if err := ParseReply(inner).Err(); err != nil {
		return Info{}, err
	}
	var info Info
	if err := DecodeData(inner, &info); err != nil {
		return Info{}, err
	}
	return info, nil
}

// Control actions of web_control and cloud_control.
const (
	ActionStatus  = "status"
	ActionEnable  = "enable"
	ActionDisable = "disable"
)

// ControlRequest is the "d" of web_control (#7) and cloud_control (#8).
type ControlRequest struct {
	Action string `json:"action"` // ActionStatus, ActionEnable or ActionDisable
}

func (r *ControlRequest) validate() error {
	switch r.Action {
	case ActionStatus, ActionEnable, ActionDisable:
		return nil
	}
	return errParam("action is not status, enable or disable")
}

// AppendJSON appends {"action":A}.
func (r ControlRequest) AppendJSON(dst []byte) ([]byte, error) {
	if err := r.validate(); err != nil {
		return dst, err
	}
	o := newObject(dst)
	o.str("action", r.Action)
	return o.end(), nil
}

// ParseControlRequest reads and checks the "d" of web_control or cloud_control.
func ParseControlRequest(d []byte) (ControlRequest, error) {
	var r ControlRequest
	if err := decodeParams(d, &r); err != nil {
		return ControlRequest{}, err
	}
	return r, r.validate()
}

// WebControlReply is web_control's reply data: the state after the action.
type WebControlReply struct {
	Enabled bool `json:"enabled"` // the web UI after the action
}

// AppendJSON appends {"enabled":B}.
func (r WebControlReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.bool("enabled", r.Enabled)
	return o.end()
}

// CloudControlReply is cloud_control's reply data.
type CloudControlReply struct {
	Enabled   bool `json:"enabled"`   // the relay connection after the action
	Connected bool `json:"connected"` // connected right now
}

// AppendJSON appends {"enabled":B,"connected":B}.
func (r CloudControlReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.bool("enabled", r.Enabled)
	o.bool("connected", r.Connected)
	return o.end()
}

// OTAStartReply is ota_start's reply data: {"started":true}.
type OTAStartReply struct {
	Started bool `json:"started"` // the update check started
}

// AppendJSON appends {"started":B}.
func (r OTAStartReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.bool("started", r.Started)
	return o.end()
}

// CounterInfoReply is counter_info's reply data: commands run since
// reset_counter and the device's 1.0 chain counters (0 when 1.0 is off).
type CounterInfoReply struct {
	RequestCounter uint64 `json:"request_counter"` // commands run since reset_counter
	TxSeq          uint64 `json:"tx_seq"`          // the device's 1.0 tx chain
	RxSeq          uint64 `json:"rx_seq"`          // the device's 1.0 rx chain
}

// AppendJSON appends {"request_counter":U,"tx_seq":U,"rx_seq":U}.
func (r CounterInfoReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.uint("request_counter", r.RequestCounter)
	o.uint("tx_seq", r.TxSeq)
	o.uint("rx_seq", r.RxSeq)
	return o.end()
}

// ResetCounterReply is reset_counter's reply data: {"request_counter":0}.
type ResetCounterReply struct {
	RequestCounter uint64 `json:"request_counter"` // 0 after the reset
}

// AppendJSON appends {"request_counter":U}.
func (r ResetCounterReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.uint("request_counter", r.RequestCounter)
	return o.end()
}

// CryptoInfoReply is crypto_info's reply data; never keys, tokens or hashes.
type CryptoInfoReply struct {
	Versions []string `json:"versions"` // enabled EWSP versions, e.g. "1.0", "2"
	Policy   string   `json:"policy"`   // the 1.0 receive policy: "strict" or "reference"
	Sessions int      `json:"sessions"` // live EWSP 2 sessions
}

// AppendJSON appends {"versions":[…],"policy":S,"sessions":N}.
func (r CryptoInfoReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.strs("versions", r.Versions)
	o.str("policy", r.Policy)
	o.int("sessions", int64(r.Sessions))
	return o.end()
}

// CloudConfigReply is get_cloud_config's reply data; the token only as a
// hint (wld_ + its first 4 hex + "…").
type CloudConfigReply struct {
	URL          string `json:"url"`            // relay URL
	Enabled      bool   `json:"enabled"`        // relay connection enabled
	Connected    bool   `json:"connected"`      // connected right now
	APITokenHint string `json:"api_token_hint"` // wld_ + 4 hex + "…", never the token
}

// AppendJSON appends {"url":S,"enabled":B,"connected":B,"api_token_hint":S}.
func (r CloudConfigReply) AppendJSON(dst []byte) []byte {
	o := newObject(dst)
	o.str("url", r.URL)
	o.bool("enabled", r.Enabled)
	o.bool("connected", r.Connected)
	o.str("api_token_hint", r.APITokenHint)
	return o.end()
}

// CheckTokenPolicy applies the agent-token policy of EWSP.md §1.2 to a
// token that a user creates, sets or rotates (never to key derivation, which
// accepts more): 32–256 bytes, each printable ASCII without space
// (0x21–0x7E). Anything else is INVALID_PARAMS.
func CheckTokenPolicy(token []byte) error {
	if len(token) < MinTokenLen || len(token) > 256 {
		return errParam("agent token must be 32-256 bytes")
	}
	for _, c := range token {
		if c < 0x21 || c > 0x7e {
			return errParam("agent token must be printable ASCII without spaces")
		}
	}
	return nil
}

const redacted = "REDACTED"

// UpdateTokenRequest is the "d" of update_token (#12): the new agent token
// T2. It is a secret: the type prints and logs redacted.
type UpdateTokenRequest struct {
	Token string `json:"token"` // T2, 32-256 printable ASCII bytes
}

// AppendJSON appends {"token":S}; T2 must satisfy CheckTokenPolicy.
func (r UpdateTokenRequest) AppendJSON(dst []byte) ([]byte, error) {
	if err := CheckTokenPolicy([]byte(r.Token)); err != nil {
		return dst, err
	}
	o := newObject(dst)
	o.str("token", r.Token)
	return o.end(), nil
}

// ParseUpdateTokenRequest reads the "d" of update_token; T2 must satisfy
// CheckTokenPolicy (so the sample {} is refused). Comparing T2 with the
// current token is the device's business.
func ParseUpdateTokenRequest(d []byte) (UpdateTokenRequest, error) {
	var r UpdateTokenRequest
	if err := decodeParams(d, &r); err != nil {
		return UpdateTokenRequest{}, err
	}
	if err := CheckTokenPolicy([]byte(r.Token)); err != nil {
		return UpdateTokenRequest{}, err
	}
	return r, nil
}

// Format prints the redacted form for every verb.
func (UpdateTokenRequest) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "{token:"+redacted+"}")
}

// LogValue implements slog.LogValuer with the redacted form.
func (UpdateTokenRequest) LogValue() slog.Value { return slog.StringValue("{token:" + redacted + "}") }

// SetCloudRequest is the "d" of set_cloud (#13): each field optional, at
// least one present. APIToken is the relay credential (the wld_ device
// token, not key material) and prints redacted.
type SetCloudRequest struct {
	URL      *string `json:"url,omitempty"`       // relay URL (wss://…), at most 255 bytes
	APIToken *string `json:"api_token,omitempty"` // at most 127 bytes
	Enabled  *bool   `json:"enabled,omitempty"`   // relay connection on or off
}

func (r *SetCloudRequest) validate() error {
	if r.URL == nil && r.APIToken == nil && r.Enabled == nil {
		return errParam("set_cloud: no field given")
	}
	if r.URL != nil && len(*r.URL) > 255 {
		return errParam("set_cloud: url longer than 255 bytes")
	}
	if r.APIToken != nil && len(*r.APIToken) > 127 {
		return errParam("set_cloud: api_token longer than 127 bytes")
	}
	return nil
}

// AppendJSON appends the given fields in the order url, api_token, enabled.
func (r SetCloudRequest) AppendJSON(dst []byte) ([]byte, error) {
	if err := r.validate(); err != nil {
		return dst, err
	}
	o := newObject(dst)
	if r.URL != nil {
		o.str("url", *r.URL)
	}
	if r.APIToken != nil {
		o.str("api_token", *r.APIToken)
	}
	if r.Enabled != nil {
		o.bool("enabled", *r.Enabled)
	}
	return o.end(), nil
}

// ParseSetCloudRequest reads and checks the "d" of set_cloud.
func ParseSetCloudRequest(d []byte) (SetCloudRequest, error) {
	var r SetCloudRequest
	if err := decodeParams(d, &r); err != nil {
		return SetCloudRequest{}, err
	}
	return r, r.validate()
}

// Format prints the request with the token redacted.
func (r SetCloudRequest) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, r.redacted()) }

// LogValue implements slog.LogValuer with the token redacted.
func (r SetCloudRequest) LogValue() slog.Value { return slog.StringValue(r.redacted()) }

func (r SetCloudRequest) redacted() string {
	s := "{"
	if r.URL != nil {
		s += "url:" + *r.URL + " "
	}
	if r.APIToken != nil {
		s += "api_token:" + redacted + " "
	}
	if r.Enabled != nil {
		s += fmt.Sprintf("enabled:%t", *r.Enabled)
	}
	return s + "}"
}

// CredentialsRequest is the "d" of set_wifi (#15: {"ssid","password"}) and
// set_web_auth (#18: {"username","password"}): a name of at most 32 bytes
// and a password of at most 64. The password prints redacted.
type CredentialsRequest struct {
	Name     string // ssid or username
	Password string // secret
}

// AppendJSON appends {"ssid":S,"password":S} for set_wifi and
// {"username":S,"password":S} for set_web_auth.
func (r CredentialsRequest) AppendJSON(dst []byte, cmd Command) ([]byte, error) {
	key, err := credentialsKey(cmd)
	if err != nil {
		return dst, err
	}
	if err := r.validate(); err != nil {
		return dst, err
	}
	o := newObject(dst)
	o.str(key, r.Name)
	o.str("password", r.Password)
	return o.end(), nil
}

func credentialsKey(cmd Command) (string, error) {
	switch cmd {
	case CmdSetWiFi:
		return "ssid", nil
	case CmdSetWebAuth:
		return "username", nil
	}
	return "", errParam("credentials belong to set_wifi or set_web_auth")
}

func (r *CredentialsRequest) validate() error {
	if r.Name == "" || len(r.Name) > 32 || len(r.Password) > 64 {
		return errParam("credentials: name must be 1-32 bytes, password at most 64")
	}
	return nil
}

// ParseCredentialsRequest reads and checks the "d" of set_wifi or set_web_auth.
func ParseCredentialsRequest(d []byte, cmd Command) (CredentialsRequest, error) {
	key, err := credentialsKey(cmd)
	if err != nil {
		return CredentialsRequest{}, err
	}
	var m map[string]*string
	if err := decodeParams(d, &m); err != nil {
		return CredentialsRequest{}, err
	}
	name, pw := m[key], m["password"]
	if name == nil || pw == nil {
		return CredentialsRequest{}, errParam("credentials: missing " + key + " or password")
	}
	r := CredentialsRequest{Name: *name, Password: *pw}
	return r, r.validate()
}

// Format prints the request with the password redacted.
func (r CredentialsRequest) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "{name:"+r.Name+" password:"+redacted+"}")
}

// LogValue implements slog.LogValuer with the password redacted.
func (r CredentialsRequest) LogValue() slog.Value {
	return slog.StringValue("{name:" + r.Name + " password:" + redacted + "}")
}

// SetDeviceIDRequest is the "d" of set_device_id (#17).
type SetDeviceIDRequest struct {
	DeviceID string `json:"device_id"` // 1-32 bytes, §1.10
}

// AppendJSON appends {"device_id":S}; the id must satisfy §1.10.
func (r SetDeviceIDRequest) AppendJSON(dst []byte) ([]byte, error) {
	if err := checkDeviceID(r.DeviceID); err != nil {
		return dst, err
	}
	o := newObject(dst)
	o.str("device_id", r.DeviceID)
	return o.end(), nil
}

// ParseSetDeviceIDRequest reads and checks the "d" of set_device_id.
func ParseSetDeviceIDRequest(d []byte) (SetDeviceIDRequest, error) {
	var r SetDeviceIDRequest
	if err := decodeParams(d, &r); err != nil {
		return SetDeviceIDRequest{}, err
	}
	return r, checkDeviceID(r.DeviceID)
}
