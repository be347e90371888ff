package sqlstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Store a test opens is closed, which stops database/sql's
// goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
