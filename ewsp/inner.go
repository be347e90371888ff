package ewsp

import (
	"bytes"
	"encoding/json"
	"io"
)

// Inner messages (EWSP.md §1.11), shared by both profiles: requests
// {"cmd":…,"d":…,"rid":…} and replies {"status":…,…}. Every builder here
// writes the reference's exact bytes with the canonical writer.

// Envelope is what a receiver reads from an inner message, with the rules of
// EWSP.md §1.8 step 7 (the reference reader of §1.6 on the inner text as a
// C string).
type Envelope struct {
	// IsResponse is true when the inner has no top-level "cmd" key. Text
	// that is not JSON at all is a response too.
	IsResponse bool
	// Command is the "cmd" string cut to its first MaxCommandLen bytes; empty
	// when absent or not a string. It may be a name outside §1.12.
	Command Command
	// RequestID is the "rid" string cut to its first RequestIDLen bytes;
	// empty when absent or not a string. It is not validated.
	RequestID string
	// Data is the raw text of "d" (reference object reader), or the whole
	// inner text when "d" is absent or unreadable. It aliases the inner.
	Data []byte
}

// ParseEnvelope extracts the envelope of an inner message as the reference
// receiver does. It never fails: any text has an envelope.
func ParseEnvelope(inner []byte) Envelope {
	in := cString(inner)
	if e, ok := parseCanonicalRequest(in); ok {
		return e
	}
	var e Envelope
	cmd, rid, d, dRawEnd := findEnvelope(in)
	e.IsResponse = cmd < 0
	if cmd >= 0 {
		if s, code := stringAt(nil, in, cmd, len(in)); code == CodeOK {
			e.Command = internCommand(s[:min(len(s), MaxCommandLen)])
		}
	}
	if rid >= 0 {
		if s, code := stringAt(nil, in, rid, len(in)); code == CodeOK {
			e.RequestID = string(s[:min(len(s), RequestIDLen)])
		}
	}
	e.Data = in
	if d >= 0 {
		if dRawEnd >= 0 {
			if v, code := rawResult(in, d, dRawEnd, dRawEnd); code == CodeOK {
				e.Data = v
			}
		} else if v, code := rawAt(in, d); code == CodeOK {
			e.Data = v
		}
	}
	return e
}

// canonicalRequestHead is how every request a Go or C sender builds starts.
const canonicalRequestHead = `{"cmd":"`

// parseCanonicalRequest reads a request of the builders' shape
// {"cmd":"…","d":…,"rid":"…"} with unescaped cmd and rid, a d whose raw
// value ends before the comma, and keys in that order. For such input the
// general walk of findEnvelope meets exactly these three keys first, so the
// result is the same; anything else returns false and takes the general
// path.
func parseCanonicalRequest(in []byte) (Envelope, bool) {
	if !bytes.HasPrefix(in, []byte(canonicalRequestHead)) {
		return Envelope{}, false
	}
	i := len(canonicalRequestHead)
	end, esc := stringEnd(in, i)
	if esc || end >= len(in) {
		return Envelope{}, false
	}
	cmd := in[i:end]
	i = end + 1
	const dHead, ridHead = `,"d":`, `,"rid":"`
	if !bytes.HasPrefix(in[i:], []byte(dHead)) {
		return Envelope{}, false
	}
	d := i + len(dHead)
	stop, rawEnd := skipValue(in, d)
	if rawEnd < 0 || rawEnd-d >= maxRawLen || !bytes.HasPrefix(in[stop:], []byte(ridHead)) {
		return Envelope{}, false
	}
	r := stop + len(ridHead)
	rend, esc := stringEnd(in, r)
	if esc || rend >= len(in) {
		return Envelope{}, false
	}
	return Envelope{
		Command:   internCommand(cmd[:min(len(cmd), MaxCommandLen)]),
		RequestID: string(in[r:min(rend, r+RequestIDLen)]),
		Data:      in[d:rawEnd],
	}, true
}

// findEnvelope walks the top-level keys of in once, as the reference's find
// does for each key, and returns the value index of the first "cmd", "rid"
// and "d" (-1 when missing). When the walk had to skip the value of "d",
// dRawEnd is where rawAt would end it (see skipValue), else -1.
func findEnvelope(in []byte) (cmd, rid, d, dRawEnd int) {
	cmd, rid, d, dRawEnd = -1, -1, -1, -1
	s, ok := newKeyScan(in)
	if !ok {
		return
	}
	for cmd < 0 || rid < 0 || d < 0 {
		k, v, ok := s.next()
		if !ok {
			return
		}
		switch string(k) {
		case "cmd":
			if cmd < 0 {
				cmd = v
			}
		case "rid":
			if rid < 0 {
				rid = v
			}
		case "d":
			if d < 0 {
				d = v
				if cmd < 0 || rid < 0 {
					dRawEnd = s.skip()
				}
				continue
			}
		}
		if cmd < 0 || rid < 0 || d < 0 {
			s.skip()
		}
	}
	return
}

