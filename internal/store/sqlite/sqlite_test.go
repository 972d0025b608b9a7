package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/sqlite"
	"github.com/bulwarkauth/bulwark/internal/store/storetest"
)

func openTemp(t testing.TB) *sqlite.DB {
	t.Helper()
	d, err := sqlite.OpenDB(t.Context(), filepath.Join(t.TempDir(), "bulwark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) *store.Store { return openTemp(t).Store() })
}

// TestStoreInMemory runs the suite on ":memory:", where one connection
// serves both reads and writes, to prove no operation waits on a second
// connection it can never get.
func TestStoreInMemory(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) *store.Store {
		st, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
