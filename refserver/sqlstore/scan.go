package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Column encodings shared by the engines: times are Unix milliseconds
// (NULL for the zero time), hashes raw bytes, string lists joined by
// commas, WoL targets JSON.

type scanner interface{ Scan(dest ...any) error }

// ms encodes a time as Unix milliseconds, nil for the zero time.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// msTime scans a nullable Unix-milliseconds column into a time.Time (UTC).
type msTime struct{ p *time.Time }

func (m msTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*m.p = time.Time{}
	case int64:
		*m.p = time.UnixMilli(x).UTC()
	default:
		return fmt.Errorf("sqlstore: time column holds %T", v)
	}
	return nil
}

// hashCol scans a 32-byte hash.
type hashCol struct{ p *auth.Hash }

func (h hashCol) Scan(v any) error {
	b, ok := v.([]byte)
	if !ok || len(b) != len(h.p) {
		return fmt.Errorf("sqlstore: hash column holds %T of %d bytes", v, len(b))
	}
	copy(h.p[:], b)
	return nil
}

// kindCol scans a credential kind stored by name.
type kindCol struct{ p *auth.Kind }

func (k kindCol) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("sqlstore: kind column holds %T", v)
	}
	if *k.p = auth.ParseKind(s); *k.p == auth.KindNone {
		return fmt.Errorf("sqlstore: unknown credential kind %q", s)
	}
	return nil
}

// nullStr encodes "" as NULL (for columns where NULL means none, such as
// the agent of a credential, which a foreign key checks when set).
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// strCol scans a nullable text column, NULL as "".
type strCol struct{ p *string }

func (c strCol) Scan(v any) error {
	var ns sql.NullString
	if err := ns.Scan(v); err != nil {
		return err
	}
	*c.p = ns.String
	return nil
}

// listCol scans a comma-joined list; empty is nil.
type listCol struct{ p *[]string }

func (c listCol) Scan(v any) error {
	var s sql.NullString
	if err := s.Scan(v); err != nil {
		return err
	}
	*c.p = nil
	if s.String != "" {
		*c.p = strings.Split(s.String, ",")
	}
	return nil
}

func joinList(l []string) string { return strings.Join(l, ",") }

// targetJSON is the stored form of a WoL target.
type targetJSON struct {
	Name      string `json:"name"`
	MAC       string `json:"mac"`
	Broadcast string `json:"broadcast,omitempty"`
	Port      int    `json:"port"`
}

func encodeTargets(ts []auth.Target) (string, error) {
	if len(ts) == 0 {
		return "", nil
	}
	out := make([]targetJSON, len(ts))
	for i, t := range ts {
		out[i] = targetJSON(t)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// targetsCol scans the JSON list of targets; empty is nil.
type targetsCol struct{ p *[]auth.Target }

func (c targetsCol) Scan(v any) error {
	var s sql.NullString
	if err := s.Scan(v); err != nil {
		return err
	}
	*c.p = nil
	if s.String == "" {
		return nil
	}
	var in []targetJSON
	if err := json.Unmarshal([]byte(s.String), &in); err != nil {
		return fmt.Errorf("sqlstore: targets column: %w", err)
	}
	if len(in) == 0 {
		return nil
	}
	out := make([]auth.Target, len(in))
	for i, t := range in {
		out[i] = auth.Target(t)
	}
	*c.p = out
	return nil
}

var (
	_ sql.Scanner = msTime{}
	_ sql.Scanner = hashCol{}
	_ sql.Scanner = kindCol{}
	_ sql.Scanner = listCol{}
	_ sql.Scanner = targetsCol{}
)
