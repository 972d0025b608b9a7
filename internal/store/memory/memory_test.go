package memory_test

import (
	"testing"

	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.RunTests(t, func(*testing.T) *store.Store { return memory.New() })
}

// TestWebSessions runs the BFF session conformance suite in memory.
func TestWebSessions(t *testing.T) {
	storetest.RunWebSessions(t, func(t *testing.T) storetest.WebStores {
		w := memory.NewWebSessions()
		return storetest.WebStores{Sessions: w, Logins: w.Logins()}
	})
}
