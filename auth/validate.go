package auth

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Agent field bounds (API.md §3.0, §3.2).
const (
	MaxAgentIDLen      = 32
	MaxAgentNameLen    = 64
	MaxPlatformLen     = 32
	MaxTargets         = 32
	MaxTargetNameLen   = 32
	MaxFirmwareVersion = 64
	DefaultWoLPort     = 9
	DefaultChannel     = "stable"
)

// ValidAgentID reports whether id matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$.
func ValidAgentID(id string) bool {
	if len(id) == 0 || len(id) > MaxAgentIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// ReservedAgentID reports whether id equals a static path segment under
// /agents (API.md §3.2): such ids are refused.
func ReservedAgentID(id string) bool {
	switch id {
	case "presence":
		return true
	}
	return false
}

// checkAgentID validates a user-chosen agent id.
func checkAgentID(v *validator, field, id string) {
	switch {
	case !ValidAgentID(id):
		v.add(field, "pattern", "^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
	case ReservedAgentID(id):
		v.add(field, "reserved", "")
	}
}

// checkAgentName: 1-64 printable characters, no leading or trailing space.
func checkAgentName(v *validator, field, name string) {
	switch {
	case name == "":
		v.add(field, "required", "")
	case !utf8.ValidString(name):
		v.add(field, "utf8", "")
	case utf8.RuneCountInString(name) > MaxAgentNameLen:
		v.add(field, "max", strconv.Itoa(MaxAgentNameLen))
	case strings.TrimSpace(name) != name:
		v.add(field, "trimmed", "")
	default:
		for _, r := range name {
			if !unicode.IsPrint(r) {
				v.add(field, "printable", "")
				return
			}
		}
	}
}

// validPlatform: ^[a-z0-9][a-z0-9_-]{0,31}$.
func validPlatform(p string) bool {
	if len(p) == 0 || len(p) > MaxPlatformLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

func validChannel(c string) bool { return c == "stable" || c == "beta" || c == "dev" }

// validSemver reports whether s is a SemVer 2.0 version without a leading
// v, at most 64 bytes.
func validSemver(s string) bool {
	if len(s) == 0 || len(s) > MaxFirmwareVersion {
		return false
	}
	core, build, hasBuild := strings.Cut(s, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return false
	}
	for _, n := range nums {
		if !numericIdent(n) {
			return false
		}
	}
	if hasPre && !dotIdents(pre, true) {
		return false
	}
	if hasBuild && !dotIdents(build, false) {
		return false
	}
	return true
}

func numericIdent(n string) bool {
	if n == "" || (len(n) > 1 && n[0] == '0') {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// dotIdents checks dot-separated [0-9A-Za-z-] identifiers; in a
// pre-release, numeric ones have no leading zero.
func dotIdents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// checkEWSPVersions: a subset of {"1.0", "2"}, no duplicates.
func checkEWSPVersions(v *validator, field string, vs []string) {
	if len(vs) > 2 {
		v.add(field, "max", "2")
		return
	}
	seen := map[string]bool{}
	for i, x := range vs {
		if (x != "1.0" && x != "2") || seen[x] {
			v.add(field+"["+strconv.Itoa(i)+"]", "oneof", "1.0 2")
		}
		seen[x] = true
	}
}

// ParseMAC parses the EWSP MAC syntax (EWSP.md §1.11): 17 characters,
// positions 2, 5, 8, 11, 14 each ':' or '-' (mixing allowed), hex digits of
// either case elsewhere. It returns the normalised form AA:BB:CC:DD:EE:FF
// and the six bytes.
func ParseMAC(s string) (string, [6]byte, bool) {
	var b [6]byte
	if len(s) != 17 {
		return "", b, false
	}
	for i := 0; i < 6; i++ {
		if i > 0 && s[3*i-1] != ':' && s[3*i-1] != '-' {
			return "", b, false
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return "", b, false
		}
		b[i] = hi<<4 | lo
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 17)
	for i, x := range b {
		if i > 0 {
			out[3*i-1] = ':'
		}
		out[3*i], out[3*i+1] = digits[x>>4], digits[x&15]
	}
	return string(out), b, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// LooksLikeMAC reports whether any client MAC notation of EWSP.md §1.11
// would parse s: after trimming surrounding spaces, the EWSP syntax
// (aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, separators mixed), the dotted
// aabb.ccdd.eeff, or 12 bare hex digits, in any case. A WoL target name
// for which this holds is refused, so a wake target is never ambiguous.
// It is written here, not imported from ewsp, because auth imports nothing
// of this module; it accepts a superset of what a client parser accepts.
func LooksLikeMAC(s string) bool {
	s = strings.Trim(s, " \t")
	allHex := func(x string) bool {
		for i := 0; i < len(x); i++ {
			if _, ok := unhex(x[i]); !ok {
				return false
			}
		}
		return true
	}
	switch len(s) {
	case 12:
		return allHex(s)
	case 14:
		return s[4] == '.' && s[9] == '.' && allHex(s[0:4]) && allHex(s[5:9]) && allHex(s[10:14])
	case 17:
		_, _, ok := ParseMAC(s)
		return ok
	}
	return false
}

// validTargetName: ^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$.
func validTargetName(n string) bool {
	if len(n) == 0 || len(n) > MaxTargetNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != ' ' && c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// checkTargets validates and normalises a WoL target list (API.md §3.0):
// at most 32; names unique ignoring case and never MAC-like; MACs in the
// EWSP syntax, not all-zero, broadcast or multicast; broadcast an IPv4
// address or empty; port 1-65535 (0 means 9).
func checkTargets(v *validator, ts []Target) []Target {
	if len(ts) > MaxTargets {
		v.add("targets", "max", strconv.Itoa(MaxTargets))
		return nil
	}
	out := make([]Target, len(ts))
	seen := make(map[string]bool, len(ts))
	for i, t := range ts {
		f := "targets[" + strconv.Itoa(i) + "]"
		switch {
		case !validTargetName(t.Name):
			v.add(f+".name", "pattern", "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$")
		case LooksLikeMAC(t.Name):
			v.add(f+".name", "not_mac", "")
		case seen[strings.ToLower(t.Name)]:
			v.add(f+".name", "unique", "")
		}
		seen[strings.ToLower(t.Name)] = true
		mac, b, ok := ParseMAC(t.MAC)
		switch {
		case !ok:
			v.add(f+".mac", "mac", "")
		case b == [6]byte{}, b == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, b[0]&1 == 1:
			v.add(f+".mac", "mac_unicast", "")
		}
		if t.Broadcast != "" {
			a, err := netip.ParseAddr(t.Broadcast)
			if err != nil || !a.Is4() {
				v.add(f+".broadcast", "ipv4", "")
			} else {
				t.Broadcast = a.String()
			}
		}
		if t.Port == 0 {
			t.Port = DefaultWoLPort
		}
		if t.Port < 1 || t.Port > 65535 {
			v.add(f+".port", "range", "1-65535")
		}
		t.MAC = mac
		out[i] = t
	}
	return out
}
