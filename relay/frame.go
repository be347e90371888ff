package relay

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Frame types of API.md §4.3.
const (
	typeAuth         = "auth"
	typeAuthResponse = "auth_response"
	typeRelay        = "relay"
	typePing         = "ping"
	typePong         = "pong"
	typeAck          = "ack"
	typePresence     = "presence"
	typeDeviceStatus = "device_status"
	typeClientGone   = "client_gone"
	typeReconnect    = "reconnect"
	typeError        = "error"
)

// Ack statuses of API.md §4.4.
const (
	ackDelivered     = "delivered"
	ackQueued        = "queued"
	ackOffline       = "offline"
	ackExpired       = "expired"
	ackQueueFull     = "queue_full"
	ackRateLimited   = "rate_limited"
	ackUnknownAgent  = "unknown_agent"
	ackUnknownConn   = "unknown_conn"
	ackQuotaExceeded = "quota_exceeded"
)

// Limits of the envelope fields (API.md §4.3).
const (
	maxMIDLen     = 64 // mid: 1–64 of [A-Za-z0-9._:-]
	maxConnIDLen  = 64 // conn ids are relay-assigned, opaque, ≤ 64 chars
	maxAgentIDLen = 32 // agent_id: 1–32 of [A-Za-z0-9._-], first alphanumeric (API.md §3.2)
	maxPingTSLen  = 64 // ping ts: any string ≤ 64
	// maxJSONDepth bounds the nesting the envelope scanner accepts in
	// ignored fields: deeper input is refused as INVALID_MESSAGE, so a
	// 16 KiB frame of brackets cannot make the scanner do more than linear
	// work or keep a deep stack.
	maxJSONDepth = 64
)

// errGarbage: the frame is not a UTF-8 JSON object with a string "type".
var errGarbage = errors.New("relay: not a JSON object with a string type")

// envelope holds the fields of a frame the relay routes on (API.md §4.1:
// type, agent_id, conn, mid and packet; ts of a ping). String values are
// decoded (sub-slices of the frame when they hold no escape); packet is the
// raw JSON string token, quotes included, forwarded byte for byte so the
// receiver decodes exactly what the sender encoded. Nothing else of the
// frame is kept, and packet is never looked into.
type envelope struct {
	typ     []byte
	agentID []byte
	conn    []byte
	mid     []byte
	ts      []byte
	packet  []byte

	hasAgentID, hasConn, hasMID, hasTS bool
	// badField names the first routed field present with a non-string
	// value; such a frame is answered INVALID_MESSAGE.
	badField string
}

