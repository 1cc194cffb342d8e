package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zapcore"
)

// environ turns NAME=value pairs, with names given without the NATSFAN_
// prefix, into an environment for loadConfig, plus some variables that are
// not natsfan's. Names that already have the prefix are kept as they are.
func environ(vars map[string]string) []string {
	var out []string
	for k, v := range vars {
		if !strings.HasPrefix(k, envPrefix) {
			k = envPrefix + k
		}
		out = append(out, k+"="+v)
	}
	return append(out, "HOME=/root", "PATH=/usr/bin")
}

// mustLoad loads vars and fails the test on any problem.
func mustLoad(t *testing.T, vars map[string]string) *Config {
	t.Helper()
	cfg, err := loadConfig(environ(vars))
	if err != nil {
		t.Fatalf("loadConfig(%v): %v", vars, err)
	}
	return cfg
}

// mustFail loads vars, fails the test unless loading returns a *ConfigError,
// and returns its problems.
func mustFail(t *testing.T, vars map[string]string) []string {
	t.Helper()
	cfg, err := loadConfig(environ(vars))
	var cerr *ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("loadConfig(%v) = %+v, %v; want a *ConfigError", vars, cfg, err)
	}
	if cfg != nil {
		t.Errorf("loadConfig returned a Config along with an error")
	}
	if len(cerr.Problems) == 0 || cerr.Error() != strings.Join(cerr.Problems, "\n") {
		t.Errorf("ConfigError %q does not list its problems one per line", cerr.Error())
	}
	return cerr.Problems
}

// writeFile writes content to a new file in a test directory and returns
// its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig_defaults(t *testing.T) {
	cfg := mustLoad(t, nil)
	want := &Config{
		Subjects:               []string{">"},
		NATSName:               "natsfan",
		EmbeddedPort:           4223,
		NATSReconnectWait:      2 * time.Second,
		NATSReconnectBuffer:    8 << 20,
		Socket:                 "/tmp/natsfan.sock",
		Listen:                 "127.0.0.1:4222",
		SocketMode:             0o660,
		SocketMaxConnections:   10000,
		SocketMaxSubscriptions: 10000,
		SocketMaxSubsTotal:     100000,
		SocketMaxQueueGroups:   1000,
		SocketMaxControlLine:   4096,
		SocketMaxPending:       64 << 20,
		SocketConnectTimeout:   2 * time.Second,
		SocketPingInterval:     30 * time.Second,
		SocketMaxPingsOut:      2,
		SocketWriteDeadline:    10 * time.Second,
		ConsumerMaxLagMessages: 4000000,
		ConsumerMaxLagBytes:    256 << 20,
		ConsumerLagPolicy:      "disconnect",
		RetentionMessages:      100000,
		RetentionBytes:         64 << 20,
		IngestPendingMessages:  1000000,
		IngestPendingBytes:     256 << 20,
		IngestMaxBatch:         256,
		HTTPAddr:               ":8422",
		LogLevel:               "info",
		LogFormat:              "auto",
		ShutdownTimeout:        10 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if !cfg.Embedded() {
		t.Error("no NATSFAN_NATS_URL, but not embedded mode")
	}
}

func TestLoadConfig_ignoresTheProcessEnvironment(t *testing.T) {
	t.Setenv("NATSFAN_LOG_LEVEL", "debug")
	t.Setenv("NATSFAN_TYPO", "x")
	if cfg := mustLoad(t, nil); cfg.LogLevel != "info" {
		t.Errorf("LogLevel = %q: read from the process environment", cfg.LogLevel)
	}
}

