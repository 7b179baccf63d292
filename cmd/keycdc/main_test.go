package main

import (
	"os"
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
)

// TestMain lets the test binary act as the keycdc command (KEYCDC_TEST_MAIN=1), so crash
// tests can run keycdc as a child process and kill it, and checks for leaked goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("KEYCDC_TEST_MAIN") == "1" {
		os.Args = append([]string{"keycdc"}, os.Args[1:]...)
		main()
		return
	}
	leakcheck.Main(m)
}
