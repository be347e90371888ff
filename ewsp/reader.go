package ewsp

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The reference reader of EWSP.md §1.6 (ewsp_json_get_* of the pinned C
// reference). It does not parse JSON: it scans for top-level keys, and the
// Reference receive policy must reproduce that scan exactly, including its
// defects (\u escapes read back as text, signs and fractions in numbers, the
// first of duplicate keys winning). Every function takes a C string: the
// caller cuts the input at its first 0x00 (cString).

// maxRawLen is the reference's buffer for raw values: 2048 bytes or more fail.
const maxRawLen = 2048

// cString returns in up to (not including) its first 0x00.
func cString(in []byte) []byte {
	if i := bytes.IndexByte(in, 0); i >= 0 {
		return in[:i]
	}
	return in
}

// isSpace is C isspace: 0x20 and 0x09..0x0D.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipSpace(in []byte, i int) int {
	for i < len(in) && isSpace(in[i]) {
		i++
	}
	return i
}

// scanString skips the body of a string that starts at i (just after its
// opening quote): a backslash skips the byte after it. It returns the index
// just past the closing quote; for an unterminated string, len(in), or
// len(in)+1 when the input ends in a backslash (the reference steps past the
// end). Linear time: each byte is searched at most twice.
func scanString(in []byte, i int) int {
	end, _ := stringEnd(in, i)
	if end < len(in) {
		return end + 1
	}
	return end
}

// stringEnd returns the index of the closing quote of the string whose body
// starts at i (len(in) if unterminated, len(in)+1 if the input ends in an
// escaping backslash) and whether the body holds a backslash.
func stringEnd(in []byte, i int) (end int, escaped bool) {
	// Short strings (keys, names, ids) are scanned 8 bytes at a time for a
	// quote or a backslash; long ones (payloads, padding) with IndexByte.
	for limit := i + 32; i < limit && len(in)-i >= 8; {
		x := binary.LittleEndian.Uint64(in[i:])
		m := zeroBytes(x^0x2222222222222222) | zeroBytes(x^0x5c5c5c5c5c5c5c5c)
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if in[i] == '"' {
			return i, escaped
		}
		escaped = true
		i += 2
	}
	if len(in)-i < 8 {
		for i < len(in) {
			switch in[i] {
			case '"':
				return i, escaped
			case '\\':
				escaped = true
				i += 2
				continue
			}
			i++
		}
		return i, escaped
	}
	q := -1 // index of the next quote, len(in) if none
	for {
		if q < i {
			if j := bytes.IndexByte(in[i:], '"'); j >= 0 {
				q = i + j
			} else {
				q = len(in)
			}
		}
		k := bytes.IndexByte(in[i:q], '\\')
		if k < 0 {
			return q, escaped
		}
		escaped = true
		i += k + 2
		if i >= len(in) {
			return i, escaped
		}
	}
}

// zeroBytes returns a word whose lowest set bit is the high bit of the first
// zero byte of x (little endian), or 0 when x has no zero byte. Bits above
// the first zero byte may be wrong; only the lowest one is used.
func zeroBytes(x uint64) uint64 {
	return (x - 0x0101010101010101) &^ x & 0x8080808080808080
}

// skipValue skips a value the way the reference's key search does: it walks
// forward tracking strings and {/[ depth and stops at a ',' or a '}'/']'
// met at depth 0, returning that index (or len(in)). rawEnd is the index
// just past the first '}'/']' that took the depth from 1 to 0 before the
// stop, or -1: for a value starting at i that is exactly where rawAt ends.
func skipValue(in []byte, i int) (stop, rawEnd int) {
	depth := 0
	rawEnd = -1
	for i < len(in) {
		switch in[i] {
		case '"':
			i = scanString(in, i+1)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, rawEnd
			}
			depth--
			if depth == 0 && rawEnd < 0 {
				rawEnd = i + 1
			}
		case ',':
			if depth == 0 {
				return i, rawEnd
			}
		}
		i++
	}
	return len(in), rawEnd
}

// keyScan walks the top-level keys of in exactly as the reference's find
// does. For each key it calls visit with the key's raw bytes (nothing
// decoded) and the index where its value starts; visit returns true to stop.
// When the walk skips a value, skipped reports its rawEnd (see skipValue).
type keyScan struct {
	in []byte
	i  int
}

// next returns the next key and the index of its value, or ok=false when the
// reference's search would report the key missing (end, '}', or a byte
// that cannot start a key).
func (s *keyScan) next() (key []byte, val int, ok bool) {
	in, i := s.in, s.i
	for {
		i = skipSpace(in, i)
		if i >= len(in) || in[i] == '}' {
			return nil, 0, false
		}
		if in[i] == ',' {
			i++
			continue
		}
		if in[i] != '"' {
			return nil, 0, false
		}
		break
	}
	i++
	ks := i
	for i < len(in) && in[i] != '"' {
		if in[i] == '\\' {
			i += 2
		} else {
			i++
		}
	}
	ke := min(i, len(in))
	i = min(i+1, len(in)) // past the closing quote
	i = skipSpace(in, i)
	if i < len(in) && in[i] == ':' {
		i++
	}
	i = skipSpace(in, i)
	s.i = i
	return in[ks:ke], i, true
}

