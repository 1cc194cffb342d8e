package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func hintLines(hints []hint) []string {
	var out []string
	for _, h := range hints {
		if strings.Contains(h.text, ": ") {
			panic("hint text " + h.text + " contains \": \", which would hide where its command starts")
		}
		out = append(out, h.String())
	}
	return out
}

func TestStartHints(t *testing.T) {
	embedded := mustLoad(t, nil)
	embeddedOrders := mustLoad(t, map[string]string{"SUBJECTS": "orders.*.>"})
	upstreamCfg := mustLoad(t, upstream("SUBJECTS", "orders.>,prices.*", "SOCKET", "/run/my natsfan/s.sock"))
	for _, tt := range []struct {
		name    string
		cfg     *Config
		listen  string
		natsCLI bool
		want    []string
	}{
		{"embedded mode, nats CLI installed", embedded, "127.0.0.1:4222", true, []string{
			"subscribe through natsfan with the nats CLI (or any NATS client at this URL): nats sub -s nats://127.0.0.1:4222 '>'",
			"publish through natsfan (it goes upstream, and comes back to every subscriber): nats pub -s nats://127.0.0.1:4222 demo.hello hi",
			"or subscribe over natsfan's Unix socket: natsfan sub --socket /tmp/natsfan.sock '>'",
		}},
		{"embedded mode with free ports, no nats CLI", embedded, "127.0.0.1:40001", false, []string{
			"subscribe through natsfan with the nats CLI (or any NATS client at this URL): nats sub -s nats://127.0.0.1:40001 '>'",
			"publish through natsfan (it goes upstream, and comes back to every subscriber): nats pub -s nats://127.0.0.1:40001 demo.hello hi",
			"or subscribe over natsfan's Unix socket: natsfan sub --socket /tmp/natsfan.sock '>'",
			"the nats CLI is not on PATH; install it with: go install github.com/nats-io/natscli/nats@latest",
		}},
		{"upstream mode with a listener, no nats CLI", upstreamCfg, "[::1]:4222", false, []string{
			"subscribe through natsfan with the nats CLI (or any NATS client at this URL): nats sub -s 'nats://[::1]:4222' 'orders.>'",
			"publish through natsfan (it goes upstream, and comes back to every subscriber): nats pub -s 'nats://[::1]:4222' orders.hello hi",
			"or subscribe over natsfan's Unix socket: natsfan sub --socket '/run/my natsfan/s.sock' 'orders.>'",
			"the nats CLI is not on PATH; install it with: go install github.com/nats-io/natscli/nats@latest",
		}},
		{"narrower subjects: a subject they match to publish on", embeddedOrders, "127.0.0.1:4222", true, []string{
			"subscribe through natsfan with the nats CLI (or any NATS client at this URL): nats sub -s nats://127.0.0.1:4222 'orders.*.>'",
			"publish through natsfan (it goes upstream, and comes back to every subscriber): nats pub -s nats://127.0.0.1:4222 orders.x.hello hi",
			"or subscribe over natsfan's Unix socket: natsfan sub --socket /tmp/natsfan.sock 'orders.*.>'",
		}},
		{"upstream mode, socket only", upstreamCfg, "", true, []string{
			"subscribe through natsfan over its Unix socket (nats.go with a custom dialer, as the README's Connecting section shows, or natsfan sub; set NATSFAN_LISTEN for other NATS clients): natsfan sub --socket '/run/my natsfan/s.sock' 'orders.>'",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := hintLines(startHints(tt.cfg, tt.listen, tt.natsCLI))
			if !slices.Equal(got, tt.want) {
				t.Errorf("hints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222": "nats://127.0.0.1:4222",
		"/tmp/natsfan.sock":     "/tmp/natsfan.sock",
		">":                     "'>'",
		"orders.*":              "'orders.*'",
		"a b":                   "'a b'",
		"it's":                  `'it'\''s'`,
		"nats://[::1]:4222":     "'nats://[::1]:4222'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestREADMEFirstRunMatchesTheLog: the README's first run shows the lines
// natsfan logs with no configuration, and the commands in them.
func TestREADMEFirstRunMatchesTheLog(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, run, _ := strings.Cut(string(readme), "\n## Run\n")
	run, _, _ = strings.Cut(run, "\n## ")
	cfg := mustLoad(t, nil)
	hints := startHints(cfg, cfg.Listen, true)
	for _, h := range hints {
		if !strings.Contains(run, "INFO  "+h.String()+"\n") {
			t.Errorf("README's Run section does not show the log line %q", h.String())
		}
		if strings.HasPrefix(h.command, "nats ") && !strings.Contains(run, "\n"+h.command+"\n") {
			t.Errorf("README's Run section does not give the command %q on a line of its own", h.command)
		}
	}
	if !strings.Contains(run, natsCLIInstall) {
		t.Errorf("README's Run section does not say how to install the nats CLI (%s)", natsCLIInstall)
	}
}