func TestLoadConfig_valid(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, "token", "s3cret-token\n")
	crlfFile := writeFile(t, "crlf", "s3cret\r\n")
	twoNewlines := writeFile(t, "two", "s3cret\n\n")
	noNewline := writeFile(t, "none", "s3cret")
	credsFile := writeFile(t, "user.creds", "-----BEGIN NATS USER JWT-----\n")
	seedFile := writeFile(t, "seed.nk", "SUAxxx\n")
	tlsFiles := newTLSFiles(t)

	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, cfg *Config)
	}{
		{"URL list and subjects are trimmed",
			map[string]string{"NATS_URL": " nats://a:4222, tls://b:4443 ,ws://c,wss://d:443,e:4222,nats://[::1]:4222", "SUBJECTS": " orders.> , metrics.*.cpu,x"},
			func(t *testing.T, cfg *Config) {
				wantURLs := []string{"nats://a:4222", "tls://b:4443", "ws://c", "wss://d:443", "e:4222", "nats://[::1]:4222"}
				if !slices.Equal(cfg.NATSURL, wantURLs) || cfg.Embedded() {
					t.Errorf("NATSURL = %q, embedded %v", cfg.NATSURL, cfg.Embedded())
				}
				if want := []string{"orders.>", "metrics.*.cpu", "x"}; !slices.Equal(cfg.Subjects, want) {
					t.Errorf("Subjects = %q, want %q", cfg.Subjects, want)
				}
			}},
		{"blank URL means embedded mode",
			map[string]string{"NATS_URL": "  "},
			func(t *testing.T, cfg *Config) {
				if !cfg.Embedded() || !slices.Equal(cfg.Subjects, []string{">"}) {
					t.Errorf("embedded %v, subjects %q", cfg.Embedded(), cfg.Subjects)
				}
			}},
		{"subjects may be narrowed in embedded mode",
			map[string]string{"SUBJECTS": "a.b,c.*"},
			func(t *testing.T, cfg *Config) {
				if !slices.Equal(cfg.Subjects, []string{"a.b", "c.*"}) {
					t.Errorf("Subjects = %q", cfg.Subjects)
				}
			}},
		{"empty values take the default",
			map[string]string{"LOG_LEVEL": "", "SOCKET": "", "RETENTION_BYTES": ""},
			func(t *testing.T, cfg *Config) {
				if cfg.LogLevel != "info" || cfg.Socket != "/tmp/natsfan.sock" || cfg.RetentionBytes != 64<<20 {
					t.Errorf("got %q, %q, %v", cfg.LogLevel, cfg.Socket, cfg.RetentionBytes)
				}
			}},
		{"everything else set",
			map[string]string{
				"EMBEDDED_PORT": "14222", "NATS_NAME": "sidecar-1",
				"SOCKET": filepath.Join(dir, "s.sock"), "SOCKET_MODE": "0600", "LISTEN": "127.0.0.1:4223",
				"SOCKET_MAX_CONNECTIONS": "5", "SOCKET_MAX_SUBSCRIPTIONS": "6", "SOCKET_MAX_SUBSCRIPTIONS_TOTAL": "7", "SOCKET_MAX_QUEUE_GROUPS": "8", "SOCKET_MAX_CONTROL_LINE": "1048576",
				"SOCKET_MAX_PAYLOAD": "64MiB", "SOCKET_CONNECT_TIMEOUT": "500ms", "SOCKET_PING_INTERVAL": "1m",
				"SOCKET_MAX_PINGS_OUT": "3", "SOCKET_WRITE_DEADLINE": "1s", "SOCKET_MAX_PENDING": "1MiB",
				"PUBLISH_ALLOW": " orders.> , _INBOX.>", "SUBSCRIBE_ALLOW": "orders.*",
				"NATS_RECONNECT_WAIT": "250ms", "NATS_RECONNECT_BUFFER": "0",
				"CONSUMER_MAX_LAG_MESSAGES": "10", "CONSUMER_MAX_LAG_BYTES": "1MiB", "CONSUMER_LAG_POLICY": "skip",
				"RETENTION_MESSAGES": "0", "RETENTION_BYTES": "1048576", "RETENTION_AGE": "10m",
				"INGEST_PENDING_MESSAGES": "5", "INGEST_PENDING_BYTES": "1GiB", "INGEST_MAX_BATCH": "65536",
				"HTTP_ADDR": "0.0.0.0:9000", "PPROF_ADDR": "localhost:6060",
				"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "console", "SHUTDOWN_TIMEOUT": "1m30s",
			},
			func(t *testing.T, cfg *Config) {
				want := Config{
					Subjects: []string{">"}, NATSName: "sidecar-1", EmbeddedPort: 14222,
					NATSReconnectWait: 250 * time.Millisecond, NATSReconnectBuffer: 0,
					SocketMaxPending: 1 << 20, PublishAllow: []string{"orders.>", "_INBOX.>"}, SubscribeAllow: []string{"orders.*"},
					Socket: filepath.Join(dir, "s.sock"), SocketMode: 0o600, Listen: "127.0.0.1:4223",
					SocketMaxConnections: 5, SocketMaxSubscriptions: 6, SocketMaxSubsTotal: 7, SocketMaxQueueGroups: 8, SocketMaxControlLine: 1 << 20,
					SocketMaxPayload: 64 << 20, SocketConnectTimeout: 500 * time.Millisecond, SocketPingInterval: time.Minute,
					SocketMaxPingsOut: 3, SocketWriteDeadline: time.Second,
					ConsumerMaxLagMessages: 10, ConsumerMaxLagBytes: 1 << 20, ConsumerLagPolicy: "skip",
					RetentionMessages: 0, RetentionBytes: 1 << 20, RetentionAge: 10 * time.Minute,
					IngestPendingMessages: 5, IngestPendingBytes: 1 << 30, IngestMaxBatch: 65536,
					HTTPAddr: "0.0.0.0:9000", PprofAddr: "localhost:6060",
					LogLevel: "debug", LogFormat: "console", ShutdownTimeout: 90 * time.Second,
				}
				if !reflect.DeepEqual(*cfg, want) {
					t.Errorf("\n got %+v\nwant %+v", *cfg, want)
				}
			}},
		{"socket mode forms", map[string]string{"SOCKET_MODE": "0o640"},
			func(t *testing.T, cfg *Config) {
				if cfg.SocketMode != 0o640 || cfg.SocketMode.String() != "0640" {
					t.Errorf("SocketMode = %v", cfg.SocketMode)
				}
			}},
		{"socket mode without leading zero", map[string]string{"SOCKET_MODE": "600"},
			func(t *testing.T, cfg *Config) {
				if cfg.SocketMode != 0o600 {
					t.Errorf("SocketMode = %v", cfg.SocketMode)
				}
			}},
		{"socket directories that do not exist yet", map[string]string{"SOCKET": filepath.Join(dir, "run", "natsfan", "s.sock")},
			func(t *testing.T, cfg *Config) {
				if cfg.Socket != filepath.Join(dir, "run", "natsfan", "s.sock") {
					t.Errorf("Socket = %q", cfg.Socket)
				}
			}},
		{"smallest socket limits", map[string]string{
			"SOCKET_MAX_CONNECTIONS": "1", "SOCKET_MAX_SUBSCRIPTIONS": "1", "SOCKET_MAX_CONTROL_LINE": "256",
			"SOCKET_MAX_PAYLOAD": "1", "SOCKET_CONNECT_TIMEOUT": "1ns", "SOCKET_PING_INTERVAL": "1ms",
			"SOCKET_MAX_PINGS_OUT": "1", "SOCKET_WRITE_DEADLINE": "1ms"}, nil},
		{"IPv6 loopback listen", map[string]string{"LISTEN": "[::1]:4223", "PPROF_ADDR": "127.0.0.2:0"}, nil},
		{"embedded mode listens on the nats CLI's default server",
			map[string]string{},
			func(t *testing.T, cfg *Config) {
				if cfg.Listen != strings.TrimPrefix(nats.DefaultURL, "nats://") || cfg.EmbeddedPort == nats.DefaultPort {
					t.Errorf("Listen = %q, EmbeddedPort = %d: want natsfan, not the embedded server, at %s", cfg.Listen, cfg.EmbeddedPort, nats.DefaultURL)
				}
			}},
		{"a free embedded port frees the listener's too",
			map[string]string{"EMBEDDED_PORT": "-1"},
			func(t *testing.T, cfg *Config) {
				if cfg.Listen != "127.0.0.1:0" || cfg.EmbeddedPort != -1 {
					t.Errorf("Listen = %q, EmbeddedPort = %d", cfg.Listen, cfg.EmbeddedPort)
				}
			}},
		{"embedded mode keeps a listen address that is set",
			map[string]string{"EMBEDDED_PORT": "-1", "LISTEN": "localhost:14222"},
			func(t *testing.T, cfg *Config) {
				if cfg.Listen != "localhost:14222" {
					t.Errorf("Listen = %q", cfg.Listen)
				}
			}},
		{"the embedded port may be 4222 when natsfan listens elsewhere",
			map[string]string{"EMBEDDED_PORT": "4222", "LISTEN": "127.0.0.1:0"}, nil},
		{"upstream mode opens no TCP listener unless told to",
			upstream(),
			func(t *testing.T, cfg *Config) {
				if cfg.Listen != "" {
					t.Errorf("Listen = %q, want none", cfg.Listen)
				}
			}},
		{"retention by bytes only", map[string]string{"RETENTION_MESSAGES": "0"}, nil},
		{"retention by messages only", map[string]string{"RETENTION_BYTES": "0"}, nil},
		{"token", upstream("NATS_TOKEN", "t0k"),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSToken != "t0k" {
					t.Errorf("NATSToken = %q", cfg.NATSToken)
				}
			}},
		{"token file, one newline trimmed", upstream("NATS_TOKEN_FILE", tokenFile),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSToken != "s3cret-token" || cfg.NATSTokenFile != tokenFile {
					t.Errorf("NATSToken = %q, NATSTokenFile = %q", cfg.NATSToken, cfg.NATSTokenFile)
				}
			}},
		{"token file with CRLF", upstream("NATS_TOKEN_FILE", crlfFile),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSToken != "s3cret" {
					t.Errorf("NATSToken = %q", cfg.NATSToken)
				}
			}},
		{"token file, only one of two newlines trimmed", upstream("NATS_TOKEN_FILE", twoNewlines),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSToken != "s3cret\n" {
					t.Errorf("NATSToken = %q", cfg.NATSToken)
				}
			}},
		{"user and password", upstream("NATS_USER", "u", "NATS_PASSWORD", "p"),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSUser != "u" || cfg.NATSPassword != "p" {
					t.Errorf("user %q password %q", cfg.NATSUser, cfg.NATSPassword)
				}
			}},
		{"user and password file", upstream("NATS_USER", "u", "NATS_PASSWORD_FILE", noNewline),
			func(t *testing.T, cfg *Config) {
				if cfg.NATSPassword != "s3cret" {
					t.Errorf("NATSPassword = %q", cfg.NATSPassword)
				}
			}},
		{"credentials in the URL", map[string]string{"NATS_URL": "nats://u:p@nats:4222", "SUBJECTS": "a"}, nil},
		{"creds file", upstream("NATS_CREDS_FILE", credsFile), nil},
		{"nkey seed file", upstream("NATS_NKEY_SEED_FILE", seedFile), nil},
		{"TLS", upstream("NATS_TLS_CA", tlsFiles.ca, "NATS_TLS_CERT", tlsFiles.cert, "NATS_TLS_KEY", tlsFiles.key, "NATS_URL", "tls://nats:4222"), nil},
		{"TLS with a token", upstream("NATS_TLS_CA", tlsFiles.ca, "NATS_TOKEN", "t"), nil},
		{"Kubernetes service links are not typos",
			map[string]string{
				"NATSFAN_SERVICE_HOST": "10.0.0.1", "NATSFAN_SERVICE_PORT": "8422", "NATSFAN_SERVICE_PORT_HTTP": "8422",
				"NATSFAN_PORT": "tcp://10.0.0.1:8422", "NATSFAN_PORT_8422_TCP": "tcp://10.0.0.1:8422",
				"NATSFAN_PORT_8422_TCP_PROTO": "tcp", "NATSFAN_PORT_8422_TCP_PORT": "8422", "NATSFAN_PORT_8422_TCP_ADDR": "10.0.0.1",
				"NATSFAN_METRICS_SERVICE_HOST": "10.0.0.2", "NATSFAN_METRICS_PORT": "tcp://10.0.0.2:80",
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.vars)
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestLoadConfig_invalid(t *testing.T) {
	emptyFile := writeFile(t, "empty", "")
	tokenFile := writeFile(t, "token", "t\n")
	garbage := writeFile(t, "garbage.pem", "not a certificate\n")
	tlsFiles := newTLSFiles(t)
	otherTLS := newTLSFiles(t)
	missing := filepath.Join(t.TempDir(), "missing")
	dir := t.TempDir()

	tests := []struct {
		name string
		vars map[string]string
		bad  string   // the variable named
		want []string // substrings of its problem
	}{
		{"URL scheme", upstream("NATS_URL", "http://nats:4222"), "NATS_URL", []string{`"http://nats:4222"`, `scheme "http"`}},
		{"URL without host", upstream("NATS_URL", "nats://"), "NATS_URL", []string{"no host"}},
		{"bare host without port", upstream("NATS_URL", "nats"), "NATS_URL", []string{`"nats"`, "host:port"}},
		{"URL port", upstream("NATS_URL", "nats://nats:99999"), "NATS_URL", []string{`port "99999"`}},
		{"host:port port", upstream("NATS_URL", "nats:x"), "NATS_URL", []string{`port "x"`}},
		{"bad URL named among good ones", upstream("NATS_URL", "nats://a:4222,ftp://b,nats://c:4222"), "NATS_URL", []string{`"ftp://b"`}},
		{"empty URL in list", upstream("NATS_URL", "nats://a:4222,,nats://b:4222"), "NATS_URL", []string{"empty URL at position 2"}},
		{"only commas", map[string]string{"NATS_URL": ",", "SUBJECTS": "a"}, "NATS_URL", []string{"empty URL at position 1"}},
		{"URL twice", upstream("NATS_URL", "nats://a:4222,nats://a:4222"), "NATS_URL", []string{"listed twice"}},
		{"embedded port not a number", map[string]string{"EMBEDDED_PORT": "abc"}, "EMBEDDED_PORT", []string{`expected an integer from 1 to 65535, or -1, got "abc"`}},
		{"embedded port 0", map[string]string{"EMBEDDED_PORT": "0"}, "EMBEDDED_PORT", []string{"from 1 to 65535", `got "0"`}},
		{"embedded port too big", map[string]string{"EMBEDDED_PORT": "65536"}, "EMBEDDED_PORT", []string{"from 1 to 65535"}},
		{"embedded port negative but not -1", map[string]string{"EMBEDDED_PORT": "-2"}, "EMBEDDED_PORT", []string{"from 1 to 65535, or -1"}},
		{"embedded port with a URL", upstream("EMBEDDED_PORT", "4222"), "EMBEDDED_PORT", []string{"NATSFAN_NATS_URL", "unset one"}},
		{"subjects required with a URL", map[string]string{"NATS_URL": "nats://nats:4222"}, "SUBJECTS", []string{"required when NATSFAN_NATS_URL is set"}},
		{"subjects blank with a URL", map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": " "}, "SUBJECTS", []string{"required"}},
		{"invalid subject", map[string]string{"SUBJECTS": "a.b,foo..bar"}, "SUBJECTS", []string{`"foo..bar"`, "offset 4"}},
		{"full wildcard not last", map[string]string{"SUBJECTS": "foo.>.bar"}, "SUBJECTS", []string{`"foo.>.bar"`}},
		{"overlap", map[string]string{"SUBJECTS": "a.>,b,a.b"}, "SUBJECTS", []string{`"a.>"`, `"a.b"`, "overlap"}},
		{"overlap with wildcards", map[string]string{"SUBJECTS": "a.*.c,a.b.*"}, "SUBJECTS", []string{`"a.*.c" and "a.b.*" overlap`}},
		{"duplicate subject", map[string]string{"SUBJECTS": "a.b,c,a.b"}, "SUBJECTS", []string{`"a.b" is listed twice`}},
		{"empty subject", map[string]string{"SUBJECTS": "a.b,,c"}, "SUBJECTS", []string{"empty subject pattern at position 2"}},
		{"relative socket", map[string]string{"SOCKET": "natsfan.sock"}, "SOCKET", []string{"absolute path", `"natsfan.sock"`}},
		{"socket too long", map[string]string{"SOCKET": "/tmp/" + strings.Repeat("s", 103)}, "SOCKET", []string{"108 bytes long", "at most 107"}},
		{"socket directory is a file", map[string]string{"SOCKET": emptyFile + "/natsfan.sock"}, "SOCKET", []string{emptyFile + " is not a directory"}},
		{"socket directory under a file", map[string]string{"SOCKET": emptyFile + "/run/natsfan/natsfan.sock"}, "SOCKET", []string{emptyFile + " is not a directory", "cannot be created", emptyFile + "/run/natsfan"}},
		{"socket mode not octal", map[string]string{"SOCKET_MODE": "0999"}, "SOCKET_MODE", []string{"octal file mode", `got "0999"`}},
		{"socket mode too big", map[string]string{"SOCKET_MODE": "01000"}, "SOCKET_MODE", []string{"from 0000 to 0777"}},
		{"socket mode words", map[string]string{"SOCKET_MODE": "rw-rw----"}, "SOCKET_MODE", []string{"octal"}},
		{"listen on all interfaces", map[string]string{"LISTEN": "0.0.0.0:4223"}, "LISTEN", []string{"not a loopback address", "no authentication"}},
		{"listen without host", map[string]string{"LISTEN": ":4223"}, "LISTEN", []string{`host ""`, "loopback"}},
		{"listen on a name", map[string]string{"LISTEN": "example.com:4223"}, "LISTEN", []string{"loopback"}},
		{"listen without port", map[string]string{"LISTEN": "127.0.0.1"}, "LISTEN", []string{"host:port"}},
		{"listen named port", map[string]string{"LISTEN": "127.0.0.1:nats"}, "LISTEN", []string{`port "nats"`}},
		{"listen on the embedded port", map[string]string{"LISTEN": "127.0.0.1:4223"}, "LISTEN", []string{"port 4223 is also NATSFAN_EMBEDDED_PORT"}},
		{"listen on localhost at the embedded port", map[string]string{"LISTEN": "localhost:5000", "EMBEDDED_PORT": "5000"}, "LISTEN", []string{"port 5000"}},
		{"embedded port on the default listener's", map[string]string{"EMBEDDED_PORT": "4222"}, "EMBEDDED_PORT", []string{"is 4222", "127.0.0.1:4222", "nats CLI", "unset it to use 4223", "NATSFAN_LISTEN"}},
		{"max connections 0", map[string]string{"SOCKET_MAX_CONNECTIONS": "0"}, "SOCKET_MAX_CONNECTIONS", []string{"greater than 0", `got "0"`}},
		{"max connections not a number", map[string]string{"SOCKET_MAX_CONNECTIONS": "many"}, "SOCKET_MAX_CONNECTIONS", []string{`got "many"`}},
		{"max subscriptions negative", map[string]string{"SOCKET_MAX_SUBSCRIPTIONS": "-1"}, "SOCKET_MAX_SUBSCRIPTIONS", []string{"greater than 0"}},
		{"max control line too small", map[string]string{"SOCKET_MAX_CONTROL_LINE": "255"}, "SOCKET_MAX_CONTROL_LINE", []string{"from 256 to 1048576", `got "255"`}},
		{"max control line too big", map[string]string{"SOCKET_MAX_CONTROL_LINE": "1048577"}, "SOCKET_MAX_CONTROL_LINE", []string{"from 256 to 1048576"}},
		{"max payload negative", map[string]string{"SOCKET_MAX_PAYLOAD": "-1"}, "SOCKET_MAX_PAYLOAD", []string{"0, or a size from 1 byte to 64MiB", `got "-1"`}},
		{"max pending too small", map[string]string{"SOCKET_MAX_PENDING": "64KiB"}, "SOCKET_MAX_PENDING", []string{"from 1MiB to 1GiB", `got "64KiB"`}},
		{"publish allow not a pattern", map[string]string{"PUBLISH_ALLOW": "orders.>,a..b"}, "PUBLISH_ALLOW", []string{`"a..b"`}},
		{"subscribe allow stray comma", map[string]string{"SUBSCRIBE_ALLOW": "orders.>,"}, "SUBSCRIBE_ALLOW", []string{"stray comma"}},
		{"reconnect wait too short", map[string]string{"NATS_RECONNECT_WAIT": "1ms"}, "NATS_RECONNECT_WAIT", []string{"from 10ms to 1m", `got "1ms"`}},
		{"reconnect buffer negative", map[string]string{"NATS_RECONNECT_BUFFER": "-1"}, "NATS_RECONNECT_BUFFER", []string{`got "-1"`}},
		{"max payload too big", map[string]string{"SOCKET_MAX_PAYLOAD": "65MiB"}, "SOCKET_MAX_PAYLOAD", []string{"to 64MiB", `got "65MiB"`}},
		{"max payload unit", map[string]string{"SOCKET_MAX_PAYLOAD": "1mb"}, "SOCKET_MAX_PAYLOAD", []string{`got "1mb"`}},
		{"connect timeout 0", map[string]string{"SOCKET_CONNECT_TIMEOUT": "0"}, "SOCKET_CONNECT_TIMEOUT", []string{"greater than 0"}},
		{"connect timeout without unit", map[string]string{"SOCKET_CONNECT_TIMEOUT": "2"}, "SOCKET_CONNECT_TIMEOUT", []string{`got "2"`}},
		{"ping interval negative", map[string]string{"SOCKET_PING_INTERVAL": "-30s"}, "SOCKET_PING_INTERVAL", []string{"greater than 0"}},
		{"max pings out 0", map[string]string{"SOCKET_MAX_PINGS_OUT": "0"}, "SOCKET_MAX_PINGS_OUT", []string{"greater than 0"}},
		{"write deadline 0", map[string]string{"SOCKET_WRITE_DEADLINE": "0s"}, "SOCKET_WRITE_DEADLINE", []string{"greater than 0"}},
		{"write deadline not a duration", map[string]string{"SOCKET_WRITE_DEADLINE": "soon"}, "SOCKET_WRITE_DEADLINE", []string{`got "soon"`}},
		{"consumer lag messages 0", map[string]string{"CONSUMER_MAX_LAG_MESSAGES": "0"}, "CONSUMER_MAX_LAG_MESSAGES", []string{"greater than 0"}},
		{"consumer lag bytes 0", map[string]string{"CONSUMER_MAX_LAG_BYTES": "0"}, "CONSUMER_MAX_LAG_BYTES", []string{"greater than 0"}},
		{"consumer lag bytes unit", map[string]string{"CONSUMER_MAX_LAG_BYTES": "32mb"}, "CONSUMER_MAX_LAG_BYTES", []string{`got "32mb"`}},
		{"lag policy", map[string]string{"CONSUMER_LAG_POLICY": "drop"}, "CONSUMER_LAG_POLICY", []string{"disconnect or skip", `"drop"`}},
		{"retention messages negative", map[string]string{"RETENTION_MESSAGES": "-1"}, "RETENTION_MESSAGES", []string{"0 or more"}},
		{"retention messages not a number", map[string]string{"RETENTION_MESSAGES": "lots"}, "RETENTION_MESSAGES", []string{`got "lots"`}},
		{"unbounded retention", map[string]string{"RETENTION_MESSAGES": "0", "RETENTION_BYTES": "0"}, "RETENTION_MESSAGES", []string{"NATSFAN_RETENTION_BYTES", "without bound"}},
		{"retention bytes negative", map[string]string{"RETENTION_BYTES": "-5"}, "RETENTION_BYTES", []string{`got "-5"`}},
		{"retention bytes unit", map[string]string{"RETENTION_BYTES": "12XB"}, "RETENTION_BYTES", []string{"512KiB", `got "12XB"`}},
		{"retention age negative", map[string]string{"RETENTION_AGE": "-1s"}, "RETENTION_AGE", []string{"0 or more"}},
		{"retention age not a duration", map[string]string{"RETENTION_AGE": "forever"}, "RETENTION_AGE", []string{`got "forever"`}},
		{"ingest pending messages", map[string]string{"INGEST_PENDING_MESSAGES": "0"}, "INGEST_PENDING_MESSAGES", []string{"greater than 0"}},
		{"ingest pending bytes", map[string]string{"INGEST_PENDING_BYTES": "0"}, "INGEST_PENDING_BYTES", []string{"greater than 0"}},
		{"ingest batch 0", map[string]string{"INGEST_MAX_BATCH": "0"}, "INGEST_MAX_BATCH", []string{"from 1 to 65536"}},
		{"ingest batch too big", map[string]string{"INGEST_MAX_BATCH": "65537"}, "INGEST_MAX_BATCH", []string{"from 1 to 65536"}},
		{"http addr without colon", map[string]string{"HTTP_ADDR": "8422"}, "HTTP_ADDR", []string{"host:port", `"8422"`}},
		{"http addr port", map[string]string{"HTTP_ADDR": ":99999"}, "HTTP_ADDR", []string{`port "99999"`}},
		{"pprof on all interfaces", map[string]string{"PPROF_ADDR": ":6060"}, "PPROF_ADDR", []string{"loopback"}},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL", []string{"debug, info, warn or error", `"verbose"`}},
		{"log format", map[string]string{"LOG_FORMAT": "text"}, "LOG_FORMAT", []string{"auto, json or console", `got "text"`}},
		{"shutdown timeout 0", map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT", []string{"greater than 0"}},
		{"shutdown timeout negative", map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, "SHUTDOWN_TIMEOUT", []string{"greater than 0"}},
		{"shutdown timeout without unit", map[string]string{"SHUTDOWN_TIMEOUT": "10"}, "SHUTDOWN_TIMEOUT", []string{`got "10"`}},

		{"token and token file", upstream("NATS_TOKEN", "t", "NATS_TOKEN_FILE", tokenFile), "NATS_TOKEN", []string{"NATSFAN_NATS_TOKEN_FILE", "only one"}},
		{"password and password file", upstream("NATS_USER", "u", "NATS_PASSWORD", "p", "NATS_PASSWORD_FILE", tokenFile), "NATS_PASSWORD", []string{"NATSFAN_NATS_PASSWORD_FILE"}},
		{"token and user", upstream("NATS_TOKEN", "t", "NATS_USER", "u", "NATS_PASSWORD", "p"), "NATS_TOKEN", []string{"more than one", "NATSFAN_NATS_USER"}},
		{"token file and creds", upstream("NATS_TOKEN_FILE", tokenFile, "NATS_CREDS_FILE", tokenFile), "NATS_CREDS_FILE", []string{"more than one", "NATSFAN_NATS_TOKEN_FILE"}},
		{"creds and nkey", upstream("NATS_CREDS_FILE", tokenFile, "NATS_NKEY_SEED_FILE", tokenFile), "NATS_CREDS_FILE", []string{"more than one", "NATSFAN_NATS_NKEY_SEED_FILE"}},
		{"URL credentials and a token", upstream("NATS_URL", "nats://u:p@nats:4222", "NATS_TOKEN", "t"), "NATS_URL", []string{"more than one", "credentials in the URL", "NATSFAN_NATS_TOKEN"}},
		{"password without user", upstream("NATS_PASSWORD", "p"), "NATS_PASSWORD", []string{"without NATSFAN_NATS_USER"}},
		{"password file without user", upstream("NATS_PASSWORD_FILE", tokenFile), "NATS_PASSWORD_FILE", []string{"without NATSFAN_NATS_USER"}},
		{"user without password", upstream("NATS_USER", "u"), "NATS_USER", []string{"without NATSFAN_NATS_PASSWORD"}},
		{"token file missing", upstream("NATS_TOKEN_FILE", missing), "NATS_TOKEN_FILE", []string{"cannot read", missing, "no such file"}},
		{"token file empty", upstream("NATS_TOKEN_FILE", emptyFile), "NATS_TOKEN_FILE", []string{"is empty"}},
		{"password file missing", upstream("NATS_USER", "u", "NATS_PASSWORD_FILE", missing), "NATS_PASSWORD_FILE", []string{"no such file"}},
		{"creds file missing", upstream("NATS_CREDS_FILE", missing), "NATS_CREDS_FILE", []string{"no such file"}},
		{"creds file is a directory", upstream("NATS_CREDS_FILE", dir), "NATS_CREDS_FILE", []string{"is a directory"}},
		{"nkey seed file missing", upstream("NATS_NKEY_SEED_FILE", missing), "NATS_NKEY_SEED_FILE", []string{"no such file"}},
		{"TLS CA missing", upstream("NATS_TLS_CA", missing), "NATS_TLS_CA", []string{"no such file"}},
		{"TLS CA not PEM", upstream("NATS_TLS_CA", garbage), "NATS_TLS_CA", []string{"no PEM certificate"}},
		{"TLS cert without key", upstream("NATS_TLS_CERT", tlsFiles.cert), "NATS_TLS_CERT", []string{"without NATSFAN_NATS_TLS_KEY"}},
		{"TLS key without cert", upstream("NATS_TLS_KEY", tlsFiles.key), "NATS_TLS_KEY", []string{"without NATSFAN_NATS_TLS_CERT"}},
		{"TLS cert missing", upstream("NATS_TLS_CERT", missing, "NATS_TLS_KEY", tlsFiles.key), "NATS_TLS_CERT", []string{"no such file"}},
		{"TLS key missing", upstream("NATS_TLS_CERT", tlsFiles.cert, "NATS_TLS_KEY", missing), "NATS_TLS_KEY", []string{"no such file"}},
		{"TLS key of another cert", upstream("NATS_TLS_CERT", tlsFiles.cert, "NATS_TLS_KEY", otherTLS.key), "NATS_TLS_CERT", []string{"cannot use", tlsFiles.cert}},

		{"unknown variable", map[string]string{"SUBJECT": ">"}, "", []string{"NATSFAN_SUBJECT: unknown variable; did you mean NATSFAN_SUBJECTS?"}},
		{"unknown variable, lower case", map[string]string{"NATSFAN_log_level": "debug"}, "", []string{"NATSFAN_log_level: unknown variable; did you mean NATSFAN_LOG_LEVEL?"}},
		{"unknown variable, transposed", map[string]string{"RETENTION_MESAGES": "1"}, "", []string{"did you mean NATSFAN_RETENTION_MESSAGES?"}},
		{"unknown variable, nothing close", map[string]string{"ZZZZZZZZZZ": "1"}, "", []string{"NATSFAN_ZZZZZZZZZZ: unknown variable (natsfan -h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := mustFail(t, tt.vars)
			prefix := envPrefix + tt.bad + ": "
			if tt.bad == "" {
				prefix = ""
			}
			for _, p := range problems {
				if !strings.HasPrefix(p, prefix) {
					continue
				}
				if containsAll(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem starting %q and containing %q in:\n%s", prefix, tt.want, strings.Join(problems, "\n"))
		})
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestLoadConfig_authIsAnErrorInEmbeddedMode(t *testing.T) {
	file := writeFile(t, "f", "x\n")
	for _, name := range authVars {
		t.Run(name, func(t *testing.T) {
			problems := mustFail(t, map[string]string{name: file})
			want := envPrefix + name + ": is set, but NATSFAN_NATS_URL is empty"
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
				t.Errorf("want a problem starting %q, got:\n%s", want, strings.Join(problems, "\n"))
			}
		})
	}
}

func TestLoadConfig_namesEveryBadVariableAtOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	bad := map[string]string{
		"NATS_URL":                  "http://nats:4222",
		"EMBEDDED_PORT":             "abc",
		"NATS_TOKEN_FILE":           missing,
		"NATS_PASSWORD":             "p",
		"SOCKET":                    "relative.sock",
		"SOCKET_MODE":               "999",
		"LISTEN":                    "0.0.0.0:1",
		"SOCKET_MAX_CONNECTIONS":    "0",
		"SOCKET_MAX_SUBSCRIPTIONS":  "x",
		"SOCKET_MAX_CONTROL_LINE":   "10",
		"SOCKET_MAX_PAYLOAD":        "1TiB",
		"SOCKET_CONNECT_TIMEOUT":    "-1s",
		"SOCKET_PING_INTERVAL":      "often",
		"SOCKET_MAX_PINGS_OUT":      "0",
		"SOCKET_WRITE_DEADLINE":     "0",
		"CONSUMER_MAX_LAG_MESSAGES": "-3",
		"CONSUMER_MAX_LAG_BYTES":    "big",
		"CONSUMER_LAG_POLICY":       "wait",
		"RETENTION_MESSAGES":        "x",
		"RETENTION_BYTES":           "1.5GB",
		"RETENTION_AGE":             "1 day",
		"INGEST_PENDING_MESSAGES":   "0",
		"INGEST_PENDING_BYTES":      "-1",
		"INGEST_MAX_BATCH":          "1e3",
		"HTTP_ADDR":                 "nope",
		"PPROF_ADDR":                "10.0.0.1:6060",
		"LOG_LEVEL":                 "loud",
		"LOG_FORMAT":                "xml",
		"SHUTDOWN_TIMEOUT":          "never",
		"SUBJECTZ":                  "a",
	}
	problems := mustFail(t, bad)
	text := strings.Join(problems, "\n")
	for name := range bad {
		if !strings.Contains(text, envPrefix+name+": ") {
			t.Errorf("%s%s is not named in:\n%s", envPrefix, name, text)
		}
	}
	// SUBJECTS is missing too, since NATS_URL is set.
	if !strings.Contains(text, "NATSFAN_SUBJECTS: required") {
		t.Errorf("missing NATSFAN_SUBJECTS not reported in:\n%s", text)
	}
	// Problems come out in Config order, unknown variables last.
	var order []int
	for _, p := range problems {
		name, _, _ := strings.Cut(p, ":")
		if s, ok := settingByName(name); ok {
			order = append(order, s.index)
		} else {
			order = append(order, len(settings()))
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("problems are not in Config order:\n%s", text)
	}
}

func TestLoadConfig_errorsNeverShowURLCredentials(t *testing.T) {
	problems := mustFail(t, map[string]string{
		"NATS_URL": "http://user:hunter2@nats:4222,nats://tok3n@nats:4222,nats://tok3n@nats:4222,ftp://x:hunter2@%zz",
		"SUBJECTS": "a",
	})
	text := strings.Join(problems, "\n")
	for _, secret := range []string{"hunter2", "tok3n"} {
		if strings.Contains(text, secret) {
			t.Errorf("error shows %q:\n%s", secret, text)
		}
	}
	if !strings.Contains(text, "redacted@nats:4222") {
		t.Errorf("error does not say which URL is wrong:\n%s", text)
	}
}

// TestLoadConfig_neverShowsTheSecretOfAURL loads NATSFAN_NATS_URL in every
// form a secret can take in it, and checks that neither the logged
// configuration (in both formats) nor any problem shows the secret, and that
// a wrong value is still named and explained.
func TestLoadConfig_neverShowsTheSecretOfAURL(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		url    string
		shown  string   // the URL as logged, or "" if it is refused
		expect []string // substrings of the problem with a refused URL
	}{
		// Accepted, as nats.go reads them: token@host:port and
		// user:password@host:port are nats:// URLs.
		{"s3cr3t@nats:4222", "redacted@nats:4222", nil},
		{"user:s3cr3t@nats:4222", "redacted@nats:4222", nil},
		{"user:s3cr3t@[::1]:4222", "redacted@[::1]:4222", nil},
		{"nats://s3cr3t@nats:4222", "nats://redacted@nats:4222", nil},
		{"nats://user:s3cr3t@[2001:db8::1]:4222", "nats://redacted@[2001:db8::1]:4222", nil},
		{"nats://a:4222, tls://user:s3cr3t@b:4443 ,wss://s3cr3t@c", "wss://redacted@c", nil},
		{"nats://user:s3%63r3t@nats:4222", "nats://redacted@nats:4222", nil},
		{"nats://user:%73%33cr3t%40x@nats:4222", "nats://redacted@nats:4222", nil},
		// Refused.
		{"user:s3cr3t@nats", "", []string{`"redacted@nats"`, "host:port", "user:password@"}},
		{"s3cr3t@nats:x", "", []string{`"redacted@nats:x"`, `port "x"`}},
		{"http://user:s3cr3t@nats:4222", "", []string{`"http://redacted@nats:4222"`, `scheme "http"`}},
		{"nats://user:s3cr3t%zz@nats:4222", "", []string{`"nats://redacted@nats:4222"`, "percent-encode"}},
		{"user:50%s3cr3t@nats:4222", "", []string{`"redacted@nats:4222"`, "percent-encode"}},
		{"nats://user:s3cr3t/x@nats:4222", "", []string{`"nats://redacted@nats:4222"`, "percent-encode"}},
		{"nats://s3cr3t/x@nats:4222", "", []string{`"nats://redacted@nats:4222"`, "@ outside"}},
		{"s3cr3t/x@nats:4222", "", []string{`"redacted@nats:4222"`, "@ outside"}},
		{"nats://user:s3cr3t#x@nats:4222", "", []string{`"nats://redacted@nats:4222"`, "percent-encode"}},
		{"nats://user:s3cr3t@[::1", "", []string{`"nats://redacted@[::1"`, "not a valid URL", "missing ']'"}},
		{"nats://user:s3cr3t@nats:99999", "", []string{`"nats://redacted@nats:99999"`, `port "99999"`}},
		{"nats://user:s3cr3t@", "", []string{`"nats://redacted@"`, "no host"}},
		{"s3cr3t@nats://nats:4222", "", []string{`"redacted@nats://nats:4222"`, "not a valid URL"}},
		{"nats://s3cr3t@nats:4222,nats://s3cr3t@nats:4222", "", []string{`"nats://redacted@nats:4222" is listed twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			vars := map[string]string{"NATS_URL": tt.url, "SUBJECTS": "a"}
			var out string
			cfg, err := loadConfig(environ(vars))
			switch {
			case err != nil && tt.shown != "":
				t.Errorf("refused: %v", err)
			case err == nil && tt.shown == "":
				t.Errorf("accepted, want a problem with %q", tt.expect)
			case err == nil:
				for _, format := range []string{"json", "console"} {
					var buf bytes.Buffer
					log, _, err := buildLogger("info", format, zapcore.AddSync(&buf))
					if err != nil {
						t.Fatal(err)
					}
					log.Info("configuration", cfg.LogFields()...)
					out += buf.String()
				}
				if !strings.Contains(out, tt.shown) {
					t.Errorf("logged configuration lacks %q:\n%s", tt.shown, out)
				}
			default:
				var cerr *ConfigError
				if !errors.As(err, &cerr) {
					t.Fatalf("error %v, want a *ConfigError", err)
				}
				out = cerr.Error()
				if !slices.ContainsFunc(cerr.Problems, func(p string) bool {
					return strings.HasPrefix(p, "NATSFAN_NATS_URL: ") && containsAll(p, tt.expect)
				}) {
					t.Errorf("no problem starting NATSFAN_NATS_URL: and containing %q in:\n%s", tt.expect, out)
				}
			}
			for _, s := range []string{secret, "s3%63r3t", "%73%33cr3t", "50%s3"} {
				if strings.Contains(out, s) {
					t.Errorf("shows %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestLoadConfig_aTokenInAURLWithoutSchemeIsAnAuthenticationMethod: nats.go
// authenticates with the token of token@host:4222, so it cannot be combined
// with another method any more than nats://token@host:4222.
func TestLoadConfig_aTokenInAURLWithoutSchemeIsAnAuthenticationMethod(t *testing.T) {
	for _, u := range []string{"s3cr3t@nats:4222", "user:s3cr3t@nats:4222"} {
		problems := mustFail(t, upstream("NATS_URL", u, "NATS_TOKEN", "t"))
		text := strings.Join(problems, "\n")
		if !strings.Contains(text, "NATSFAN_NATS_URL: more than one upstream authentication method") || strings.Contains(text, "s3cr3t") {
			t.Errorf("NATS_URL=%s with NATS_TOKEN:\n%s", u, text)
		}
	}
}

func TestProblems_gotHidesSecrets(t *testing.T) {
	p := &problems{vars: map[string]string{
		"NATSFAN_NATS_TOKEN":    "s3cr3t",
		"NATSFAN_NATS_PASSWORD": "s3cr3t",
		"NATSFAN_NATS_URL":      "nats://u:s3cr3t@a:4222,s3cr3t@b:4222",
	}}
	for name, want := range map[string]string{
		"NATS_TOKEN":    "not shown",
		"NATS_PASSWORD": "not shown",
		"NATS_URL":      `"nats://redacted@a:4222,redacted@b:4222"`,
	} {
		s, _ := settingByName(name)
		if got := p.got(s); got != want && !strings.Contains(got, want) {
			t.Errorf("got(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestConfig_LogFieldsRedactSecrets(t *testing.T) {
	tokenFile := writeFile(t, "token", "file-token-value\n")
	passwordFile := writeFile(t, "password", "file-password-value\n")
	tests := []struct {
		name    string
		vars    map[string]string
		secrets []string
		shown   []string
	}{
		{"token", map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": "a", "NATS_TOKEN": "env-token-value"},
			[]string{"env-token-value"}, []string{`"nats_token":"[REDACTED]"`, `"nats_password":""`}},
		{"token file", map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": "a", "NATS_TOKEN_FILE": tokenFile},
			[]string{"file-token-value"}, []string{`"nats_token":"[REDACTED]"`, `"nats_token_file":"` + tokenFile + `"`}},
		{"password", map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": "a", "NATS_USER": "bob", "NATS_PASSWORD": "env-password-value"},
			[]string{"env-password-value"}, []string{`"nats_user":"bob"`, `"nats_password":"[REDACTED]"`}},
		{"password file", map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": "a", "NATS_USER": "bob", "NATS_PASSWORD_FILE": passwordFile},
			[]string{"file-password-value"}, []string{`"nats_password":"[REDACTED]"`, `"nats_password_file":"` + passwordFile + `"`}},
		{"URL credentials", map[string]string{"NATS_URL": "nats://url-user:url-password@nats:4222,nats://url-token@other:4222", "SUBJECTS": "a"},
			[]string{"url-user", "url-password", "url-token"}, []string{`"nats_url":["nats://redacted@nats:4222","nats://redacted@other:4222"]`, `"mode":"upstream"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.vars)
			var buf bytes.Buffer
			log, _, err := buildLogger("info", "json", zapcore.AddSync(&buf))
			if err != nil {
				t.Fatal(err)
			}
			log.Info("configuration", cfg.LogFields()...)
			out := buf.String()
			for _, s := range tt.secrets {
				if strings.Contains(out, s) {
					t.Errorf("logged configuration shows secret %q:\n%s", s, out)
				}
			}
			for _, s := range tt.shown {
				if !strings.Contains(out, s) {
					t.Errorf("logged configuration lacks %s:\n%s", s, out)
				}
			}
		})
	}
}

func TestConfig_LogFieldsCoverEverySetting(t *testing.T) {
	cfg := mustLoad(t, nil)
	keys := map[string]bool{}
	for _, f := range cfg.LogFields() {
		keys[f.Key] = true
	}
	for _, s := range settings() {
		key := strings.ToLower(strings.TrimPrefix(s.Name, envPrefix))
		if !keys[key] {
			t.Errorf("%s is not in LogFields", s.Name)
		}
	}
}

// TestConfig_secretsAreTagged guards against a new secret variable that
// would be logged in the clear.
func TestConfig_secretsAreTagged(t *testing.T) {
	for _, s := range settings() {
		if (strings.HasSuffix(s.Name, "_TOKEN") || strings.HasSuffix(s.Name, "_PASSWORD") || strings.Contains(s.Name, "SECRET")) && s.Secret != "true" {
			t.Errorf("%s looks secret but has no secret:\"true\" tag", s.Name)
		}
	}
}

func TestFileMode_UnmarshalText(t *testing.T) {
	for in, want := range map[string]FileMode{"0": 0, "0660": 0o660, "660": 0o660, "0o600": 0o600, "0777": 0o777, " 0640 ": 0o640} {
		var m FileMode
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", in, m, err, want)
		}
	}
	for _, in := range []string{"", "0o", "0999", "1000", "-1", "+660", "rw", "0x1ff", "0660 0"} {
		var m FileMode
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v, nil; want an error", in, m)
		}
	}
}

func FuzzFileMode(f *testing.F) {
	for _, s := range []string{"0660", "777", "0o644", "1000", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m FileMode
		if err := m.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if m > 0o777 {
			t.Fatalf("UnmarshalText(%q) = %o, above 0777", s, m)
		}
		var again FileMode
		if err := again.UnmarshalText([]byte(m.String())); err != nil || again != m {
			t.Fatalf("%q -> %v -> %v, %v", s, m, again, err)
		}
	})
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"SUBJECT", "SUBJECTS", 1}, {"kitten", "sitting", 3}, {"LOG_LEVLE", "LOG_LEVEL", 2},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// tlsFiles are paths of a self-signed certificate, usable as a CA and as a
// client certificate, and its key.
type tlsFiles struct{ ca, cert, key string }

func newTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "natsfan test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	cert := writeFile(t, "cert.pem", certPEM)
	return tlsFiles{ca: cert, cert: cert, key: writeFile(t, "key.pem", keyPEM)}
}

// upstream returns the variables of a minimal valid configuration (an
// upstream URL and a subject) with kv, name and value pairs, set on top.
func upstream(kv ...string) map[string]string {
	m := map[string]string{"NATS_URL": "nats://nats:4222", "SUBJECTS": "a.>"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
