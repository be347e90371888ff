package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Event names of API.md §3.6. Clients ignore names they do not know, so the
// list only grows.
const (
	EventAgentCreated      = "agent.created"       // owner; data: Agent
	EventAgentUpdated      = "agent.updated"       // owner; data: Agent
	EventAgentDeleted      = "agent.deleted"       // owner; data: agent_id
	EventAgentOnline       = "agent.online"        // owner; data: agent_id, connected_at, node, ewsp_versions, firmware_version
	EventAgentOffline      = "agent.offline"       // owner; data: agent_id, last_seen, reason
	EventAgentTokenRotated = "agent.token_rotated" // owner; data: agent_id, token_rotated_at
	EventClaimUsed         = "claim.used"          // owner; data: claim_id, agent_id
	EventOTAProgress       = "ota.progress"        // owner; data: agent_id, release_id, version, status, progress_pct
	EventOTAReleaseUpdated = "ota.release.updated" // admins; data: Release
	EventOTARolloutUpdated = "ota.rollout.updated" // admins; data: Rollout
	EventOTARolloutHalted  = "ota.rollout.halted"  // admins; data: Rollout + reason
	EventAccountUpdated    = "account.updated"     // self; data: User without secrets
	EventSessionRevoked    = "session.revoked"     // self; data: session_id, or all: true
	EventBackupUpdated     = "backup.updated"      // admins; data: Snapshot, or snapshot_id + deleted: true
	EventSettingsUpdated   = "settings.updated"    // admins; data: Settings

	// Stream events: written by the REST layer on each stream, never
	// published, carry no id and pass every type filter.
	EventReady     = "ready"     // data: server_time, resumed
	EventReset     = "reset"     // data: reason (ResetGap or ResetRestart)
	EventHeartbeat = "heartbeat" // data: ts
)

// Limits of the event contract.
const (
	// EventHeartbeatInterval is how often the REST layer writes a heartbeat
	// frame on an idle or busy stream (API.md §3.6); clients reconnect
	// after 45 s of silence, three missed heartbeats.
	EventHeartbeatInterval = 15 * time.Second
	// MaxEventDataBytes bounds Event.Data after compaction: the largest
	// payload (a Release with 10 000 characters of notes) fits, and a
	// node's ring stays bounded.
	MaxEventDataBytes = 64 << 10
	// MaxEventTypeLen bounds an event name (API: types items ≤ 64).
	MaxEventTypeLen = 64
	// MaxEventTypeFilter bounds SubscribeOptions.Types (API: ≤ 32 names).
	MaxEventTypeFilter = 32
	// MaxEventIDLen bounds a Last-Event-ID (API: ≤ 128); longer ones are
	// not this server's and answer a reset.
	MaxEventIDLen = 128
	// MaxEventPrincipalLen bounds Event.Account, Event.User and their
	// SubscribeOptions counterparts.
	MaxEventPrincipalLen = 128
)

// Audience says which streams receive an event (API.md §3.6 event table).
type Audience string

// Audiences.
const (
	// AudienceOwner: the streams of Event.Account, and admins' streams
	// opened with scope=all.
	AudienceOwner Audience = "owner"
	// AudienceAdmins: every stream of an admin, whatever its scope.
	AudienceAdmins Audience = "admins"
	// AudienceSelf: only the streams of Event.User in Event.Account, never
	// another account's admin (the payload is about the user's own account
	// or sessions).
	AudienceSelf Audience = "self"
)

// Valid reports whether a is one of the three audiences.
func (a Audience) Valid() bool {
	return a == AudienceOwner || a == AudienceAdmins || a == AudienceSelf
}

// AudienceOf returns the audience API.md §3.6 assigns to an event name, and
// false for stream events and names it does not list.
func AudienceOf(eventType string) (Audience, bool) {
	switch eventType {
	case EventAgentCreated, EventAgentUpdated, EventAgentDeleted, EventAgentOnline,
		EventAgentOffline, EventAgentTokenRotated, EventClaimUsed, EventOTAProgress:
		return AudienceOwner, true
	case EventOTAReleaseUpdated, EventOTARolloutUpdated, EventOTARolloutHalted,
		EventBackupUpdated, EventSettingsUpdated:
		return AudienceAdmins, true
	case EventAccountUpdated, EventSessionRevoked:
		return AudienceSelf, true
	}
	return "", false
}

// IsStreamEvent reports whether eventType is ready, reset or heartbeat.
func IsStreamEvent(eventType string) bool {
	return eventType == EventReady || eventType == EventReset || eventType == EventHeartbeat
}

