package main

// natsfan sub is a debugging aid for the pod natsfan runs in: with kubectl
// exec, it shows what a consumer on the socket actually receives, with the
// same client library and the same socket a Go consumer uses, so "is it
// natsfan or my application?" has a quick answer.
//
// It deliberately does not reconnect: a debugging tool that hid the
// moment natsfan went away (and the messages lost meanwhile) would
// mislead. When the connection ends, it says why and exits 1.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	env "github.com/caarlos0/env/v10"
	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/subjects"
)

// subDialTimeout bounds the connection to the socket.
const subDialTimeout = 5 * time.Second

// unixDialer is a nats.CustomDialer that connects to a Unix socket whatever
// network and address nats.go asks for: nats.go needs a server URL, but
// natsfan's consumers reach it through a file.
type unixDialer struct {
	path string
}

// Dial connects to the socket; network and address are ignored.
func (d unixDialer) Dial(network, address string) (net.Conn, error) {
	return net.DialTimeout("unix", d.path, subDialTimeout)
}

// SkipTLSHandshake tells nats.go that the connection is never TLS: the
// socket is a local file.
func (unixDialer) SkipTLSHandshake() bool { return true }

// subURL is the server URL nats.go is given. With unixDialer and
// SkipHostLookup nothing resolves or dials it; it only has to parse.
const subURL = "nats://localhost"

// subUsage writes natsfan sub -h, showing the socket used by default given
// the environment.
func subUsage(w io.Writer, socket, socketFrom string) {
	fmt.Fprintf(w, `Usage: natsfan sub [--socket PATH] [--count N] SUBJECT

natsfan sub subscribes to SUBJECT on natsfan's Unix socket, as any consumer
would, and prints each message it receives: a line with the subject (and the
reply subject, if any); the headers, one "Key: Value" per line, followed by
a blank line if there are any; the payload; and a blank line. SUBJECT may
use the wildcards * and >, and must be within the subjects natsfan ingests
(NATSFAN_SUBJECTS). It is meant for debugging, such as:

  kubectl exec POD -c natsfan -- natsfan sub --count 10 'orders.>'

Flags:
  --socket PATH  the socket to connect to; default: %s
                 (%s)
  --count N      exit after N messages; 0: run until interrupted (default 0)

Exit status: 0 after N messages or on SIGINT or SIGTERM; 1 if natsfan cannot
be reached, refuses the subscription or closes the connection; 2 for bad
arguments.
`, socket, socketFrom)
}

// subArgs are the parsed arguments of natsfan sub.
type subArgs struct {
	socket  string
	count   int
	subject string
}

// parseSubArgs parses natsfan sub's arguments (without "sub"); flags may
// come before or after the subject. It returns the exit status to stop
// with, if parsing is all there is to do: 0 for -h, 2 for a usage error,
// which it reports on stderr.
func parseSubArgs(args, environ []string, stdout, stderr io.Writer) (subArgs, int, bool) {
	socket, from := defaultSocket(environ)
	var a subArgs
	fs := flag.NewFlagSet("natsfan sub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // written below, to stdout for -h and stderr for errors
	fs.StringVar(&a.socket, "socket", socket, "")
	fs.IntVar(&a.count, "count", 0, "")

	usageError := func(format string, args ...any) (subArgs, int, bool) {
		if format != "" {
			fmt.Fprintf(stderr, "natsfan sub: "+format+"\n", args...)
		}
		subUsage(stderr, socket, from)
		return subArgs{}, exitConfigError, true
	}

	// flag stops at the first argument that is not a flag; go on after
	// it, so that "natsfan sub SUBJECT --count 1" works too. After "--"
	// everything is an argument.
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			subUsage(stdout, socket, from)
			return subArgs{}, exitOK, true
		}
		if err != nil {
			return usageError("") // flag has said what is wrong
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}

	switch {
	case len(positional) == 0:
		return usageError("missing SUBJECT")
	case len(positional) > 1:
		return usageError("one SUBJECT only, got %q", positional)
	case a.count < 0:
		return usageError("--count must be 0 or more, got %d", a.count)
	case a.socket == "":
		return usageError("--socket must not be empty")
	}
	a.subject = positional[0]
	if err := subjects.ValidatePattern(a.subject); err != nil {
		return usageError("%v", strings.TrimPrefix(err.Error(), "subjects: "))
	}
	return a, 0, false
}

// defaultSocket returns the socket natsfan sub connects to without
// --socket: NATSFAN_SOCKET if set, as natsfan itself would read it, else
// natsfan's default; and where it comes from, for the usage.
func defaultSocket(environ []string) (path, from string) {
	s, _ := settingByName("SOCKET")
	if v := env.ToMap(environ)[s.Name]; v != "" {
		return v, "from " + s.Name
	}
	return s.Default, "natsfan's default; " + s.Name + " overrides it"
}

