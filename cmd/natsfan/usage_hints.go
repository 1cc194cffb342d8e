package main

// Once natsfan has started it logs, for whoever just ran it, the exact
// commands that reach it: with the addresses it actually took (ports picked
// by NATSFAN_EMBEDDED_PORT=-1 or NATSFAN_LISTEN=127.0.0.1:0 included) and a
// subject it serves, so that they can be pasted as they are. They are the
// runtime counterpart of natsfan -h, and the README's first-run commands are
// the same lines.

import (
	"os/exec"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// natsCLIInstall is how to install the nats CLI the hints use.
const natsCLIInstall = "go install github.com/nats-io/natscli/nats@latest"

// A hint is one start-up log line: what a command does, then the command.
type hint struct {
	text    string // what it does; no ": " in it, so the command is what follows the first
	command string // a shell command, quoted as needed
}

// String is the log message: the text, ": ", the command.
func (h hint) String() string { return h.text + ": " + h.command }

// logStartHints logs startHints, one line each. listen is the address of
// natsfan's TCP listener ("" if none).
func logStartHints(log *zap.Logger, cfg *Config, listen string) {
	_, err := exec.LookPath("nats")
	for _, h := range startHints(cfg, listen, err == nil) {
		log.Info(h.String())
	}
}

// startHints returns the commands that reach a started natsfan, most useful
// first: subscribing and publishing through natsfan over TCP with the nats
// CLI (when natsfan listens on TCP), subscribing over the Unix socket with
// natsfan sub, and installing the nats CLI if natsCLI says it is not on
// PATH. Without a TCP listener it says which variable adds one, since only
// nats.go and natsfan sub can dial the socket.
func startHints(cfg *Config, listen string, natsCLI bool) []hint {
	subject := ">"
	if len(cfg.Subjects) > 0 {
		subject = cfg.Subjects[0]
	}
	if listen == "" {
		return []hint{{"subscribe through natsfan over its Unix socket (nats.go with a custom dialer, as the README's Connecting section shows, or natsfan sub; set NATSFAN_LISTEN for other NATS clients)",
			"natsfan sub --socket " + shellQuote(cfg.Socket) + " " + shellQuote(subject)}}
	}
	url := shellQuote("nats://" + listen)
	hints := []hint{
		{"subscribe through natsfan with the nats CLI (or any NATS client at this URL)",
			"nats sub -s " + url + " " + shellQuote(subject)},
		{"publish through natsfan (it goes upstream, and comes back to every subscriber)",
			"nats pub -s " + url + " " + shellQuote(exampleSubject(subject)) + " hi"},
		{"or subscribe over natsfan's Unix socket",
			"natsfan sub --socket " + shellQuote(cfg.Socket) + " " + shellQuote(subject)},
	}
	if !natsCLI {
		hints = append(hints, hint{"the nats CLI is not on PATH; install it with", natsCLIInstall})
	}
	return hints
}

// exampleSubject returns a subject that pattern matches, to publish on:
// demo.hello for >, and otherwise the pattern with * as x and > as hello.
func exampleSubject(pattern string) string {
	if pattern == ">" {
		return "demo.hello"
	}
	tokens := strings.Split(pattern, ".")
	for i, tok := range tokens {
		switch tok {
		case "*":
			tokens[i] = "x"
		case ">":
			tokens[i] = "hello"
		}
	}
	return strings.Join(tokens, ".")
}

// shellSafe matches words a POSIX shell takes literally.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell, if it needs quoting.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