// skip skips the value at the current position and returns its rawEnd.
func (s *keyScan) skip() (rawEnd int) {
	s.i, rawEnd = skipValue(s.in, s.i)
	return rawEnd
}

// newKeyScan starts a walk, or reports false when in does not start (after
// whitespace) with '{'.
func newKeyScan(in []byte) (keyScan, bool) {
	i := skipSpace(in, 0)
	if i >= len(in) || in[i] != '{' {
		return keyScan{}, false
	}
	return keyScan{in: in, i: i + 1}, true
}

// refFind returns the index where the value of the first top-level key equal
// to key starts, or -1 when the reference reports the key missing.
func refFind(in []byte, key string) int {
	s, ok := newKeyScan(in)
	if !ok {
		return -1
	}
	for {
		k, v, ok := s.next()
		if !ok {
			return -1
		}
		if string(k) == key {
			return v
		}
		s.skip()
	}
}

// stringAt reads the string value at index i with the reference's rules: it
// must start with '"'; the value runs to the next unescaped '"' or the end;
// \n \r \t become LF CR TAB and \X becomes X for any other X (so \/ is / and
// \u0041 is the five bytes u0041); a backslash that is the last input byte is
// kept. A value of more than max bytes fails with CodeBufferTooSmall, a
// value that is not a string with CodeInvalidJSON.
//
// When the value holds no backslash, val aliases in; otherwise it is
// appended to buf.
func stringAt(buf, in []byte, i, max int) (val []byte, code Code) {
	if i >= len(in) || in[i] != '"' {
		return nil, CodeInvalidJSON
	}
	i++
	end, escaped := stringEnd(in, i)
	if !escaped {
		if end-i > max {
			return nil, CodeBufferTooSmall
		}
		return in[i:end], CodeOK
	}
	start := len(buf)
	for i < len(in) {
		c := in[i]
		if c == '"' {
			break
		}
		i++
		if c == '\\' && i < len(in) {
			switch c = in[i]; c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
			i++
		}
		if len(buf)-start >= max {
			return nil, CodeBufferTooSmall
		}
		buf = append(buf, c)
	}
	return buf[start:], CodeOK
}

// uintAt reads the number at index i as the reference does, with C strtoll
// in base 10: an optional sign, then decimal digits up to the first other
// byte ("01" is 1, "1.9" is 1, "1e3" is 1); no digit fails with
// CodeInvalidJSON. The value saturates at 2^63-1 and -2^63 and is then
// reinterpreted as unsigned ("-1" is 2^64-1).
func uintAt(in []byte, i int) (uint64, Code) {
	neg := false
	if i < len(in) && (in[i] == '+' || in[i] == '-') {
		neg = in[i] == '-'
		i++
	}
	if i >= len(in) || !isDigit(in[i]) {
		return 0, CodeInvalidJSON
	}
	const limit = 1 << 63 // magnitude of -2^63 (and 2^63-1 + 1)
	var m uint64          // magnitude, saturated at limit+1
	for ; i < len(in) && isDigit(in[i]); i++ {
		if m > limit/10 {
			m = limit + 1
			continue
		}
		m = m*10 + uint64(in[i]-'0')
		if m > limit {
			m = limit + 1
		}
	}
	if neg {
		if m >= limit {
			return limit, CodeOK // -2^63 as unsigned
		}
		return -m, CodeOK
	}
	if m >= limit {
		return limit - 1, CodeOK
	}
	return m, CodeOK
}

// rawAt returns the raw text of the value at index i as the reference's
// object reader does: from the value's first byte, counting '{' and '['
// up and '}' and ']' down outside strings, up to and including the closer
// that takes the count from 1 to 0; without one, the rest of the input. A
// value of 2048 bytes or more fails with CodeBufferTooSmall (a string
// backslash that is the last input byte counts one byte extra). The result
// aliases in.
func rawAt(in []byte, i int) ([]byte, Code) {
	count := 0
	j := i
	for j < len(in) {
		switch in[j] {
		case '"':
			j = scanString(in, j+1)
			continue
		case '{', '[':
			count++
		case '}', ']':
			count--
			if count == 0 {
				return rawResult(in, i, j+1, j+1)
			}
		}
		j++
	}
	return rawResult(in, i, len(in), j)
}

func rawResult(in []byte, i, end, counted int) ([]byte, Code) {
	if counted-i >= maxRawLen {
		return nil, CodeBufferTooSmall
	}
	return in[i:end], CodeOK
}

// refString is the reference's string reader: find, then stringAt.
func refString(buf, in []byte, key string, max int) ([]byte, Code) {
	i := refFind(in, key)
	if i < 0 {
		return nil, CodeMissingField
	}
	return stringAt(buf, in, i, max)
}

// refUint is the reference's unsigned reader: find, then uintAt.
func refUint(in []byte, key string) (uint64, Code) {
	i := refFind(in, key)
	if i < 0 {
		return 0, CodeMissingField
	}
	return uintAt(in, i)
}

// refRaw is the reference's object reader: find, then rawAt.
func refRaw(in []byte, key string) ([]byte, Code) {
	i := refFind(in, key)
	if i < 0 {
		return nil, CodeMissingField
	}
	return rawAt(in, i)
}
