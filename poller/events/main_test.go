package events

import (
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
)

// TestMain fails the package's tests when a goroutine outlives them (the page reader of an
// ascending poll must end with the poll, also when a batch fails).
func TestMain(m *testing.M) { leakcheck.Main(m) }
