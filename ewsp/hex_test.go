package ewsp

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestHexEncodeMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 300; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.UintN(256))
		}
		got := appendHex([]byte("pre"), src)
		if want := "pre" + hex.EncodeToString(src); string(got) != want {
			t.Fatalf("appendHex(%x) = %s, want %s", src, got, want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if got := appendHex(nil, all); string(got) != hex.EncodeToString(all) {
		t.Fatalf("all bytes: got %s", got)
	}
}

func TestHexDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 100; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.UintN(256))
		}
		for _, enc := range []string{hex.EncodeToString(src), strings.ToUpper(hex.EncodeToString(src))} {
			out := make([]byte, n)
			if !decodeHex(out, []byte(enc)) || !bytes.Equal(out, src) {
				t.Fatalf("decodeHex(%s) = %x, want %x", enc, out, src)
			}
		}
	}
	// Every non-hex byte at every position of inputs of several lengths fails.
	for _, n := range []int{2, 16, 34, 64} {
		base := bytes.Repeat([]byte("aF"), n/2)
		for pos := range n {
			for b := range 256 {
				c := byte(b)
				if _, ok := unhex(c); ok {
					continue
				}
				in := bytes.Clone(base)
				in[pos] = c
				if decodeHex(make([]byte, n/2), in) {
					t.Fatalf("decodeHex accepted byte %#x at %d of %q", c, pos, in)
				}
			}
		}
	}
}

func TestUnhexAndDecodeHex(t *testing.T) {
	for b := range 256 {
		c := byte(b)
		want := strings.IndexByte("0123456789abcdefABCDEF", c) >= 0
		if _, ok := unhex(c); ok != want {
			t.Errorf("unhex(%#x) ok = %t, want %t", c, ok, want)
		}
		s := bytes.Repeat([]byte{'0'}, 64)
		for pos := range 64 {
			s[pos] = c
			if got := decodeHex(make([]byte, 32), s); got != want {
				t.Fatalf("decodeHex with %#x at %d = %t, want %t", c, pos, got, want)
			}
			s[pos] = '0'
		}
	}
}

func TestHasUpperHex(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 64, 70} {
		for pos := range n {
			for b := range 256 {
				s := bytes.Repeat([]byte{'a'}, n)
				s[pos] = byte(b)
				want := b >= 'A' && b <= 'F'
				if got := hasUpperHex(s); got != want {
					t.Fatalf("hasUpperHex(len %d, %#x at %d) = %t, want %t", n, b, pos, got, want)
				}
			}
		}
	}
	// High bytes next to A-F boundaries must not carry into a neighbour.
	for _, s := range []string{"\xff\x40\xff\x47\xff\x40\xff\x47", "\x80\xc1\xc6\xff@G`g"} {
		if hasUpperHex([]byte(s)) {
			t.Errorf("hasUpperHex(%q) = true", s)
		}
	}
}
