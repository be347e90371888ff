package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The Service starts no goroutines; the tests' own must all end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