// runSub is natsfan sub: it subscribes to a subject on natsfan's socket and
// prints the messages to stdout until it has printed --count of them, ctx
// ends (SIGINT or SIGTERM: exit status 0), or the connection fails (1). args
// follow "sub"; environ supplies NATSFAN_SOCKET, the default socket.
func runSub(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	a, code, done := parseSubArgs(args, environ, stdout, stderr)
	if done {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "natsfan sub: "+format+"\n", args...)
		return exitFailure
	}
	refused := func(err error) int {
		return fail("natsfan refused the subscription to %q, which is not within the subjects it ingests (NATSFAN_SUBJECTS): %v", a.subject, err)
	}

	// Whatever ends the connection or refuses the subscription cancels
	// subCtx with the reason as its cause.
	subCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	nc, err := nats.Connect(subURL,
		nats.Name("natsfan sub"),
		nats.SetCustomDialer(unixDialer{path: a.socket}),
		nats.SkipHostLookup(),
		nats.NoReconnect(),
		nats.PermissionErrOnSubscribe(true),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				// nats.go dropped messages because stdout is slower than
				// natsfan: worth saying, not worth stopping for.
				fmt.Fprintf(stderr, "natsfan sub: %v: messages were dropped because they could not be printed fast enough\n", err)
				return
			}
			stop(err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) { stop(closedError(nc.LastError())) }),
	)
	if err != nil {
		return fail("cannot connect to natsfan on socket %s: %v (is natsfan running, and is --socket or NATSFAN_SOCKET right?)", a.socket, err)
	}
	defer nc.Close()

	sub, err := nc.SubscribeSync(a.subject)
	if err == nil && a.count > 0 {
		// natsfan stops sending after count messages.
		err = sub.AutoUnsubscribe(a.count)
	}
	if err == nil {
		// A round trip: a refusal of the subscription arrives before the
		// PONG, so after it LastError says whether there was one.
		err = nc.Flush()
	}
	if err == nil {
		if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
			err = last
		}
	}
	if errors.Is(err, nats.ErrPermissionViolation) {
		return refused(err)
	}
	if errors.Is(err, nats.ErrConnectionClosed) {
		err = closedError(nc.LastError())
	}
	if err != nil {
		return fail("cannot subscribe to %q: %v", a.subject, err)
	}
	fmt.Fprintf(stderr, "natsfan sub: subscribed to %q on %s; interrupt (Ctrl-C) to stop\n", a.subject, a.socket)

	out := bufio.NewWriter(stdout)
	for n := 1; a.count == 0 || n <= a.count; {
		msg, err := sub.NextMsgWithContext(subCtx)
		switch {
		case err == nil:
		case errors.Is(err, nats.ErrSlowConsumer):
			continue // said by the error handler; the next message is there
		case ctx.Err() != nil:
			_ = out.Flush()
			return exitOK // interrupted: the normal way to stop
		default:
			_ = out.Flush()
			if err = subFailure(subCtx, nc, err); errors.Is(err, nats.ErrPermissionViolation) {
				return refused(err)
			}
			return fail("%v", err)
		}
		writeMsg(out, n, msg)
		last := n == a.count
		n++
		// Flush when nothing else is waiting, so a busy subject is written
		// in large chunks and a quiet one at once.
		if pending, _, _ := sub.Pending(); pending == 0 || last {
			if err := out.Flush(); err != nil {
				return fail("cannot write the messages: %v", err)
			}
		}
	}
	return exitOK
}

// subFailure explains why the subscription ended with err: the cause subCtx
// was cancelled with, if any, or the error natsfan sent before it closed
// the connection.
func subFailure(subCtx context.Context, nc *nats.Conn, err error) error {
	if cause := context.Cause(subCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if errors.Is(err, nats.ErrConnectionClosed) {
		return closedError(nc.LastError())
	}
	return err
}

// closedError says that natsfan closed the connection and why, if it said:
// last is the connection's last error.
func closedError(last error) error {
	if last == nil || errors.Is(last, io.EOF) {
		return errors.New("natsfan closed the connection (did it stop?)")
	}
	return fmt.Errorf("natsfan closed the connection: %w", last)
}

// writeMsg writes message number n for people: a line naming the subject
// (and reply subject), the headers sorted by key, a blank line if there were
// headers, the payload, and a blank line that separates it from the next.
func writeMsg(w *bufio.Writer, n int, msg *nats.Msg) {
	fmt.Fprintf(w, "[#%d] Received on %q", n, msg.Subject)
	if msg.Reply != "" {
		fmt.Fprintf(w, " with reply %q", msg.Reply)
	}
	w.WriteString("\n")
	keys := make([]string, 0, len(msg.Header))
	for k := range msg.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range msg.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	if len(keys) > 0 {
		w.WriteString("\n")
	}
	w.Write(msg.Data)
	if len(msg.Data) > 0 && msg.Data[len(msg.Data)-1] != '\n' {
		w.WriteString("\n")
	}
	w.WriteString("\n")
}
