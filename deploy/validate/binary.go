package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A Binary is a natsfan binary, the authority on its own configuration.
type Binary struct {
	Path     string
	defaults map[string]string // every variable, with its default ("" if none)
}

// usageVar matches a variable's line in natsfan -h:
//
//	NATSFAN_SOCKET (default /tmp/natsfan.sock)
var usageVar = regexp.MustCompile(`^  (NATSFAN_[A-Z0-9_]+)(?: \(default (.*)\))?$`)

// requiredVars are the variables this package reasons about itself; if
// natsfan -h stops listing one, the checks would silently check nothing.
var requiredVars = []string{
	"NATSFAN_SUBJECTS", "NATSFAN_SOCKET", "NATSFAN_SOCKET_MODE", "NATSFAN_HTTP_ADDR", "NATSFAN_SHUTDOWN_TIMEOUT",
	"NATSFAN_NATS_CREDS_FILE", "NATSFAN_RETENTION_MESSAGES", "NATSFAN_RETENTION_BYTES",
	"NATSFAN_CONSUMER_MAX_LAG_MESSAGES", "NATSFAN_CONSUMER_MAX_LAG_BYTES",
	"NATSFAN_INGEST_PENDING_MESSAGES", "NATSFAN_INGEST_PENDING_BYTES",
}

// LoadBinary asks the natsfan binary at path for its variables (natsfan -h).
func LoadBinary(path string) (*Binary, error) {
	out, err := exec.Command(path, "-h").Output()
	if err != nil {
		return nil, fmt.Errorf("validate: %s -h: %w", path, err)
	}
	b := &Binary{Path: path, defaults: map[string]string{}}
	for _, line := range strings.Split(string(out), "\n") {
		if m := usageVar.FindStringSubmatch(line); m != nil {
			b.defaults[m[1]] = m[2]
		}
	}
	for _, name := range requiredVars {
		if _, ok := b.defaults[name]; !ok {
			return nil, fmt.Errorf("validate: natsfan -h does not list %s (has its format changed?)", name)
		}
	}
	return b, nil
}

// Known reports whether natsfan has a variable of that name.
func (b *Binary) Known(name string) bool {
	_, ok := b.defaults[name]
	return ok
}

// Default returns a variable's default, "" if it has none.
func (b *Binary) Default(name string) string { return b.defaults[name] }

// sentinel is a variable natsfan does not know. Set, it makes natsfan stop at
// configuration time with exit status 2, after listing every problem it
// found: the sentinel's, and any in the rest of the environment.
const sentinel = "NATSFAN_VALIDATE_CONFIGURATION_ONLY"

// CheckEnv runs natsfan with environ (NAME=VALUE) and the sentinel, and
// returns the problems natsfan reports with the configuration, one line each
// as natsfan wrote it. A problem reading a file whose variable is in
// mounted is left out: those files come from volumes in the pod, checked by
// the caller. natsfan does not start: it stops at the sentinel, so nothing
// listens or connects.
func (b *Binary) CheckEnv(environ []string, mounted map[string]bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.Path)
	cmd.Env = append(slices.Clone(environ), sentinel+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		return nil, fmt.Errorf("validate: natsfan with %s set should stop with exit status 2, but: %v; it wrote:\n%s", sentinel, err, out.String())
	}
	var found []string
	sawSentinel := false
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "  ") { // natsfan indents each problem under a heading
			continue
		}
		line = strings.TrimSpace(line)
		name, detail, _ := strings.Cut(line, ": ")
		switch {
		case name == sentinel:
			sawSentinel = true
		case mounted[name] && strings.HasPrefix(detail, "cannot read the file"):
		default:
			found = append(found, line)
		}
	}
	if !sawSentinel {
		return nil, fmt.Errorf("validate: natsfan did not report the unknown variable %s; it wrote:\n%s", sentinel, out.String())
	}
	return found, nil
}