// ValidEventType reports whether s is a well-formed event name: 1 to 64
// bytes matching ^[a-z][a-z_]*(\.[a-z][a-z_]*)*$ (the API's types pattern).
func ValidEventType(s string) bool {
	if len(s) == 0 || len(s) > MaxEventTypeLen {
		return false
	}
	start := true // at the start of a dot-separated part
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			start = false
		case c == '_' && !start:
		case c == '.' && !start:
			start = true
		default:
			return false
		}
	}
	return !start
}

// Event is one server-sent event. The console layer fills Type, Account
// and/or User, Data and optionally Audience and Time, and hands it to
// Events.Publish after the transaction commits; Events assigns ID.
type Event struct {
	// ID is assigned by Events on the node that delivers the event:
	// opaque, increasing per node, embedding the node's start epoch.
	// Ignored by Publish; empty for stream events.
	ID string
	// Type is the event name (the Event* constants).
	Type string
	// Time is "ts"; Publish sets it to the node's clock when zero.
	Time time.Time
	// Account owns the event: required for AudienceOwner and AudienceSelf,
	// ignored for AudienceAdmins.
	Account string
	// User is the user an AudienceSelf event concerns; ignored otherwise.
	User string
	// Audience decides which streams receive the event; zero means
	// AudienceOf(Type). Publish refuses a listed type with another
	// audience, and an unlisted type without one.
	Audience Audience
	// Data is the payload, a JSON object (nil means {}), at most
	// MaxEventDataBytes once compacted. Events received from Events must
	// not be modified: they are shared between streams.
	Data json.RawMessage
}

// ResetReason is why a stream cannot resume from its Last-Event-ID: the
// client must refetch its REST state.
type ResetReason string

// Reset reasons (API.md §3.6, ResetEventData).
const (
	// ResetGap: the id is this node's, but the ring no longer holds the
	// events after it (1024 events / 10 min).
	ResetGap ResetReason = "gap"
	// ResetRestart: the id is not from this node's current start (another
	// start, another node, or not an id of ours).
	ResetRestart ResetReason = "restart"
)

// SubscribeOptions say whose events a stream receives. The REST layer fills
// them from the authenticated principal and the request.
type SubscribeOptions struct {
	// Account of the caller (required): its owner and self events.
	Account string
	// User id of the caller (required): self events, and the per-user
	// limit of concurrent streams.
	User string
	// Admin is true when the caller has the admin role: admins events.
	Admin bool
	// AllAccounts is scope=all: owner events of every account. Requires
	// Admin (the REST layer answers FORBIDDEN before subscribing).
	AllAccounts bool
	// Types filters by event name; empty means all. At most
	// MaxEventTypeFilter well-formed names; unknown names match nothing.
	Types []string
	// LastEventID is the Last-Event-ID header (or last_event_id query);
	// empty for a fresh stream.
	LastEventID string
}

// Events is the server-sent-events hub (refserver/events implements it).
// Implementations are safe for concurrent use.
type Events interface {
	// Publish delivers ev to the matching streams of every node. It never
	// blocks on subscribers and does not stop when ctx is cancelled (it
	// follows a commit, API.md §1.9); the caller logs and counts an error
	// and still succeeds. Errors: ErrInvalidEvent (a bug in the caller),
	// ErrEventsUnavailable (shut down), or a broker error after local
	// delivery (other nodes may have missed it).
	Publish(ctx context.Context, ev Event) error
	// Subscribe opens a stream. It ends when ctx ends, when its queue
	// overflows, when the hub shuts down, or on Subscription.Close.
	// Errors: a *StreamLimitError (errors.Is ErrTooManyStreams:
	// RATE_LIMITED), ErrEventsUnavailable (shut down or at capacity:
	// SERVICE_UNAVAILABLE), ErrInvalidSubscription (VALIDATION_FAILED or
	// FORBIDDEN; the REST layer validates first), or ctx's error.
	Subscribe(ctx context.Context, opts SubscribeOptions) (Subscription, error)
}

// Subscription is one open stream. Write, in order: the ready frame
// (Resumed), the reset frame if Reset is not empty, else the Replay events,
// then the events received from C until it is closed, and Close it when
// done. Replay and C apply the stream's audience and type filter. The
// events are shared between streams and must not be modified. Methods are
// safe for concurrent use.
type Subscription interface {
	// Resumed reports whether a Last-Event-ID was given and everything
	// after it is in Replay (the ready frame's resumed).
	Resumed() bool
	// Reset is the reason to send a reset frame, or "" when none is due
	// (no Last-Event-ID, or resumed).
	Reset() ResetReason
	// Replay returns the events after Last-Event-ID, oldest first.
	Replay() []*Event
	// C delivers live events in order. It is closed when the stream ends;
	// Err then says why.
	C() <-chan *Event
	// Err is nil while the stream is open, then ErrStreamOverflow (the
	// queue was full: end the response, the client resumes by id),
	// ErrEventsUnavailable (shutdown), ctx's cause, or
	// ErrSubscriptionClosed after Close.
	Err() error
	// Close ends the stream and frees its slot; it is idempotent.
	Close()
}

