package ewsp

import (
	"testing"
)

// TestMutation flips every bit of every byte of sealed packets of several
// sizes, in both directions. Under Strict every flip is rejected and leaves
// the chain state unchanged (EWSP.md Test plan 5). Under Reference the test
// records how many flips still pass, a measure of weakness W1 (uppercase
// hex digits in sig, and in seq "1" read the same through other bytes).
func TestMutation(t *testing.T) {
	sizes := []int{0, 64, 300, MaxInnerLen}
	if testing.Short() || raceEnabled {
		// The full sweep runs in the normal test run; the race detector
		// makes it ten times slower and finds nothing more in this
		// single-goroutine code.
		sizes = []int{0, 300}
	}
	for _, dir := range []struct {
		name          string
		sender, recvr Role
		inner         func(int) []byte
	}{
		{"client-to-device", RoleClient, RoleDevice, requestOfSize},
		{"device-to-client", RoleDevice, RoleClient, replyOfSize},
	} {
		for _, n := range sizes {
			inner := dir.inner(n)
			if n < 64 && dir.recvr == RoleDevice {
				inner = []byte(`{"cmd":"ping","d":{},"rid":"ABCD1234"}`)
			}
			sender := mustChain(t, "WL35080814", dir.sender, PolicyStrict, newTestRand(byte(n)))
			// Start mid-chain, so seq and prev are not the genesis values.
			start := State{TxSeq: 41, TxLastHash: Hash{1, 2, 3}}
			sender.SetState(start)
			pkt, err := sender.Seal(nil, inner)
			if err != nil {
				t.Fatal(err)
			}
			rxState := State{RxSeq: 41, RxLastHash: Hash{1, 2, 3}, TxSeq: 9}
			for _, policy := range []Policy{PolicyStrict, PolicyReference} {
				rx := mustChain(t, "WL35080814", dir.recvr, policy, nil)
				rx.SetState(rxState)
				if _, err := rx.Open(nil, pkt); err != nil {
					t.Fatalf("%s/%d/%s: unmodified packet: %v", dir.name, n, policy, err)
				}
				passed := 0
				mut := make([]byte, len(pkt))
				out := make([]byte, 0, MaxInnerLen)
				for i := range pkt {
					for bit := range 8 {
						copy(mut, pkt)
						mut[i] ^= 1 << bit
						rx.SetState(rxState)
						_, err := rx.Open(out[:0], mut)
						if err == nil {
							passed++
							if policy == PolicyStrict {
								t.Errorf("%s/%d: strict accepted a flip of bit %d of byte %d (%q)", dir.name, n, bit, i, pkt[i])
							}
							continue
						}
						if _, ok := err.(*Error); !ok {
							t.Fatalf("error is %T, want *Error", err)
						}
						if rx.State() != rxState {
							t.Fatalf("%s/%d/%s: rejected flip of byte %d changed the state", dir.name, n, policy, i)
						}
					}
				}
				if policy == PolicyReference {
					t.Logf("%s/%d bytes inner, %d-byte packet: %d of %d single-bit flips pass the reference (W1)",
						dir.name, n, len(pkt), passed, 8*len(pkt))
				}
			}
		}
	}
}
