//go:build amd64 && gc && !purego

package ewsp

import (
	"crypto/cipher"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// aeadKeystreamBuild reports that this build can take the payload keystream
// from x/crypto's AEAD assembly (when the CPU has it).
const aeadKeystreamBuild = true

// newAEADKeystream returns x/crypto's XChaCha20-Poly1305 under key when
// x/crypto runs it in assembly on this machine (amd64 with AVX2 and BMI2,
// the condition of chacha20poly1305_amd64.go), else nil. Its Seal encrypts
// with the XChaCha20 keystream from block counter 1 (block 0 keys
// Poly1305), which is exactly the payload cipher of EWSP.md §1.3; the
// vectors of primitives.json and payload.json prove both paths equal.
func newAEADKeystream(key []byte) cipher.AEAD {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasBMI2 || !cpu.X86.HasSSSE3 {
		return nil
	}
	a, err := chacha20poly1305.NewX(key)
	if err != nil { // FIPS 140-only mode: use the plain chacha20 path
		return nil
	}
	return a
}
