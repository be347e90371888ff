package events

import (
	"time"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// entryOverhead approximates the bytes an entry holds besides its strings
// and data (the Event struct, the entry, the slot).
const entryOverhead = 160

// entry is one event in the ring.
type entry struct {
	ev   *console.Event // with ID
	at   time.Time      // when it entered the ring, on this node's clock
	size int
}

// ring holds the latest events of a node for Last-Event-ID replay, bounded
// by count, age and bytes. Sequence numbers in it are contiguous: the
// oldest entry has next-n, the newest next-1. Not safe for concurrent use
// (the Hub's mutex guards it).
type ring struct {
	buf      []entry
	head     int // index of the oldest entry
	n        int
	next     uint64 // sequence number of the next event pushed
	bytes    int
	maxBytes int
	maxAge   time.Duration
}

func newRing(size, maxBytes int, maxAge time.Duration) ring {
	return ring{buf: make([]entry, size), next: 1, maxBytes: maxBytes, maxAge: maxAge}
}

func entrySize(ev *console.Event) int {
	return entryOverhead + len(ev.ID) + len(ev.Type) + len(ev.Account) + len(ev.User) + len(ev.Data)
}

// push appends ev (whose ID carries seq r.next) and evicts the oldest
// entries beyond the count or byte bound. An event larger than the byte
// bound on its own is kept alone.
func (r *ring) push(ev *console.Event, now time.Time) {
	e := entry{ev: ev, at: now, size: entrySize(ev)}
	for r.n > 0 && (r.n == len(r.buf) || r.bytes+e.size > r.maxBytes) {
		r.pop()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
	r.bytes += e.size
	r.next++
}

func (r *ring) pop() {
	r.bytes -= r.buf[r.head].size
	r.buf[r.head] = entry{} // drop references
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}

// expire evicts the entries older than maxAge at now.
func (r *ring) expire(now time.Time) {
	for r.n > 0 && now.Sub(r.buf[r.head].at) > r.maxAge {
		r.pop()
	}
}

// clear evicts everything and skips one sequence number, so every id
// issued before answers a gap, even the newest.
func (r *ring) clear() {
	for r.n > 0 {
		r.pop()
	}
	r.next++
}

// oldest is the sequence number of the oldest entry (next when empty).
func (r *ring) oldest() uint64 { return r.next - uint64(r.n) }

// after returns the entries with a sequence number above seq that match,
// oldest first, and false when the ring no longer holds every event after
// seq (or seq was never issued).
func (r *ring) after(seq uint64, match func(*console.Event) bool) ([]*console.Event, bool) {
	if seq >= r.next || seq+1 < r.oldest() {
		return nil, false
	}
	var out []*console.Event
	for i := int(seq + 1 - r.oldest()); i < r.n; i++ {
		e := &r.buf[(r.head+i)%len(r.buf)]
		if match(e.ev) {
			out = append(out, e.ev)
		}
	}
	return out, true
}

func (r *ring) len() int { return r.n }
