package ewsp

// Benchmarks of EWSP.md Test plan 9 for EWSP 1.0. Each operation has a
// "floor" next to it: only the mandatory primitives of the operation at the
// same sizes, so the goals are ratios measured in one run:
//
//   - Seal and Open (both policies) <= 1.3 x their floor at 128 B and 2047 B;
//   - the payload cipher >= 0.9 x x/crypto's XChaCha20-Poly1305 Seal.
//
// Run: go test -run='^$' -bench=. -cpu 1 -benchmem -count 10 ./ewsp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"
)

// benchLoop runs body in b.Loop and also reports the CPU time of the
// benchmarking thread per operation ("cpu-ns/op"): on a shared, loaded
// machine wall time includes time spent waiting for a CPU, thread CPU time
// does not, so it gives steadier ratios.
func benchLoop(b *testing.B, body func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		body()
		n++
	}
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(t1.Nano()-t0.Nano())/float64(n), "cpu-ns/op")
}

var benchSizes = []int{128, 2047}

const benchToken = "wlk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// benchInner returns a request inner of exactly n bytes (n >= 64).
func benchInner(n int) []byte { return benchInnerRID(n, "ABCD1234") }

// benchInnerRID returns a wake request of exactly n bytes with request id rid.
func benchInnerRID(n int, rid string) []byte {
	head := `{"cmd":"wake","d":{"mac":"AA:BB:CC:DD:EE:FF","pad":"`
	tail := `"},"rid":"` + rid + `"}`
	pad := n - len(head) - len(tail)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

func benchChains(b *testing.B, policy Policy) (tx, rx *Chain) {
	tx, err := NewChain([]byte(benchToken), "WL35080814", RoleClient, Config{})
	if err != nil {
		b.Fatal(err)
	}
	rx, err = NewChain([]byte(benchToken), "WL35080814", RoleDevice, Config{Policy: policy})
	if err != nil {
		b.Fatal(err)
	}
	return tx, rx
}

func BenchmarkSeal(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			tx, _ := benchChains(b, PolicyStrict)
			inner := benchInner(n)
			buf := make([]byte, 0, MaxCanonicalPacketLen)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				out, err := tx.Seal(buf[:0], inner)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			})
		})
	}
}

// BenchmarkSealFloor runs only Seal's mandatory primitives: the XChaCha20
// keystream over the inner, hex of the 2+n+24 payload bytes, HMAC-SHA256 over
// sig_input and SHA-256 over the packet (no RNG, no framing).
func BenchmarkSealFloor(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			tx, _ := benchChains(b, PolicyStrict)
			inner := benchInner(n)
			pkt, err := tx.Seal(nil, inner)
			if err != nil {
				b.Fatal(err)
			}
			keys, _ := DeriveKeys([]byte(benchToken))
			pc := newPayloadCipher(&keys.enc)
			mac := hmac.New(sha256.New, keys.auth[:])
			var nonce [NonceSize]byte
			raw := make([]byte, 2+n+NonceSize+tagRoom)
			phex := make([]byte, 2*(2+n+NonceSize))
			prefix := []byte("1.0|WL35080814|1|" + GenesisHash + "|")
			var sum [32]byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				pc.xor(raw[2:2+n], inner, &nonce)
				hex.Encode(phex, raw[:2+n+NonceSize])
				mac.Reset()
				mac.Write(prefix)
				mac.Write(phex)
				mac.Sum(sum[:0])
				sum = sha256.Sum256(pkt)
			})
		})
	}
}

// benchRing is the number of consecutive packets the Open benchmarks cycle
// through: the receiver opens seq 1..benchRing in order and is reset to
// genesis once per round, so Open runs its full success path on real
// packets without a state reset per call.
const benchRing = 64

func benchPackets(b *testing.B, n int) [][]byte {
	tx, _ := benchChains(b, PolicyStrict)
	pkts := make([][]byte, benchRing)
	for i := range pkts {
		p, err := tx.Seal(nil, benchInnerRID(n, fmt.Sprintf("R%07d", i)))
		if err != nil {
			b.Fatal(err)
		}
		pkts[i] = p
	}
	return pkts
}