// Errors of the event contract.
var (
	// ErrInvalidEvent: Publish got an event with a malformed or stream
	// type, a missing account or user for its audience, a wrong audience,
	// or data that is not a JSON object within MaxEventDataBytes.
	// AppendEventFrame returns it for an event that would break framing.
	ErrInvalidEvent = errors.New("console: invalid event")
	// ErrInvalidSubscription: SubscribeOptions without account or user,
	// with malformed or too many types, or scope=all without Admin.
	ErrInvalidSubscription = errors.New("console: invalid event subscription")
	// ErrTooManyStreams: the user holds the maximum of concurrent streams
	// (API.md §1.8: 10). Subscribe returns it as a *StreamLimitError.
	ErrTooManyStreams = errors.New("console: too many event streams")
	// ErrEventsUnavailable: the hub is shut down or at capacity.
	ErrEventsUnavailable = errors.New("console: events unavailable")
	// ErrStreamOverflow: Subscription.Err after its queue overflowed.
	ErrStreamOverflow = errors.New("console: event stream overflow")
	// ErrSubscriptionClosed: Subscription.Err after Close.
	ErrSubscriptionClosed = errors.New("console: event subscription closed")
)

// StreamLimitError is Subscribe's error when the user already has Limit
// streams open; it matches ErrTooManyStreams with errors.Is. The REST layer
// answers 429 RATE_LIMITED (API.md §1.8) with Limit as detail.limit.
type StreamLimitError struct {
	Limit int
}

var _ error = (*StreamLimitError)(nil)

func (e *StreamLimitError) Error() string {
	return fmt.Sprintf("console: too many event streams (limit %d)", e.Limit)
}

// Is reports whether target is ErrTooManyStreams.
func (e *StreamLimitError) Is(target error) bool { return target == ErrTooManyStreams }

// timeFormat is RFC 3339 in UTC with millisecond precision.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// ReadyEvent returns the ready stream event: {"server_time","resumed"}.
func ReadyEvent(now time.Time, resumed bool) Event {
	data := `{"server_time":"` + formatTime(now) + `","resumed":false}`
	if resumed {
		data = `{"server_time":"` + formatTime(now) + `","resumed":true}`
	}
	return Event{Type: EventReady, Time: now, Data: json.RawMessage(data)}
}

// ResetEvent returns the reset stream event: {"reason"}.
func ResetEvent(now time.Time, reason ResetReason) Event {
	if reason != ResetGap {
		reason = ResetRestart
	}
	return Event{Type: EventReset, Time: now, Data: json.RawMessage(`{"reason":"` + string(reason) + `"}`)}
}

// HeartbeatEvent returns the heartbeat stream event: {"ts"}.
func HeartbeatEvent(now time.Time) Event {
	return Event{Type: EventHeartbeat, Time: now, Data: json.RawMessage(`{"ts":"` + formatTime(now) + `"}`)}
}

// AppendEventFrame appends ev to dst as one SSE frame and returns the
// extended buffer:
//
//	id: <ID>            (omitted when ID is empty: stream events)
//	event: <Type>
//	data: {"id":<ID>,"type":<Type>,"ts":<Time>,"data":<Data>}
//	<empty line>
//
// It never writes a frame an input could split or forge: an ID, Type or
// Data holding a line break, an ID holding NUL, or an empty or malformed
// Type returns dst unchanged and ErrInvalidEvent. Data is written as is
// (Publish has compacted and checked it); nil Data is written as {}.
func AppendEventFrame(dst []byte, ev Event) ([]byte, error) {
	if !ValidEventType(ev.Type) || strings.ContainsAny(ev.ID, "\r\n\x00") ||
		!utf8.ValidString(ev.ID) || len(ev.ID) > MaxEventIDLen {
		return dst, ErrInvalidEvent
	}
	for _, c := range ev.Data {
		if c == '\n' || c == '\r' {
			return dst, ErrInvalidEvent
		}
	}
	if ev.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, ev.ID...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "event: "...)
	dst = append(dst, ev.Type...)
	dst = append(dst, "\ndata: {"...)
	if ev.ID != "" {
		dst = append(dst, `"id":`...)
		dst = appendJSONString(dst, ev.ID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"type":"`...)
	dst = append(dst, ev.Type...) // ValidEventType: nothing to escape
	dst = append(dst, `","ts":"`...)
	dst = ev.Time.UTC().AppendFormat(dst, timeFormat)
	dst = append(dst, `","data":`...)
	if len(ev.Data) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, ev.Data...)
	}
	dst = append(dst, "}\n\n"...)
	return dst, nil
}

// appendJSONString appends s as a JSON string; s is valid UTF-8 without
// line breaks (checked by the caller).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
