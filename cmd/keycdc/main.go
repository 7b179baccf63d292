// Command keycdc streams a Keycloak realm's identity data to Kafka as change data.
//
// This package is the only place that reads flags, environment variables, files and
// signals; it builds loggers, meters and clients and hands them to the noun packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch of the process: its output streams and environment.
// Tests build one to run subcommands in-process.
type env struct {
	stdout io.Writer
	stderr io.Writer
	// lookupEnv is os.LookupEnv: a variable set to "" differs from one not set.
	lookupEnv func(string) (string, bool)
}

// command is one subcommand. run returns a *usageError for bad flags or arguments.
type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

// usageError marks an error caused by how keycdc was invoked; main exits 2 for it.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

func commands() map[string]command {
	return map[string]command{
		"version": {summary: "print the keycdc version", run: cmdVersion},
		"run":     {summary: "run the pipeline: keycdc run --config F [--once]", run: cmdRun},
		"dev":     {summary: "run everything on an embedded Kafka, registry and Keycloak twin: keycdc dev", run: cmdDev},
		"check":   {summary: "check Keycloak, Kafka and the registry before running: keycdc check --config F", run: cmdCheck},
		"status":  {summary: "show each realm's checkpoint and topics: keycdc status --config F", run: cmdStatus},
		"schemas": {summary: "print the Avro schemas, or register them: keycdc schemas [--table T] [--register --config F]", run: cmdSchemas},
		"twin":    {summary: "serve a Keycloak Admin API twin for tests and demos", run: cmdTwin},
		"sink":    {summary: "load the topics into a warehouse: keycdc sink postgres --config F", run: cmdSink},
	}
}

func main() {
	e := env{stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
	os.Exit(run(e, os.Args[1:]))
}

// run dispatches to a subcommand. The first SIGINT/SIGTERM cancels the context so the
// subcommand stops gracefully; a second one exits at once.
func run(e env, args []string) int {
	ctx, stop := signalContext(context.Background(), e)
	defer stop()
	return dispatch(ctx, e, args)
}

func dispatch(ctx context.Context, e env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok && args[0] == "dev-infra" {
		// Internal: the embedded broker and registry process of keycdc dev; not in the help.
		c, ok = command{run: cmdDevInfra}, true
	}
	if !ok {
		fmt.Fprintf(e.stderr, "keycdc: unknown command %q; run 'keycdc help' for the list\n", args[0])
		return 2
	}
	err := c.run(ctx, e, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	default:
		fmt.Fprintf(e.stderr, "keycdc %s: %v\n", args[0], err)
		var u *usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("keycdc streams Keycloak users, groups, roles, clients and events to Kafka.\n\nUsage: keycdc <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'keycdc <command> -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// signalContext cancels on the first SIGINT or SIGTERM and exits the process on the second.
func signalContext(parent context.Context, e env) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			fmt.Fprintln(e.stderr, "keycdc: stopping (finishing the open transaction; signal again to quit at once)")
			cancel()
		case <-done:
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(e.stderr, "keycdc: quitting at once")
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