func BenchmarkOpen(b *testing.B) {
	for _, policy := range []Policy{PolicyStrict, PolicyReference} {
		for _, n := range benchSizes {
			b.Run(policy.String()+"/"+strconv.Itoa(n), func(b *testing.B) {
				_, rx := benchChains(b, policy)
				pkts := benchPackets(b, n)
				buf := make([]byte, 0, MaxInnerLen+tagRoom)
				i := 0
				b.SetBytes(int64(n))
				b.ReportAllocs()
				benchLoop(b, func() {
					if i == 0 {
						rx.SetState(State{})
					}
					if _, err := rx.Open(buf[:0], pkts[i]); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) % benchRing
				})
			})
		}
	}
}

// BenchmarkOpenFloor runs only Open's mandatory primitives on the same
// packets: hex decoding of the 2+n+24 payload bytes, HMAC-SHA256 over
// sig_input, SHA-256 over the packet and the XChaCha20 keystream over the
// inner.
func BenchmarkOpenFloor(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			pkts := benchPackets(b, n)
			phex := make([][]byte, benchRing)
			prefix := make([][]byte, benchRing)
			for i, pkt := range pkts {
				var f outer
				if !parseReferencePacket(pkt, &f, make([]byte, readerBufLen)) {
					b.Fatal("unreadable packet")
				}
				phex[i] = bytes.Clone(f.p)
				prefix[i] = appendSigPrefix(nil, f.v, f.id, f.seq, f.prev)
			}
			keys, _ := DeriveKeys([]byte(benchToken))
			pc := newPayloadCipher(&keys.enc)
			mac := hmac.New(sha256.New, keys.auth[:])
			raw := make([]byte, len(phex[0])/2, len(phex[0])/2+tagRoom)
			var nonce [NonceSize]byte
			var sum [32]byte
			i := 0
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				if _, err := hex.Decode(raw, phex[i]); err != nil {
					b.Fatal(err)
				}
				mac.Reset()
				mac.Write(prefix[i])
				mac.Write(phex[i])
				mac.Sum(sum[:0])
				sum = sha256.Sum256(pkts[i])
				copy(nonce[:], raw[len(raw)-NonceSize:])
				pc.xor(raw[2:2+n], raw[2:2+n], &nonce)
				i = (i + 1) % benchRing
			})
		})
	}
}

// BenchmarkPayloadCipher is the payload cipher (XChaCha20 from block 1) on
// this build's path; compare with BenchmarkXChaCha20Poly1305Seal.
func BenchmarkPayloadCipher(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			keys, _ := DeriveKeys([]byte(benchToken))
			pc := newPayloadCipher(&keys.enc)
			in := benchInner(n)
			out := make([]byte, n, n+tagRoom)
			var nonce [NonceSize]byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				pc.xor(out, in, &nonce)
			})
		})
	}
}

// BenchmarkPayloadCipherGeneric is the plain chacha20 path (the one of
// -tags purego and of architectures without the AEAD assembly).
func BenchmarkPayloadCipherGeneric(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			keys, _ := DeriveKeys([]byte(benchToken))
			pc := newPayloadCipher(&keys.enc)
			pc.aead = nil
			in := benchInner(n)
			out := make([]byte, n, n+tagRoom)
			var nonce [NonceSize]byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				pc.xor(out, in, &nonce)
			})
		})
	}
}

// BenchmarkXChaCha20Poly1305Seal is x/crypto's AEAD seal, the baseline of the
// payload cipher (and a raw baseline at 16 KB).
func BenchmarkXChaCha20Poly1305Seal(b *testing.B) {
	for _, n := range append(benchSizes, 16384) {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			a, _ := chacha20poly1305.NewX(make([]byte, 32))
			in := make([]byte, n)
			out := make([]byte, 0, n+16)
			nonce := make([]byte, NonceSize)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				out = a.Seal(out[:0], nonce, in, nil)
			})
		})
	}
}

// BenchmarkChaCha20Poly1305Seal is x/crypto's IETF ChaCha20-Poly1305 seal,
// a raw baseline.
func BenchmarkChaCha20Poly1305Seal(b *testing.B) {
	for _, n := range append(benchSizes, 16384) {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			a, _ := chacha20poly1305.New(make([]byte, 32))
			in := make([]byte, n)
			out := make([]byte, 0, n+16)
			nonce := make([]byte, chacha20poly1305.NonceSize)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				out = a.Seal(out[:0], nonce, in, nil)
			})
		})
	}
}

// BenchmarkParseEnvelope is the inner extraction Open runs (§1.8 step 7).
func BenchmarkParseEnvelope(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			inner := benchInner(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			benchLoop(b, func() {
				ParseEnvelope(inner)
			})
		})
	}
}
