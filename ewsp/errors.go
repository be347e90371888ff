package ewsp

import (
	"strconv"
	"time"
)

// Code is a numeric error code of the C reference's table (EWSP.md §1.13).
// Codes are stable; on the wire an error travels as its NAME only.
type Code int

// The codes of the reference table. -506 and -507 have no name in the
// reference (they read as UNKNOWN); every number not listed here does too.
const (
	CodeOK                 Code = 0
	CodeTimeout            Code = -100
	CodeConnectionRefused  Code = -101
	CodeConnectionError    Code = -102
	CodeNoResponse         Code = -103
	CodeDisconnected       Code = -104
	CodeAuthFailed         Code = -200
	CodeInvalidToken       Code = -201
	CodeSessionExpired     Code = -202
	CodeTokenTooShort      Code = -203
	CodeInvalidSignature   Code = -300
	CodeReplayDetected     Code = -301
	CodeBadSequence        Code = -302
	CodeSeqJumpTooLarge    Code = -303
	CodeBadPacket          Code = -304
	CodePayloadTooLarge    Code = -305
	CodeBadVersion         Code = -306
	CodeMissingField       Code = -307
	CodeChainBroken        Code = -400
	CodeInvalidGenesis     Code = -401
	CodeChainDesync        Code = -402
	CodeChainResetRequired Code = -403
	CodeCryptoDisabled     Code = -500
	CodeDecryptFailed      Code = -501
	CodeEncryptFailed      Code = -502
	CodeInvalidKey         Code = -503
	CodeInvalidNonce       Code = -504
	CodeHMACFailed         Code = -505
	CodeJSONParse          Code = -600
	CodeJSONSerialize      Code = -601
	CodeInvalidJSON        Code = -602
	CodeJSONTooDeep        Code = -603
	CodeUnknownCommand     Code = -700
	CodeInvalidParams      Code = -701
	CodeCommandFailed      Code = -702
	CodeNotSupported       Code = -703
	CodeRateLimited        Code = -800
	CodeLimitExceeded      Code = -801
	CodeLockedOut          Code = -802
	CodeDeviceNotFound     Code = -900
	CodeDeviceOffline      Code = -901
	CodeDeviceBusy         Code = -902
	CodeOutOfMemory        Code = -1000
	CodeBufferTooSmall     Code = -1001
	CodeResourceBusy       Code = -1002
	CodeInternal           Code = -9998
	CodeUnknown            Code = -9999

	// codeInvalidLength is the unnamed -507 the reference's payload decoder
	// returns for a length prefix that disagrees with the body (§1.3 step 4).
	codeInvalidLength Code = -507
)

// codeInfo is one row of the reference's error table (errors.json).
type codeInfo struct {
	name, message            string
	retryable, fatal, resync bool
	retryAfter               time.Duration
}

