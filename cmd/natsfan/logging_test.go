package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestNewLogger_JSON(t *testing.T) {
	var buf bytes.Buffer
	log, level, err := newLogger(&Config{LogLevel: "info", LogFormat: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("hello", zap.Int("n", 1))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (debug suppressed), got:\n%s", buf.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("not JSON: %q: %v", lines[0], err)
	}
	if entry["level"] != "info" || entry["msg"] != "hello" || entry["n"] != 1.0 {
		t.Errorf("entry = %v", entry)
	}
	ts, _ := entry["ts"].(string)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[-+Z]`).MatchString(ts) {
		t.Errorf("ts = %q, want ISO 8601", entry["ts"])
	}

	level.SetLevel(zapcore.DebugLevel)
	log.Debug("shown")
	if !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Errorf("debug entry missing after SetLevel(debug):\n%s", buf.String())
	}
}

func TestNewLogger_console(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := newLogger(&Config{LogLevel: "warn", LogFormat: "console"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("careful")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "WARN") || !strings.Contains(out, "careful") || strings.HasPrefix(out, "{") {
		t.Errorf("console output = %q", out)
	}
}

func TestNewLogger_rejectsBadSettings(t *testing.T) {
	for _, cfg := range []*Config{{LogLevel: "loud", LogFormat: "json"}, {LogLevel: "info", LogFormat: "xml"}} {
		if _, _, err := newLogger(cfg, &bytes.Buffer{}); err == nil {
			t.Errorf("newLogger(%q, %q) succeeded", cfg.LogLevel, cfg.LogFormat)
		}
	}
}

// TestNewLogger_writesEveryDurationAsText: the configuration line shows
// durations as "10s", so every other line does too, in both formats, and
// whatever the field was built with.
func TestNewLogger_writesEveryDurationAsText(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log, _, err := newLogger(&Config{LogLevel: "info", LogFormat: format}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("durations",
			zap.Duration("timeout", 10*time.Second),
			zap.Durations("waits", []time.Duration{1500 * time.Millisecond, time.Minute}),
			zap.Any("any", 250*time.Millisecond),
			zap.Stringer("stringer", 90*time.Second),
			zap.Object("nested", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
				enc.AddDuration("outage", 2*time.Hour)
				return nil
			})))
		out := buf.String()
		for _, want := range []string{`"10s"`, `"1.5s"`, `"1m0s"`, `"250ms"`, `"1m30s"`, `"2h0m0s"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s log lacks %s:\n%s", format, want, out)
			}
		}
	}
}

func TestLogFormat(t *testing.T) {
	for _, tt := range []struct {
		setting  string
		terminal bool
		want     string
	}{
		{"auto", true, "console"},
		{"auto", false, "json"},
		{"json", true, "json"},
		{"json", false, "json"},
		{"console", true, "console"},
		{"console", false, "console"},
	} {
		if got := logFormat(tt.setting, tt.terminal); got != tt.want {
			t.Errorf("logFormat(%q, terminal %v) = %q, want %q", tt.setting, tt.terminal, got, tt.want)
		}
	}
}

func TestIsTerminal_notForPipesFilesOrBuffers(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"pipe": w, "file": f, "buffer": &bytes.Buffer{}} {
		if isTerminal(w) {
			t.Errorf("isTerminal(%s) = true", name)
		}
	}
}

// TestNewLogger_autoIsJSONOffATerminal: with the default format, what a
// program reads (a pipe, a file, a container's log) gets JSON lines.
func TestNewLogger_autoIsJSONOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := newLogger(&Config{LogLevel: "info", LogFormat: "auto"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil || entry["msg"] != "hello" {
		t.Errorf("want one JSON line, got %q (%v)", buf.String(), err)
	}
}
