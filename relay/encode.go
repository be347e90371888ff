package relay

import (
	"strconv"
	"time"
)

// Encoders of the frames the relay sends (API.md §4.2–§4.4). The hot ones
// (relay, ack) are appended by hand into pooled buffers; the rare ones
// (auth_response, presence, device_status) go through encoding/json.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Bytes ≥ 0x80 are copied
// through: every string the relay encodes this way is either validated
// UTF-8 from a frame, an id the relay made, or a validated id.
func appendJSONString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRelayToAgent appends the relay → agent frame.
func appendRelayToAgent(b []byte, fromConn string, mid, packet []byte) []byte {
	b = append(b, `{"type":"relay","conn":`...)
	b = appendJSONString(b, fromConn)
	if len(mid) > 0 {
		b = append(b, `,"mid":`...)
		b = appendJSONString(b, mid)
	}
	b = append(b, `,"packet":`...)
	b = append(b, packet...)
	return append(b, '}')
}

// appendRelayToClient appends the relay → client frame.
func appendRelayToClient(b []byte, agentID string, mid, packet []byte) []byte {
	b = append(b, `{"type":"relay","agent_id":`...)
	b = appendJSONString(b, agentID)
	if len(mid) > 0 {
		b = append(b, `,"mid":`...)
		b = appendJSONString(b, mid)
	}
	b = append(b, `,"packet":`...)
	b = append(b, packet...)
	return append(b, '}')
}

// ack carries the fields of an ack frame.
type ack struct {
	mid       []byte
	status    string
	agentID   []byte // for a client sender
	conn      []byte // for an agent sender
	expiresIn int    // queued: seconds
	retryMS   int64  // rate_limited
	scope     string // rate_limited: connection | account
}

func appendAck(b []byte, a *ack) []byte {
	b = append(b, `{"type":"ack","mid":`...)
	b = appendJSONString(b, a.mid)
	b = append(b, `,"status":"`...)
	b = append(b, a.status...)
	b = append(b, '"')
	if a.conn != nil {
		b = append(b, `,"conn":`...)
		b = appendJSONString(b, a.conn)
	} else {
		b = append(b, `,"agent_id":`...)
		b = appendJSONString(b, a.agentID)
	}
	if a.status == ackQueued {
		b = append(b, `,"expires_in":`...)
		b = strconv.AppendInt(b, int64(a.expiresIn), 10)
	}
	if a.status == ackRateLimited {
		b = append(b, `,"retry_after_ms":`...)
		b = strconv.AppendInt(b, a.retryMS, 10)
		b = append(b, `,"scope":"`...)
		b = append(b, a.scope...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendClientGone(b []byte, conn string) []byte {
	b = append(b, `{"type":"client_gone","conn":`...)
	b = appendJSONString(b, conn)
	return append(b, '}')
}

func appendPong(b []byte, ts []byte, hasTS bool) []byte {
	b = append(b, `{"type":"pong"`...)
	if hasTS {
		b = append(b, `,"ts":`...)
		b = appendJSONString(b, ts)
	}
	return append(b, '}')
}

func appendError(b []byte, code, msg string, mid []byte) []byte {
	b = append(b, `{"type":"error","code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	if mid != nil {
		b = append(b, `,"mid":`...)
		b = appendJSONString(b, mid)
	}
	return append(b, '}')
}

func appendReconnect(b []byte, afterMS int64, reason string) []byte {
	b = append(b, `{"type":"reconnect","after_ms":`...)
	b = strconv.AppendInt(b, afterMS, 10)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, reason)
	return append(b, '}')
}

// timeFormat is RFC 3339 in UTC with a Z and milliseconds (API.md §1.2).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// jsonTime marshals as RFC 3339 UTC with Z; the zero time as null.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 32)
	b = append(b, '"')
	b = tt.UTC().AppendFormat(b, timeFormat)
	return append(b, '"'), nil
}

// authFrame is the decoded auth frame (API.md §4.2); pointers tell absent
// fields from empty ones.
type authFrame struct {
	Type            string   `json:"type"`
	APIToken        *string  `json:"api_token"`
	SessionToken    *string  `json:"session_token"`
	ClientType      string   `json:"client_type"`
	AgentID         string   `json:"agent_id"`
	Name            string   `json:"name"`
	Version         string   `json:"version"`
	Platform        string   `json:"platform"`
	FirmwareVersion string   `json:"firmware_version"`
	EWSPVersions    []string `json:"ewsp_versions"`
	Presence        *bool    `json:"presence"`
}

// authOK is a successful auth_response (API.md §4.2). session_token and
// expires_in are null for devices, so they are pointers without omitempty.
type authOK struct {
	Type             string   `json:"type"`
	Status           string   `json:"status"`
	SessionToken     *string  `json:"session_token"`
	ExpiresIn        *int64   `json:"expires_in"`
	MaxRequests      int      `json:"max_requests"`
	Conn             string   `json:"conn"`
	Node             string   `json:"node"`
	HeartbeatS       int      `json:"heartbeat_s"`
	MaxFrameBytes    int      `json:"max_frame_bytes"`
	OfflineQueueTTLS int      `json:"offline_queue_ttl_s"`
	ServerTime       jsonTime `json:"server_time"`
	Protocol         int      `json:"protocol"`
	AgentID          string   `json:"agent_id,omitempty"`
}

// authFailed is a failed auth_response (API.md §4.2).
type authFailed struct {
	Type        string `json:"type"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	Message     string `json:"message"`
	RetryAfterS int    `json:"retry_after_s,omitempty"`
}

// agentStatus is one entry of a presence frame and the body of a
// device_status frame (API.md §4.3).
type agentStatus struct {
	Type            string   `json:"type,omitempty"`
	AgentID         string   `json:"agent_id"`
	Status          string   `json:"status"`
	TS              jsonTime `json:"ts,omitzero"`
	LastSeen        jsonTime `json:"last_seen"`
	Reason          string   `json:"reason,omitempty"`
	EWSPVersions    []string `json:"ewsp_versions"`
	FirmwareVersion *string  `json:"firmware_version"`
}

type presenceFrame struct {
	Type   string        `json:"type"`
	Agents []agentStatus `json:"agents"`
}
