package console_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The console starts no goroutine; the relays, hubs and databases the
// tests start are closed by their cleanups.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