// parseEnvelope scans frame b, which must be UTF-8 and one JSON object with
// a string "type". Unknown fields are validated as JSON and skipped. It
// never panics and does at most linear work on any input. Duplicate keys:
// the last one wins, as with encoding/json.
func parseEnvelope(b []byte, e *envelope) error {
	*e = envelope{}
	if !utf8.Valid(b) {
		return errGarbage
	}
	s := scanner{b: b}
	s.ws()
	if !s.consume('{') {
		return errGarbage
	}
	s.ws()
	hasType := false
	if !s.consume('}') {
		for {
			s.ws()
			key, kesc, ok := s.str()
			if !ok {
				return errGarbage
			}
			s.ws()
			if !s.consume(':') {
				return errGarbage
			}
			s.ws()
			f := fieldNone
			if !kesc {
				f = fieldOf(key[1 : len(key)-1])
			} else if k, err := unquote(key); err == nil {
				f = fieldOf(k)
			}
			if f != fieldNone && s.peek() == '"' {
				raw, esc, ok := s.str()
				if !ok {
					return errGarbage
				}
				if f == fieldPacket {
					e.packet = raw
				} else {
					v := raw[1 : len(raw)-1]
					if esc {
						d, err := unquote(raw)
						if err != nil {
							return errGarbage
						}
						v = d
					}
					switch f {
					case fieldType:
						e.typ, hasType = v, true
					case fieldAgentID:
						e.agentID, e.hasAgentID = v, true
					case fieldConn:
						e.conn, e.hasConn = v, true
					case fieldMID:
						e.mid, e.hasMID = v, true
					case fieldTS:
						e.ts, e.hasTS = v, true
					}
				}
			} else {
				if !s.value() {
					return errGarbage
				}
				switch f {
				case fieldNone:
				case fieldType:
					hasType, e.typ = false, nil
				case fieldPacket:
					e.packet = nil
				default:
					if e.badField == "" {
						e.badField = fieldNames[f]
					}
				}
				if f == fieldPacket && e.badField == "" {
					e.badField = "packet"
				}
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return errGarbage
		}
	}
	s.ws()
	if s.i != len(s.b) || !hasType {
		return errGarbage
	}
	return nil
}

// Envelope fields the relay reads.
const (
	fieldNone = iota
	fieldType
	fieldAgentID
	fieldConn
	fieldMID
	fieldPacket
	fieldTS
)

var fieldNames = [...]string{"", "type", "agent_id", "conn", "mid", "packet", "ts"}

func fieldOf(k []byte) int {
	switch string(k) {
	case "type":
		return fieldType
	case "agent_id":
		return fieldAgentID
	case "conn":
		return fieldConn
	case "mid":
		return fieldMID
	case "packet":
		return fieldPacket
	case "ts":
		return fieldTS
	}
	return fieldNone
}

// unquote decodes a JSON string token (quotes included). Used only for the
// rare envelope values holding escapes.
func unquote(raw []byte) ([]byte, error) {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// scanner is a minimal JSON syntax checker over one frame.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// strPlain marks bytes that may appear unescaped in a JSON string besides
// the two that end or escape it.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans a string token at s.i and returns it, quotes included, and
// whether it holds escapes.
func (s *scanner) str() (raw []byte, esc, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.i
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		if strPlain[c] {
			s.i++
			continue
		}
		switch c {
		case '"':
			s.i++
			return s.b[start:s.i], esc, true
		case '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, false
				}
				for k := s.i + 2; k < s.i+6; k++ {
					if !isHex(s.b[k]) {
						return nil, false, false
					}
				}
				s.i += 6
			default:
				return nil, false, false
			}
		default: // control character
			return nil, false, false
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number scans a JSON number at s.i.
func (s *scanner) number() bool {
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		return false
	}
	if s.consume('.') {
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return false
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return false
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return true
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// value scans one JSON value at s.i without recursion: containers are
// tracked on a fixed stack of maxJSONDepth.
func (s *scanner) value() bool {
	var stack [maxJSONDepth]byte
	depth := 0
	for {
		// A value is expected here.
		s.ws()
		switch c := s.peek(); c {
		case '{', '[':
			if depth == maxJSONDepth {
				return false
			}
			s.i++
			s.ws()
			if (c == '{' && s.consume('}')) || (c == '[' && s.consume(']')) {
				break // empty container: a complete value
			}
			stack[depth] = c
			depth++
			if c == '{' && !s.member() {
				return false
			}
			continue
		case '"':
			if _, _, ok := s.str(); !ok {
				return false
			}
		case 't':
			if !s.literal("true") {
				return false
			}
		case 'f':
			if !s.literal("false") {
				return false
			}
		case 'n':
			if !s.literal("null") {
				return false
			}
		default:
			if !s.number() {
				return false
			}
		}
		// A value just ended: close containers or move to the next element.
		for {
			if depth == 0 {
				return true
			}
			s.ws()
			top := stack[depth-1]
			if s.consume(',') {
				if top == '{' && !s.member() {
					return false
				}
				break
			}
			if (top == '{' && s.consume('}')) || (top == '[' && s.consume(']')) {
				depth--
				continue
			}
			return false
		}
	}
}

// member scans `"key" :` inside an object.
func (s *scanner) member() bool {
	s.ws()
	if _, _, ok := s.str(); !ok {
		return false
	}
	s.ws()
	return s.consume(':')
}

// validMID reports whether mid is 1–64 of [A-Za-z0-9._:-] (API.md §4.3).
func validMID(mid []byte) bool {
	if len(mid) == 0 || len(mid) > maxMIDLen {
		return false
	}
	for _, c := range mid {
		if !(isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// validAgentID reports whether id is an agent id of API.md §3.2: 1–32 of
// [A-Za-z0-9._-], the first alphanumeric.
func validAgentID[T ~string | ~[]byte](id T) bool {
	if len(id) == 0 || len(id) > maxAgentIDLen || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !(isAlnum(c) || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validNodeID reports whether id is 1–32 of [A-Za-z0-9_-] (API.md §3.12),
// safe inside a conn id and a NATS subject token.
func validNodeID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(isAlnum(c) || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// parseConnID splits a conn id "<node>:<seq>" (DESIGN.md scale plan).
func parseConnID[T ~string | ~[]byte](id T) (node T, seq uint64, ok bool) {
	if len(id) == 0 || len(id) > maxConnIDLen {
		return node, 0, false
	}
	colon := -1
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 || colon == len(id)-1 {
		return node, 0, false
	}
	var n uint64
	for i := colon + 1; i < len(id); i++ {
		c := id[i]
		if !isDigit(c) || n > (1<<63)/10 {
			return node, 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return id[:colon], n, true
}
