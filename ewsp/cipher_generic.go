//go:build !(amd64 && gc && !purego)

package ewsp

import "crypto/cipher"

// aeadKeystreamBuild reports that this build always uses plain chacha20.
const aeadKeystreamBuild = false

// newAEADKeystream returns nil: x/crypto has no XChaCha20-Poly1305 assembly
// for this build (or the purego tag is set), so the payload cipher uses
// chacha20 directly, which is then at least as fast.
func newAEADKeystream(key []byte) cipher.AEAD { return nil }
