package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Paths, from deploy/monitoring.
const (
	repoRoot   = "../.."
	natsfanPkg = "../../cmd/natsfan"
	readmePath = "../../README.md"
)

// What every test shares, set by TestMain.
var (
	// exported holds what the natsfan binary's /metrics lists, and the
	// natsfan_ names cmd/natsfan declares.
	exported Exported
	// scraped and declared are those two sources apart.
	scraped, declared []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "natsfan-monitoring-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := loadExported(dir); err != nil {
		fmt.Fprintf(os.Stderr, "monitoring: cannot learn natsfan's metrics: %v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// loadExported builds natsfan in dir, scrapes it, and reads its source.
func loadExported(dir string) error {
	bin := filepath.Join(dir, "natsfan")
	build := exec.Command("go", "build", "-o", bin, "./cmd/natsfan")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/natsfan: %w\n%s", err, out)
	}
	text, err := scrape(bin, dir)
	if err != nil {
		return err
	}
	if scraped, err = NamesInExposition(text); err != nil {
		return err
	}
	if declared, err = NamesInSource(natsfanPkg); err != nil {
		return err
	}
	exported = Exported{}
	for _, n := range append(slices.Clone(scraped), declared...) {
		exported[n] = true
	}
	return nil
}

// scrape runs natsfan in embedded mode (a nats-server in its own process,
// so nothing outside is needed) and returns what its /metrics serves once
// it has started, then stops it.
func scrape(bin, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{
		"NATSFAN_EMBEDDED_PORT=-1",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET=" + filepath.Join(dir, "natsfan.sock"),
		"NATSFAN_LOG_FORMAT=json",
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	// natsfan logs one JSON line "natsfan started" with the URL of its
	// probes, which gives the HTTP port it bound.
	var log strings.Builder
	probes := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var line struct{ Msg, Probes string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "natsfan started" && line.Probes != "" {
				probes <- line.Probes
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		close(probes)
	}()
	var readyz string
	select {
	case u, ok := <-probes:
		if !ok {
			return "", fmt.Errorf("natsfan exited without saying it started; it wrote:\n%s", log.String())
		}
		readyz = u
	case <-ctx.Done():
		return "", errors.New("natsfan did not say it started within 30s")
	}
	base, ok := strings.CutSuffix(readyz, "/readyz")
	if !ok {
		return "", fmt.Errorf("natsfan's probes are at %q, not …/readyz", readyz)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s/metrics: %s, %v", base, resp.Status, err)
	}
	return string(body), nil
}
