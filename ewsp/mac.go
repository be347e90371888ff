package ewsp

import "strings"

// MAC is a 48-bit hardware address, the target of wake.
type MAC [6]byte

// String returns the normalised EWSP form: uppercase hex pairs joined by
// ':' (AA:BB:CC:DD:EE:FF).
func (m MAC) String() string {
	const upper = "0123456789ABCDEF"
	b := make([]byte, 0, 17)
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, upper[c>>4], upper[c&0x0f])
	}
	return string(b)
}

// ParseMAC parses the EWSP MAC syntax that devices and the ewsp helpers
// accept (EWSP.md §1.11): exactly 17 characters, a ':' or '-' at positions
// 2, 5, 8, 11 and 14 (mixing allowed), hex digits of either case elsewhere.
// Anything else, bare AABBCCDDEEFF included, is INVALID_PARAMS. Clients
// that take user input use ParseMACLenient instead.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, errBadMAC()
	}
	for i := range m {
		if i > 0 {
			if c := s[3*i-1]; c != ':' && c != '-' {
				return m, errBadMAC()
			}
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return m, errBadMAC()
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

// NormalizeMAC returns s, which must be in the EWSP MAC syntax (ParseMAC),
// as AA:BB:CC:DD:EE:FF.
func NormalizeMAC(s string) (string, error) {
	m, err := ParseMAC(s)
	if err != nil {
		return "", err
	}
	return m.String(), nil
}

// ParseMACLenient is the client-side parser for MAC addresses typed by
// users: it trims surrounding spaces and accepts, in any case,
// aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF (separators may be mixed), Cisco's
// aabb.ccdd.eeff and 12 bare hex digits. Clients send the result's String,
// the EWSP form. Anything else is INVALID_PARAMS.
func ParseMACLenient(s string) (MAC, error) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 17:
		return ParseMAC(s)
	case 14: // aabb.ccdd.eeff
		if s[4] != '.' || s[9] != '.' {
			return MAC{}, errBadMAC()
		}
		return parseBareMAC(s[0:4] + s[5:9] + s[10:14])
	case 12:
		return parseBareMAC(s)
	}
	return MAC{}, errBadMAC()
}

func parseBareMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 12 {
		return m, errBadMAC()
	}
	for i := range m {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return m, errBadMAC()
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func errBadMAC() error { return newError(CodeInvalidParams, "not a MAC address in EWSP syntax") }