// info returns c's row of the reference table; unnamed numbers give the
// UNKNOWN row (no flags, no hint), as in the reference.
func (c Code) info() codeInfo {
	switch c {
	case CodeOK:
		return codeInfo{name: "OK", message: "Operation successful"}
	case CodeTimeout:
		return codeInfo{name: "TIMEOUT", message: "Operation timed out", retryable: true}
	case CodeConnectionRefused:
		return codeInfo{name: "CONNECTION_REFUSED", message: "Connection refused"}
	case CodeConnectionError:
		return codeInfo{name: "CONNECTION_ERROR", message: "Connection error", retryable: true}
	case CodeNoResponse:
		return codeInfo{name: "NO_RESPONSE", message: "No response received", retryable: true}
	case CodeDisconnected:
		return codeInfo{name: "DISCONNECTED", message: "Connection lost", retryable: true}
	case CodeAuthFailed:
		return codeInfo{name: "AUTH_FAILED", message: "Authentication failed", fatal: true}
	case CodeInvalidToken:
		return codeInfo{name: "INVALID_TOKEN", message: "Invalid device token", fatal: true}
	case CodeSessionExpired:
		return codeInfo{name: "SESSION_EXPIRED", message: "Session has expired"}
	case CodeTokenTooShort:
		return codeInfo{name: "TOKEN_TOO_SHORT", message: "Token must be at least 32 characters", fatal: true}
	case CodeInvalidSignature:
		return codeInfo{name: "INVALID_SIGNATURE", message: "HMAC signature mismatch", fatal: true}
	case CodeReplayDetected:
		return codeInfo{name: "REPLAY_DETECTED", message: "Replay attack detected", resync: true}
	case CodeBadSequence:
		return codeInfo{name: "BAD_SEQUENCE", message: "Invalid sequence number"}
	case CodeSeqJumpTooLarge:
		return codeInfo{name: "SEQ_JUMP_TOO_LARGE", message: "Sequence jumped too far"}
	case CodeBadPacket:
		return codeInfo{name: "BAD_PACKET", message: "Malformed packet"}
	case CodePayloadTooLarge:
		return codeInfo{name: "PAYLOAD_TOO_LARGE", message: "Payload exceeds maximum size"}
	case CodeBadVersion:
		return codeInfo{name: "BAD_VERSION", message: "Protocol version mismatch"}
	case CodeMissingField:
		return codeInfo{name: "MISSING_FIELD", message: "Required field missing"}
	case CodeChainBroken:
		return codeInfo{name: "CHAIN_BROKEN", message: "Blockchain chain broken - prev_hash mismatch", resync: true}
	case CodeInvalidGenesis:
		return codeInfo{name: "INVALID_GENESIS", message: "Invalid genesis hash"}
	case CodeChainDesync:
		return codeInfo{name: "CHAIN_DESYNC", message: "Chains out of sync", resync: true}
	case CodeChainResetRequired:
		return codeInfo{name: "CHAIN_RESET_REQUIRED", message: "Chain reset required", resync: true}
	case CodeCryptoDisabled:
		return codeInfo{name: "CRYPTO_DISABLED", message: "Encryption is disabled", fatal: true}
	case CodeDecryptFailed:
		return codeInfo{name: "DECRYPT_FAILED", message: "Decryption failed"}
	case CodeEncryptFailed:
		return codeInfo{name: "ENCRYPT_FAILED", message: "Encryption failed"}
	case CodeInvalidKey:
		return codeInfo{name: "INVALID_KEY", message: "Invalid encryption key"}
	case CodeInvalidNonce:
		return codeInfo{name: "INVALID_NONCE", message: "Invalid nonce"}
	case CodeHMACFailed:
		return codeInfo{name: "HMAC_FAILED", message: "HMAC calculation failed"}
	case CodeJSONParse:
		return codeInfo{name: "JSON_PARSE", message: "JSON parsing failed"}
	case CodeJSONSerialize:
		return codeInfo{name: "JSON_SERIALIZE", message: "JSON serialization failed"}
	case CodeInvalidJSON:
		return codeInfo{name: "INVALID_JSON", message: "Invalid JSON structure"}
	case CodeJSONTooDeep:
		return codeInfo{name: "JSON_TOO_DEEP", message: "JSON nesting too deep"}
	case CodeUnknownCommand:
		return codeInfo{name: "UNKNOWN_COMMAND", message: "Command not recognized"}
	case CodeInvalidParams:
		return codeInfo{name: "INVALID_PARAMS", message: "Invalid command parameters"}
	case CodeCommandFailed:
		return codeInfo{name: "COMMAND_FAILED", message: "Command execution failed"}
	case CodeNotSupported:
		return codeInfo{name: "NOT_SUPPORTED", message: "Command not supported"}
	case CodeRateLimited:
		return codeInfo{name: "RATE_LIMITED", message: "Too many requests", retryable: true, retryAfter: 5 * time.Second}
	case CodeLimitExceeded:
		return codeInfo{name: "LIMIT_EXCEEDED", message: "Request limit exceeded"}
	case CodeLockedOut:
		return codeInfo{name: "LOCKED_OUT", message: "Temporarily locked out", retryAfter: 60 * time.Second}
	case CodeDeviceNotFound:
		return codeInfo{name: "DEVICE_NOT_FOUND", message: "Device not found", fatal: true}
	case CodeDeviceOffline:
		return codeInfo{name: "DEVICE_OFFLINE", message: "Device is offline", retryable: true}
	case CodeDeviceBusy:
		return codeInfo{name: "DEVICE_BUSY", message: "Device is busy", retryable: true}
	case CodeOutOfMemory:
		return codeInfo{name: "OUT_OF_MEMORY", message: "Memory allocation failed"}
	case CodeBufferTooSmall:
		return codeInfo{name: "BUFFER_TOO_SMALL", message: "Output buffer too small"}
	case CodeResourceBusy:
		return codeInfo{name: "RESOURCE_BUSY", message: "Resource is in use"}
	case CodeInternal:
		return codeInfo{name: "INTERNAL", message: "Internal library error"}
	}
	return codeInfo{name: "UNKNOWN", message: "Unknown error"}
}

// Name returns the reference's NAME for c (e.g. "BAD_PACKET"); numbers
// without a name give "UNKNOWN".
func (c Code) Name() string { return c.info().name }

