package main

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRun_commands(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		stdout   string // substring of stdout
		stderr   string // substring of stderr
	}{
		{[]string{"-h"}, 0, "NATSFAN_NATS_URL", ""},
		{[]string{"--help"}, 0, "NATSFAN_SUBJECTS", ""},
		{[]string{"help"}, 0, "Exit status", ""},
		{[]string{"version"}, 0, "natsfan dev " + runtime.Version(), ""},
		{[]string{"config-markdown"}, 0, "| `NATSFAN_SOCKET` | `/tmp/natsfan.sock` |", ""},
		{[]string{"serve"}, 2, "", `unknown argument "serve"`},
		{[]string{"help", "me"}, 2, "", "too many arguments"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, nil, &stdout, &stderr)
		if code != tt.wantCode || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s", tt.args, code, stdout.String(), stderr.String())
		}
	}
}

func TestRun_configErrorExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, []string{"NATSFAN_LOG_LEVEL=loud", "NATSFAN_SOCKET=x"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	for _, want := range []string{"invalid configuration", "\n  NATSFAN_SOCKET: ", "\n  NATSFAN_LOG_LEVEL: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestRun_logsTheConfigurationOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// An ended context: natsfan starts (upstream unreachable is not fatal),
	// then shuts down at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := []string{"NATSFAN_NATS_URL=nats://127.0.0.1:1", "NATSFAN_SUBJECTS=a.>", "NATSFAN_NATS_TOKEN=t0ps3cret",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0", "NATSFAN_SHUTDOWN_TIMEOUT=1s"}
	code := run(ctx, nil, env, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d, stderr:\n%s", code, stderr.String())
	}
	out := stderr.String()
	if n := strings.Count(out, `"msg":"configuration"`); n != 1 {
		t.Errorf("configuration logged %d times:\n%s", n, out)
	}
	if strings.Contains(out, "t0ps3cret") {
		t.Errorf("the token was logged:\n%s", out)
	}
}

func TestRun_neverLogsTheSecretOfAURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		code int
	}{
		{"s3cr3t@127.0.0.1:1", 0},
		{"user:s3cr3t@127.0.0.1:1", 0},
		{"nats://127.0.0.1:2,nats://user:s3cr3t@[::1]:1", 0},
		{"user:s3cr3t@127.0.0.1", 2},
		{"nats://user:s3cr3t/x@127.0.0.1:1", 2},
	} {
		// Not named after the URL: t.TempDir's path would hold the secret.
		t.Run("", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // start, then shut down at once
			env := []string{"NATSFAN_NATS_URL=" + tt.url, "NATSFAN_SUBJECTS=a.>",
				"NATSFAN_HTTP_ADDR=127.0.0.1:0", "NATSFAN_SHUTDOWN_TIMEOUT=1s", "NATSFAN_SOCKET=" + filepath.Join(t.TempDir(), "s.sock")}
			if code := run(ctx, nil, env, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			out := stderr.String()
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("NATSFAN_NATS_URL=%s: the secret was shown:\n%s", tt.url, out)
			}
			if want := "redacted@"; !strings.Contains(out, want) {
				t.Errorf("stderr lacks %q, which says which URL:\n%s", want, out)
			}
		})
	}
}
