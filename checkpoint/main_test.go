package checkpoint

import (
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
