package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildNatsfan builds the natsfan binary into dir, and returns its path.
// It builds the natsfan this module's replace directive points at (the
// checkout it sits in), in that module's own directory: cmd/natsfan's
// dependencies are in the root module's go.sum, not in this one's.
func buildNatsfan(dir string) (string, error) {
	root, err := natsfanModuleDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "natsfan")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/natsfan")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("cannot build natsfan in %s: %w", root, err)
	}
	return bin, nil
}

// natsfanModuleDir returns the directory of the natsfan module, asking the
// go tool in the working directory: in the benchmark's module (where
// go -C cmd/natsfan-bench run . and go test run), the target of its replace
// directive; in the root module, the root.
func natsfanModuleDir() (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", natsfanModule)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("cannot find the natsfan module to build (run in a natsfan checkout, as go -C cmd/natsfan-bench run . does, or pass --natsfan-bin): go list -m %s: %v: %s",
			natsfanModule, err, strings.TrimSpace(stderr.String()))
	}
	return dir, nil
}

// natsfanModule is the module whose cmd/natsfan the benchmark builds.
const natsfanModule = "github.com/natsfan/natsfan"

// sidecar is how the benchmark runs natsfan: its binary, and settings
// (NATSFAN_NAME=VALUE, from --set) that override the benchmark's own.
type sidecar struct {
	bin      string
	settings []string
}

// startSidecar runs the natsfan binary as a child on upstream URL url,
// ingesting benchSubjects and serving consumers on a Unix socket in dir,
// and returns it with the socket's path once it logs that it has started.
// Everything else is natsfan's defaults, but for a connection limit high
// enough for the idle-memory test, a short shutdown, and sc's settings.
// With pprof, it serves pprof on a free loopback port (child.pprof has it).
func startSidecar(sc sidecar, url, dir string, pprof bool) (*child, string, error) {
	sock := filepath.Join(dir, "natsfan.sock")
	cmd := exec.Command(sc.bin)
	cmd.Env = cleanEnv(
		"NATSFAN_NATS_URL="+url,
		"NATSFAN_SUBJECTS="+benchSubjects,
		"NATSFAN_SOCKET="+sock,
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET_MAX_CONNECTIONS=15000",
		"NATSFAN_SHUTDOWN_TIMEOUT=2s",
	)
	if pprof {
		cmd.Env = append(cmd.Env, "NATSFAN_PPROF_ADDR=127.0.0.1:0")
	}
	cmd.Env = append(cmd.Env, sc.settings...) // the last of a name wins
	c, _, err := startChild("natsfan", cmd, "natsfan started", 20*time.Second)
	if err != nil {
		return nil, "", err
	}
	return c, sock, nil
}

// unixDialer makes nats.go dial a Unix socket whatever the URL says.
type unixDialer struct{ path string }

func (d unixDialer) Dial(_, _ string) (net.Conn, error) {
	return net.DialTimeout("unix", d.path, 5*time.Second)
}
