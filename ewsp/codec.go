package ewsp

import "strconv"

// The canonical writer of EWSP.md §1.5. encoding/json must not produce any
// signed, hashed or compared byte: it escapes HTML characters, writes \b and
// \f and replaces invalid UTF-8, none of which the reference does.

// appendJSONString appends S(s): s in double quotes, with '"' and '\'
// escaped, LF, CR and TAB written as \n, \r and \t, every other byte below
// 0x20 as \u00xx (lowercase hex), and every other byte (0x7F, '/', '<', '>',
// '&', UTF-8 and invalid UTF-8 alike) copied raw.
func appendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0x0f])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendUint appends dec(u): unsigned decimal without sign or leading zeros.
func appendUint(dst []byte, u uint64) []byte { return strconv.AppendUint(dst, u, 10) }

// decLen returns len(dec(u)).
func decLen(u uint64) int {
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// appendBool appends true or false.
func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// object writes a JSON object member by member with the canonical writer:
// {"k1":v1,"k2":v2}. Keys are constants of this package (never escaped).
type object struct {
	b []byte
	n int
}

func newObject(dst []byte) object { return object{b: append(dst, '{')} }

func (o *object) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *object) str(k, v string) { o.key(k); o.b = appendJSONString(o.b, v) }
func (o *object) uint(k string, v uint64) {
	o.key(k)
	o.b = appendUint(o.b, v)
}
func (o *object) int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }
func (o *object) bool(k string, v bool) { o.key(k); o.b = appendBool(o.b, v) }
func (o *object) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}
func (o *object) strs(k string, v []string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, s)
	}
	o.b = append(o.b, ']')
}
func (o *object) end() []byte { return append(o.b, '}') }
