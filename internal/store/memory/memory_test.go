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
