package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// cpuProfile fetches a CPU profile of the sidecar's throughput phase from
// its pprof server, in the background: start it as the burst begins, and
// wait for it once the deliveries are in. A CPU profile samples only time
// on a CPU, so a window that outlasts the burst adds little but the idle
// tail's few samples.
type cpuProfile struct {
	path string
	done chan error
}

// startCPUProfile starts fetching a profile of the next d from the pprof
// server at addr, to be written to path.
func startCPUProfile(addr string, d time.Duration, path string) *cpuProfile {
	p := &cpuProfile{path: path, done: make(chan error, 1)}
	go func() { p.done <- fetchProfile(addr, d, path) }()
	return p
}

// wait waits for the profile and returns where it was written.
func (p *cpuProfile) wait() (string, error) {
	return p.path, <-p.done
}

func fetchProfile(addr string, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds())))
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("cannot fetch a CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cannot fetch a CPU profile: %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("cannot fetch a CPU profile: %w", err)
	}
	return f.Close()
}