// Message returns the reference's message text for c (e.g. "Malformed packet").
func (c Code) Message() string { return c.info().message }

// Retryable reports whether the reference marks c as worth retrying.
func (c Code) Retryable() bool { return c.info().retryable }

// Fatal reports whether the reference marks c as fatal (retrying cannot help).
func (c Code) Fatal() bool { return c.info().fatal }

// NeedsChainReset reports whether the reference marks c as needing a chain
// reset. Over EWSP 1.0 a reset reopens weakness W2 (see the package
// documentation); WakeLink-Go recovers with a new agent token instead.
func (c Code) NeedsChainReset() bool { return c.info().resync }

// RetryAfter returns the reference's suggested retry delay for c (5 s for
// RATE_LIMITED, 60 s for LOCKED_OUT, else 0).
func (c Code) RetryAfter() time.Duration { return c.info().retryAfter }

// String returns c's NAME.
func (c Code) String() string { return c.Name() }

// CodeFromName maps a reference NAME back to its number. Unknown names, and
// "UNKNOWN" itself, give CodeUnknown (-9999), as in the reference.
func CodeFromName(name string) Code {
	switch name {
	case "OK":
		return CodeOK
	case "TIMEOUT":
		return CodeTimeout
	case "CONNECTION_REFUSED":
		return CodeConnectionRefused
	case "CONNECTION_ERROR":
		return CodeConnectionError
	case "NO_RESPONSE":
		return CodeNoResponse
	case "DISCONNECTED":
		return CodeDisconnected
	case "AUTH_FAILED":
		return CodeAuthFailed
	case "INVALID_TOKEN":
		return CodeInvalidToken
	case "SESSION_EXPIRED":
		return CodeSessionExpired
	case "TOKEN_TOO_SHORT":
		return CodeTokenTooShort
	case "INVALID_SIGNATURE":
		return CodeInvalidSignature
	case "REPLAY_DETECTED":
		return CodeReplayDetected
	case "BAD_SEQUENCE":
		return CodeBadSequence
	case "SEQ_JUMP_TOO_LARGE":
		return CodeSeqJumpTooLarge
	case "BAD_PACKET":
		return CodeBadPacket
	case "PAYLOAD_TOO_LARGE":
		return CodePayloadTooLarge
	case "BAD_VERSION":
		return CodeBadVersion
	case "MISSING_FIELD":
		return CodeMissingField
	case "CHAIN_BROKEN":
		return CodeChainBroken
	case "INVALID_GENESIS":
		return CodeInvalidGenesis
	case "CHAIN_DESYNC":
		return CodeChainDesync
	case "CHAIN_RESET_REQUIRED":
		return CodeChainResetRequired
	case "CRYPTO_DISABLED":
		return CodeCryptoDisabled
	case "DECRYPT_FAILED":
		return CodeDecryptFailed
	case "ENCRYPT_FAILED":
		return CodeEncryptFailed
	case "INVALID_KEY":
		return CodeInvalidKey
	case "INVALID_NONCE":
		return CodeInvalidNonce
	case "HMAC_FAILED":
		return CodeHMACFailed
	case "JSON_PARSE":
		return CodeJSONParse
	case "JSON_SERIALIZE":
		return CodeJSONSerialize
	case "INVALID_JSON":
		return CodeInvalidJSON
	case "JSON_TOO_DEEP":
		return CodeJSONTooDeep
	case "UNKNOWN_COMMAND":
		return CodeUnknownCommand
	case "INVALID_PARAMS":
		return CodeInvalidParams
	case "COMMAND_FAILED":
		return CodeCommandFailed
	case "NOT_SUPPORTED":
		return CodeNotSupported
	case "RATE_LIMITED":
		return CodeRateLimited
	case "LIMIT_EXCEEDED":
		return CodeLimitExceeded
	case "LOCKED_OUT":
		return CodeLockedOut
	case "DEVICE_NOT_FOUND":
		return CodeDeviceNotFound
	case "DEVICE_OFFLINE":
		return CodeDeviceOffline
	case "DEVICE_BUSY":
		return CodeDeviceBusy
	case "OUT_OF_MEMORY":
		return CodeOutOfMemory
	case "BUFFER_TOO_SMALL":
		return CodeBufferTooSmall
	case "RESOURCE_BUSY":
		return CodeResourceBusy
	case "INTERNAL":
		return CodeInternal
	}
	return CodeUnknown
}

