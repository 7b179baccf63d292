package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/internal/leakcheck"
)

// TestMain lets the test binary act as the keycdc command (KEYCDC_TEST_MAIN=1), so crash
// tests and benchmarks can run keycdc as a child process, and checks for leaked goroutines.
func TestMain(m *testing.M) {
	if os.Getenv("KEYCDC_TEST_MAIN") == "1" {
		os.Exit(childMain())
	}
	leakcheck.Main(m)
}

// childMain runs the keycdc command as main does. For benchmarks it writes a CPU profile of
// the whole run to KEYCDC_TEST_CPUPROFILE, serves GET /heap on the address KEYCDC_TEST_PPROF
// (a heap profile taken after a GC, with the in-use heap bytes in the X-Heap-Inuse header;
// the address it listens on is printed on a line of its own), and
// ends its output with its peak resident set (VmHWM) on a line of its own: the parent
// cannot take it from rusage, because Linux starts a child's ru_maxrss at the RSS of the
// process that forked it.
func childMain() int {
	if os.Getenv("KEYCDC_TEST_PPROF") != "" {
		defer printPeakRSS()
	}
	if path := os.Getenv("KEYCDC_TEST_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "cpu profile:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if addr := os.Getenv("KEYCDC_TEST_PPROF"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile endpoint:", err)
			return 1
		}
		defer ln.Close()
		fmt.Fprintf(os.Stderr, "%s%s\n", profileAddrPrefix, ln.Addr())
		mux := http.NewServeMux()
		mux.HandleFunc("GET /heap", func(w http.ResponseWriter, r *http.Request) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			w.Header().Set("X-Heap-Inuse", strconv.FormatUint(ms.HeapInuse, 10))
			pprof.Lookup("heap").WriteTo(w, 0)
		})
		go http.Serve(ln, mux)
	}
	return run(env{stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}, os.Args[1:])
}

// Lines on which a benchmark child reports its profile endpoint and its peak RSS in KB.
const (
	profileAddrPrefix = "keycdc-test-child profile="
	peakRSSPrefix     = "keycdc-test-child vmhwm_kb="
)

func printPeakRSS() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			fmt.Fprintf(os.Stderr, "%s%s\n", peakRSSPrefix, f[1])
		}
	}
}