// NewRequestID draws a request id from r: RequestIDLen bytes b, and
// rid[i] = RequestIDAlphabet[b[i] mod 36] (bytes 174552889cd7e71b give
// X7K2M9P1). A failing r is an error, never a weak id.
func NewRequestID(r io.Reader) (string, error) {
	var b [RequestIDLen]byte
	if err := readRandom(r, b[:]); err != nil {
		return "", err
	}
	return string(requestID(&b)), nil
}

func requestID(b *[RequestIDLen]byte) []byte {
	rid := make([]byte, RequestIDLen)
	for i, c := range b {
		rid[i] = RequestIDAlphabet[int(c)%len(RequestIDAlphabet)]
	}
	return rid
}

// readRandom fills b from r; a failure is ENCRYPT_FAILED wrapping the cause.
func readRandom(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return &Error{Code: CodeEncryptFailed, Detail: "random source failed", Err: err}
	}
	return nil
}

// ValidRequestID reports whether rid is exactly RequestIDLen characters of
// RequestIDAlphabet (A–Z, 0–9).
func ValidRequestID(rid string) bool {
	if len(rid) != RequestIDLen {
		return false
	}
	for i := 0; i < len(rid); i++ {
		c := rid[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// AppendRequest appends the inner request {"cmd":S(cmd),"d":D,"rid":"rid"}
// to dst, D being data verbatim, or {} when data is empty. cmd must be one of
// the 21 commands (else UNKNOWN_COMMAND), data one JSON object and rid a
// valid request id (else INVALID_PARAMS). data is checked, never
// re-serialised. Whether cmd requires data is not checked (the device
// decides, §1.12).
func AppendRequest(dst []byte, cmd Command, data []byte, rid string) ([]byte, error) {
	if err := checkRequest(cmd, data); err != nil {
		return dst, err
	}
	if !ValidRequestID(rid) {
		return dst, newError(CodeInvalidParams, "request id is not 8 characters of A-Z0-9")
	}
	return appendRequest(dst, cmd, data, rid), nil
}

// checkRequest checks a request's command and data (see AppendRequest).
func checkRequest(cmd Command, data []byte) error {
	if !cmd.Known() {
		return newError(CodeUnknownCommand, "unknown command name")
	}
	if len(data) > 0 && !isJSONObject(data) {
		return newError(CodeInvalidParams, "request data is not one JSON object")
	}
	return nil
}

// appendRequest writes a checked request.
func appendRequest(dst []byte, cmd Command, data []byte, rid string) []byte {
	if len(data) == 0 {
		data = []byte("{}")
	}
	dst = append(dst, `{"cmd":`...)
	dst = appendJSONString(dst, cmd)
	dst = append(dst, `,"d":`...)
	dst = append(dst, data...)
	dst = append(dst, `,"rid":"`...)
	dst = append(dst, rid...)
	return append(dst, `"}`...)
}

// isJSONObject reports whether b is one valid JSON value that is an object.
func isJSONObject(b []byte) bool {
	i := skipJSONSpace(b)
	return i < len(b) && b[i] == '{' && json.Valid(b)
}

func skipJSONSpace(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Request is an inner request as a device validates it before dispatch.
type Request struct {
	Command   Command // one of the 21 commands
	RequestID string  // the "rid" string cut to RequestIDLen bytes, unvalidated
	Data      []byte  // raw "d" (aliases the inner), or nil when absent
}

// ParseRequest reads an inner request for dispatch by a device: the inner
// must be one JSON object (else INVALID_JSON) whose "cmd" is a string naming
// one of the 21 commands (else UNKNOWN_COMMAND); "d", when present, must be
// an object (else INVALID_PARAMS). Fields are read with the reference's
// rules (ParseEnvelope); the d object's own keys are the command's business.
func ParseRequest(inner []byte) (Request, error) {
	if !isJSONObject(inner) {
		return Request{}, newError(CodeInvalidJSON, "inner request is not one JSON object")
	}
	e := ParseEnvelope(inner)
	if e.IsResponse || !e.Command.Known() {
		return Request{}, newError(CodeUnknownCommand, "inner request has no known command")
	}
	r := Request{Command: e.Command, RequestID: e.RequestID}
	if i := refFind(cString(inner), "d"); i >= 0 {
		if !isJSONObject(e.Data) {
			return Request{}, newError(CodeInvalidParams, "request data is not a JSON object")
		}
		r.Data = e.Data
	}
	return r, nil
}

// AppendReply appends the generic reply {"status":S(status)[,"d":D][,"rid":S(rid)]}
// to dst: "d" only when data is not empty, "rid" only when rid is not empty.
// data, when given, must be one JSON value (else INVALID_PARAMS); it is
// copied verbatim.
func AppendReply(dst []byte, status string, data []byte, rid string) ([]byte, error) {
	if len(data) > 0 && !json.Valid(data) {
		return dst, newError(CodeInvalidParams, "reply data is not valid JSON")
	}
	dst = append(dst, `{"status":`...)
	dst = appendJSONString(dst, status)
	if len(data) > 0 {
		dst = append(dst, `,"d":`...)
		dst = append(dst, data...)
	}
	return appendRID(dst, rid), nil
}

func appendRID(dst []byte, rid string) []byte {
	if rid != "" {
		dst = append(dst, `,"rid":`...)
		dst = appendJSONString(dst, rid)
	}
	return append(dst, '}')
}

// AppendOK appends {"status":"ok","rid":"R"} ({"status":"ok"} when rid is
// empty): the reply of §1.12's "ok".
func AppendOK(dst []byte, rid string) []byte {
	return appendRID(append(dst, `{"status":"ok"`...), rid)
}

// AppendPong appends ping's reply {"status":"ok","d":{"pong":true},"rid":"R"}.
func AppendPong(dst []byte, rid string) []byte {
	return appendRID(append(dst, `{"status":"ok","d":{"pong":true}`...), rid)
}

// AppendErrorReply appends the error reply
// {"status":"error","error":"NAME","message":"TEXT"[,"detail":S(detail)][,"rid":S(rid)]}
// for code: NAME and TEXT come from the reference table (a number without a
// name gives UNKNOWN and "Unknown error"); detail appears only when not
// empty. Never put keys, tokens or hashes in detail: it reaches the peer.
func AppendErrorReply(dst []byte, code Code, detail, rid string) []byte {
	dst = append(dst, `{"status":"error","error":`...)
	dst = appendJSONString(dst, code.Name())
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, code.Message())
	if detail != "" {
		dst = append(dst, `,"detail":`...)
		dst = appendJSONString(dst, detail)
	}
	return appendRID(dst, rid)
}

// Reply is an inner reply as a client reads it (EWSP.md §1.11).
type Reply struct {
	// OK is true iff "status" is the string "ok" ("success" is a failure).
	OK bool
	// Code is CodeOK when OK; otherwise the number of the "error" NAME, or
	// CodeUnknown when it is absent, not a string or not a known name.
	Code Code
	// Message is the "message" string of a failed reply, else empty. It is
	// the peer's text: treat it as untrusted.
	Message string
	// RequestID is the "rid" string cut to RequestIDLen bytes.
	RequestID string
	// Data is the raw text of "d" (aliases the inner), nil when absent.
	Data []byte
}

// Err returns nil for a successful reply, else an *Error with the reply's
// code (its Detail never includes the peer's message).
func (r Reply) Err() error {
	if r.OK {
		return nil
	}
	return newError(r.Code, "peer replied "+r.Code.Name())
}

// maxReplyNameLen bounds the "status" and "error" strings the parser reads;
// longer ones are no name of the table anyway.
const maxReplyNameLen = 32

// ParseReply reads an inner reply with the reference's parser rules. It
// never fails: anything that is not a successful reply is a failed one.
func ParseReply(inner []byte) Reply {
	in := cString(inner)
	var r Reply
	if s, code := refString(nil, in, "status", maxReplyNameLen); code == CodeOK && string(s) == "ok" {
		r.OK, r.Code = true, CodeOK
	} else {
		r.Code = CodeUnknown
		if s, code := refString(nil, in, "error", maxReplyNameLen); code == CodeOK {
			r.Code = CodeFromName(string(s))
		}
		if s, code := refString(nil, in, "message", MaxInnerLen); code == CodeOK {
			r.Message = string(s)
		}
	}
	if s, code := refString(nil, in, "rid", len(in)); code == CodeOK {
		r.RequestID = string(s[:min(len(s), RequestIDLen)])
	}
	if d, code := refRaw(in, "d"); code == CodeOK {
		r.Data = d
	}
	return r
}
