// Command natsfan is a NATS sidecar, the pod's one connection to a NATS
// cluster: it serves the NATS client protocol on a Unix socket (and
// loopback TCP), buffers the configured subjects in bounded in-memory
// buffers, from one upstream subscription each, and fans them out to any
// number of local clients; their publishes, requests and other
// subscriptions it passes through over the same connection.
//
// It is configured by NATSFAN_ environment variables only; natsfan -h lists
// them. Exit status: 0 after a clean shutdown, 2 for a configuration error,
// 1 for any other failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitConfigError = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is natsfan's whole life given its arguments and environment: it
// answers the subcommands, or loads the configuration, builds the logger and
// runs the sidecar until SIGTERM, SIGINT or the end of ctx. It returns the
// exit status.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return runCommand(ctx, args, environ, stdout, stderr)
	}

	cfg, err := loadConfig(environ)
	if err != nil {
		var cerr *ConfigError
		if errors.As(err, &cerr) {
			fmt.Fprintf(stderr, "natsfan: invalid configuration (natsfan -h describes every variable):\n%s\n", indent(cerr.Error()))
			return exitConfigError
		}
		fmt.Fprintf(stderr, "natsfan: %v\n", err)
		return exitFailure
	}
	log, level, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "natsfan: %v\n", err)
		return exitFailure
	}
	defer func() { _ = log.Sync() }() // stderr may not support fsync; nothing to do about it

	log.Info("starting natsfan", zap.String("version", version), zap.String("revision", vcsRevision()))
	log.Info("configuration", cfg.LogFields()...)
	ensureProcs(environ, log)
	ctx, stop := onSignals(ctx, log)
	defer stop()
	if err := runSidecar(ctx, cfg, log, level); err != nil {
		log.Error("natsfan failed", zap.Error(err))
		return exitFailure
	}
	return exitOK
}

// runCommand handles natsfan's few command-line arguments; everything else
// is configured by environment variables. Only natsfan sub and natsfan top
// take arguments of their own.
func runCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if args[0] == "sub" {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runSub(ctx, args[1:], environ, stdout, stderr)
	}
	if args[0] == "top" {
		return runTop(ctx, args[1:], environ, stdout, stderr)
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "natsfan: too many arguments %q; natsfan is configured by environment variables (natsfan -h)\n", args)
		return exitConfigError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		writeUsage(stdout)
	case "version", "-version", "--version":
		printVersion(stdout)
	case "config-markdown": // hidden: generates the README's table
		writeMarkdown(stdout)
	default:
		fmt.Fprintf(stderr, "natsfan: unknown argument %q; natsfan is configured by environment variables (natsfan -h)\n", args[0])
		return exitConfigError
	}
	return exitOK
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	out := []byte("  ")
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, "  "...)
		}
	}
	return string(out)
}

// onSignals returns a context that ends with parent or at the first SIGTERM
// or SIGINT, which starts a graceful shutdown; a second signal exits at
// once, with status 1. stop releases the signals.
func onSignals(parent context.Context, log *zap.Logger) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			log.Info("signal received: shutting down; send another to exit at once", zap.Stringer("signal", sig))
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			log.Warn("second signal received: exiting at once", zap.Stringer("signal", sig))
			_ = log.Sync()
			os.Exit(exitFailure)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
