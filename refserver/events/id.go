package events

import (
	"strconv"
	"time"
)

// Event ids are "<epoch>-<seq>": epoch is 16 lowercase hex digits, the
// node's start time in Unix milliseconds (48 bits, as in ULIDs) followed by
// 16 random bits, so two starts in the same millisecond still differ; seq
// is the decimal sequence number of the event on this node, from 1,
// without leading zeros. Ids of one node start compare by seq; clients
// treat them as opaque.
const epochLen = 16

// newEpoch returns the epoch string of a node starting at start, with the
// random bits r.
func newEpoch(start time.Time, r uint16) string {
	ms := uint64(start.UnixMilli()) & (1<<48 - 1)
	v := ms<<16 | uint64(r)
	s := strconv.FormatUint(v, 16)
	for len(s) < epochLen {
		s = "0" + s
	}
	return s
}

// formatID returns the id of event seq under epoch.
func formatID(epoch string, seq uint64) string {
	b := make([]byte, 0, epochLen+1+20)
	b = append(b, epoch...)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	return string(b)
}

// parseID splits an event id into its epoch and sequence number. It
// accepts only the canonical form formatID produces (so a parsed id
// formats back to itself) and never panics, whatever s holds.
func parseID(s string) (epoch string, seq uint64, ok bool) {
	if len(s) < epochLen+2 || len(s) > epochLen+1+20 || s[epochLen] != '-' {
		return "", 0, false
	}
	for i := 0; i < epochLen; i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", 0, false
		}
	}
	digits := s[epochLen+1:]
	if digits[0] < '1' || digits[0] > '9' { // no sign, no leading zero, seq ≥ 1
		return "", 0, false
	}
	for i := 1; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil { // overflow
		return "", 0, false
	}
	return s[:epochLen], n, true
}