// Error is the error type of this package: a reference code plus a local
// diagnostic. Detail is for local logs only: it never contains keys, tokens,
// signatures or hashes, and it is never sent to the peer (replies carry the
// NAME only, see AppendErrorReply).
//
// Match errors with errors.Is against the sentinels below (one per named
// code), or read Code with errors.As.
type Error struct {
	Code   Code   // the reference's numeric code
	Detail string // local, human-readable diagnostic; may be empty
	Err    error  // underlying cause (e.g. a failing random source), or nil
}

var _ error = (*Error)(nil)

// Error returns "ewsp: <detail> (<NAME> <code>)".
func (e *Error) Error() string {
	d := e.Detail
	if d == "" {
		d = lowerFirst(e.Code.Message())
	}
	s := "ewsp: " + d + " (" + e.Code.Name() + " " + strconv.Itoa(int(e.Code)) + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ewsp.ErrBadPacket) matches every BAD_PACKET error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func lowerFirst(s string) string {
	if s != "" && s[0] >= 'A' && s[0] <= 'Z' {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

// newError returns an *Error with code c and a local detail.
func newError(c Code, detail string) *Error { return &Error{Code: c, Detail: detail} }

// Sentinel errors, one per named code of the reference table, for errors.Is.
// They carry no detail; never modify them.
var (
	ErrTimeout            = &Error{Code: CodeTimeout}
	ErrConnectionRefused  = &Error{Code: CodeConnectionRefused}
	ErrConnectionError    = &Error{Code: CodeConnectionError}
	ErrNoResponse         = &Error{Code: CodeNoResponse}
	ErrDisconnected       = &Error{Code: CodeDisconnected}
	ErrAuthFailed         = &Error{Code: CodeAuthFailed}
	ErrInvalidToken       = &Error{Code: CodeInvalidToken}
	ErrSessionExpired     = &Error{Code: CodeSessionExpired}
	ErrTokenTooShort      = &Error{Code: CodeTokenTooShort}
	ErrInvalidSignature   = &Error{Code: CodeInvalidSignature}
	ErrReplayDetected     = &Error{Code: CodeReplayDetected}
	ErrBadSequence        = &Error{Code: CodeBadSequence}
	ErrSeqJumpTooLarge    = &Error{Code: CodeSeqJumpTooLarge}
	ErrBadPacket          = &Error{Code: CodeBadPacket}
	ErrPayloadTooLarge    = &Error{Code: CodePayloadTooLarge}
	ErrBadVersion         = &Error{Code: CodeBadVersion}
	ErrMissingField       = &Error{Code: CodeMissingField}
	ErrChainBroken        = &Error{Code: CodeChainBroken}
	ErrInvalidGenesis     = &Error{Code: CodeInvalidGenesis}
	ErrChainDesync        = &Error{Code: CodeChainDesync}
	ErrChainResetRequired = &Error{Code: CodeChainResetRequired}
	ErrCryptoDisabled     = &Error{Code: CodeCryptoDisabled}
	ErrDecryptFailed      = &Error{Code: CodeDecryptFailed}
	ErrEncryptFailed      = &Error{Code: CodeEncryptFailed}
	ErrInvalidKey         = &Error{Code: CodeInvalidKey}
	ErrInvalidNonce       = &Error{Code: CodeInvalidNonce}
	ErrHMACFailed         = &Error{Code: CodeHMACFailed}
	ErrJSONParse          = &Error{Code: CodeJSONParse}
	ErrJSONSerialize      = &Error{Code: CodeJSONSerialize}
	ErrInvalidJSON        = &Error{Code: CodeInvalidJSON}
	ErrJSONTooDeep        = &Error{Code: CodeJSONTooDeep}
	ErrUnknownCommand     = &Error{Code: CodeUnknownCommand}
	ErrInvalidParams      = &Error{Code: CodeInvalidParams}
	ErrCommandFailed      = &Error{Code: CodeCommandFailed}
	ErrNotSupported       = &Error{Code: CodeNotSupported}
	ErrRateLimited        = &Error{Code: CodeRateLimited}
	ErrLimitExceeded      = &Error{Code: CodeLimitExceeded}
	ErrLockedOut          = &Error{Code: CodeLockedOut}
	ErrDeviceNotFound     = &Error{Code: CodeDeviceNotFound}
	ErrDeviceOffline      = &Error{Code: CodeDeviceOffline}
	ErrDeviceBusy         = &Error{Code: CodeDeviceBusy}
	ErrOutOfMemory        = &Error{Code: CodeOutOfMemory}
	ErrBufferTooSmall     = &Error{Code: CodeBufferTooSmall}
	ErrResourceBusy       = &Error{Code: CodeResourceBusy}
	ErrInternal           = &Error{Code: CodeInternal}
	ErrUnknown            = &Error{Code: CodeUnknown}
)
