package sqlstore_test

import (
	"encoding/hex"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/restapi/console/consoletest"
)

func consoleStores(s *sqlstore.Store) consoletest.Stores {
	return consoletest.Stores{Console: s.Console(), Auth: s.Auth(), Close: s.Close}
}

func TestSQLiteConsoleConformance(t *testing.T) {
	dir := t.TempDir()
	var n atomic.Int64
	consoletest.Run(t, func() consoletest.Stores {
		return consoleStores(openSQLite(t, filepath.Join(dir, "c"+hex.EncodeToString([]byte{byte(n.Add(1))})+".sqlite")))
	})
}

func TestSQLiteMemoryConsoleConformance(t *testing.T) {
	consoletest.Run(t, func() consoletest.Stores { return consoleStores(openSQLite(t, ":memory:")) })
}

func TestPostgresConsoleConformance(t *testing.T) {
	db := newPostgresDB(t)
	consoletest.Run(t, func() consoletest.Stores { return consoleStores(db.open(t)) })
}
