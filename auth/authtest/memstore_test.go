package authtest_test

import (
	"testing"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
)

func TestMemStore(t *testing.T) {
	authtest.Run(t, func() auth.Store { return authtest.NewMemStore() })
}
