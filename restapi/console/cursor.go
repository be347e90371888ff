package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"

	"github.com/wakelink-go/wakelink/auth"
)

// Pagination bounds (API.md §1.6).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
	// maxCursorLen bounds a cursor's text: the longest one (an agent name
	// of 64 characters, an agent id and an owner id) is under 400.
	maxCursorLen = 1024
)

// Lists a cursor belongs to: a cursor of one list is refused by another.
const (
	cursorAgents      = "agents"
	cursorAdminAgents = "admin_agents"
	cursorUsers       = "users"
	cursorAudit       = "audit"
	cursorSessions    = "sessions"
)

// cursor is the keyset position a next_cursor carries: opaque to clients
// (base64url of this JSON), checked on the way back in: the list, sort and
// order must be the request's, and the fields well-formed. A tampered
// cursor can at worst start a page elsewhere in the caller's own results:
// every query is scoped by the caller before the keyset applies.
type cursor struct {
	List  string `json:"l"`
	Sort  string `json:"s,omitempty"`
	Desc  bool   `json:"d,omitempty"`
	Str   string `json:"v,omitempty"` // sort value (agent_id, name)
	Num   int64  `json:"n,omitempty"` // sort value (last_seen, created_at: Unix ms)
	ID    string `json:"i,omitempty"` // agent id, user id, audit id, session id
	Owner string `json:"o,omitempty"` // owner id (agent lists)
}

var cursorFieldError = FieldError{Field: "cursor", Rule: "cursor"}

var errBadCursor = errors.New("console: bad cursor")

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // strings and numbers only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a cursor of list with the given sort and order; ""
// gives nil. Any other mismatch or malformation is errBadCursor.
func decodeCursor(s, list, sort string, desc bool) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxCursorLen {
		return nil, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil || dec.More() {
		return nil, errBadCursor
	}
	if c.List != list || c.Sort != sort || c.Desc != desc || c.ID == "" || len(c.ID) > 64 ||
		len(c.Owner) > 64 || len(c.Str) > 256 || c.Num < 0 {
		return nil, errBadCursor
	}
	return &c, nil
}

// pageLimit validates a page size: 0 means DefaultPageLimit.
func pageLimit(v *validator, n int) int {
	if n == 0 {
		return DefaultPageLimit
	}
	if n < 1 || n > MaxPageLimit {
		v.add("limit", "range", "1-"+strconv.Itoa(MaxPageLimit))
		return DefaultPageLimit
	}
	return n
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}

// userIDPattern: usr_ + 26 characters of the lowercase ULID alphabet.
func validUserID(id string) bool {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	if len(id) != len(auth.PrefixUser)+26 || id[:len(auth.PrefixUser)] != auth.PrefixUser {
		return false
	}
	for i := len(auth.PrefixUser); i < len(id); i++ {
		if !bytes.ContainsRune([]byte(alphabet), rune(id[i])) {
			return false
		}
	}
	return true
}
