package main

// Configuration comes from environment variables only, all prefixed NATSFAN_.
// Config is the single source of truth about them: its struct tags give each
// variable's name and default (read by github.com/caarlos0/env) and its
// meaning, help group, expected form and secrecy (read by this package's
// usage, error and redaction code through reflection), so the help text, the
// README table, error messages and the logged configuration cannot drift
// from what is actually parsed.
//
// loadConfig never stops at the first problem: an operator fixing a
// Deployment should see every bad variable in one go, not one per restart.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	env "github.com/caarlos0/env/v10"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/ingest"
	"github.com/natsfan/natsfan/subjects"
)

// envPrefix is the prefix of every variable natsfan reads.
const envPrefix = "NATSFAN_"

// Lag policies, the values of NATSFAN_CONSUMER_LAG_POLICY.
const (
	lagPolicyDisconnect = "disconnect"
	lagPolicySkip       = "skip"
)

// Config is natsfan's configuration, parsed from the environment by
// loadConfig. After a successful loadConfig every field holds a valid,
// resolved value:
//   - NATSURL and Subjects are trimmed lists; Subjects is [">"] in embedded
//     mode when NATSFAN_SUBJECTS is not set.
//   - NATSToken and NATSPassword hold the secret even when it came from
//     NATSFAN_NATS_TOKEN_FILE or NATSFAN_NATS_PASSWORD_FILE.
//   - Listen is set in embedded mode even when NATSFAN_LISTEN is not (see
//     defaultEmbeddedListen).
//   - LogLevel and LogFormat are lower case; LogFormat may still be "auto",
//     which newLogger resolves, since only it knows where the log goes.
//
// Tags: env and envDefault are read by github.com/caarlos0/env; help (the
// meaning, plain text), group (heading in the
// help), expect (what a valid value looks like, for error messages) and
// secret ("true": never shown; "userinfo": URLs shown without credentials)
// are read by this package.
type Config struct {
	NATSURL             []string      `env:"NATS_URL" group:"Upstream NATS" secret:"userinfo" help:"Upstream NATS server URLs, comma-separated: nats://, tls://, ws://, wss:// URLs or host:port (read as nats://host:port); either may start with token@ or user:password@ (percent-encoded), which are never shown in logs or errors. Empty: embedded mode, where natsfan starts a nats-server inside its own process on 127.0.0.1, for development."`
	Subjects            []string      `env:"SUBJECTS" group:"Upstream NATS" help:"Subject patterns to buffer, comma-separated, with the wildcards * and >; no two may overlap. natsfan subscribes to each once, at start, keeps a retention window and fans every message out to its local subscribers; other subjects are passed through, subscribed upstream while some client wants them. Required when NATSFAN_NATS_URL is set; > (everything) in embedded mode."`
	NATSName            string        `env:"NATS_NAME" envDefault:"natsfan" group:"Upstream NATS" help:"Connection name the NATS server shows for natsfan's connection."`
	EmbeddedPort        int           `env:"EMBEDDED_PORT" envDefault:"4223" group:"Upstream NATS" expect:"an integer from 1 to 65535, or -1" help:"Port of the embedded nats-server on 127.0.0.1. Not 4222: that port, where NATS clients and the nats CLI connect by default, is natsfan's own in embedded mode (see NATSFAN_LISTEN), so that they go through natsfan. -1 picks a free port, for this and for natsfan's default TCP listener (the log says which). Embedded mode only."`
	NATSReconnectWait   time.Duration `env:"NATS_RECONNECT_WAIT" envDefault:"2s" group:"Upstream NATS" expect:"a duration from 10ms to 1m, such as 2s or 250ms" help:"How long nats.go waits between rounds of reconnect attempts after the upstream connection drops; nothing is received from upstream meanwhile."`
	NATSReconnectBuffer ByteSize      `env:"NATS_RECONNECT_BUFFER" envDefault:"8MiB" group:"Upstream NATS" expect:"0, or a size up to 1GiB, such as 8MiB" help:"Bytes of clients' publishes held while the upstream connection is down, and sent when it is back; past it a PUB is refused with a permissions violation the client sees. A request (a PUB with a reply subject) is not held: while upstream is down it gets the no-responders status at once. 0: hold nothing."`

	NATSCredsFile    string `env:"NATS_CREDS_FILE" group:"Upstream authentication and TLS" help:"Path of a NATS credentials file (user JWT and NKey seed). Not allowed in embedded mode, like every variable of this group."`
	NATSNKeySeedFile string `env:"NATS_NKEY_SEED_FILE" group:"Upstream authentication and TLS" help:"Path of a file holding an NKey seed."`
	NATSToken        string `env:"NATS_TOKEN" group:"Upstream authentication and TLS" secret:"true" help:"Authentication token."`
	NATSTokenFile    string `env:"NATS_TOKEN_FILE" group:"Upstream authentication and TLS" help:"Path of a file holding the authentication token, such as a mounted Kubernetes Secret; one trailing newline is ignored."`
	NATSUser         string `env:"NATS_USER" group:"Upstream authentication and TLS" help:"User name; needs NATSFAN_NATS_PASSWORD or NATSFAN_NATS_PASSWORD_FILE."`
	NATSPassword     string `env:"NATS_PASSWORD" group:"Upstream authentication and TLS" secret:"true" help:"Password of NATSFAN_NATS_USER."`
	NATSPasswordFile string `env:"NATS_PASSWORD_FILE" group:"Upstream authentication and TLS" help:"Path of a file holding the password of NATSFAN_NATS_USER; one trailing newline is ignored."`
	NATSTLSCA        string `env:"NATS_TLS_CA" group:"Upstream authentication and TLS" help:"Path of a PEM file of CA certificates that verify the server. Empty: the system's roots."`
	NATSTLSCert      string `env:"NATS_TLS_CERT" group:"Upstream authentication and TLS" help:"Path of a PEM client certificate, for mutual TLS; needs NATSFAN_NATS_TLS_KEY."`
	NATSTLSKey       string `env:"NATS_TLS_KEY" group:"Upstream authentication and TLS" help:"Path of the PEM private key of NATSFAN_NATS_TLS_CERT."`

	Socket                 string        `env:"SOCKET" envDefault:"/tmp/natsfan.sock" group:"Consumers" help:"Path of the Unix socket local consumers connect to; it speaks the NATS client protocol. Absolute, and short enough for a socket address. Missing directories are created; the group and others may enter them if NATSFAN_SOCKET_MODE lets them connect. A socket left by a crashed run is replaced; one a running process answers on is an error."`
	SocketMode             FileMode      `env:"SOCKET_MODE" envDefault:"0660" group:"Consumers" expect:"an octal file mode from 0000 to 0777, such as 0660" help:"Permissions of the socket file, in octal."`
	Listen                 string        `env:"LISTEN" group:"Consumers" help:"Loopback TCP address (host:port with host 127.0.0.1, ::1 or localhost; port 0 picks a free one) serving the same protocol, for clients that cannot dial a Unix socket. Empty: off when NATSFAN_NATS_URL is set; in embedded mode 127.0.0.1:4222, the server NATS clients and the nats CLI connect to by default, so that nats sub reaches natsfan rather than the embedded server (127.0.0.1:0 if NATSFAN_EMBEDDED_PORT is -1)."`
	SocketMaxConnections   int           `env:"SOCKET_MAX_CONNECTIONS" envDefault:"10000" group:"Consumers" expect:"an integer greater than 0" help:"Most consumer connections served at once, over the socket and NATSFAN_LISTEN together; further ones are refused."`
	SocketMaxSubscriptions int           `env:"SOCKET_MAX_SUBSCRIPTIONS" envDefault:"10000" group:"Consumers" expect:"an integer greater than 0" help:"Most subscriptions one consumer connection may hold at once; a SUB beyond them is refused."`
	SocketMaxSubsTotal     int           `env:"SOCKET_MAX_SUBSCRIPTIONS_TOTAL" envDefault:"100000" group:"Consumers" expect:"an integer greater than 0" help:"Most subscriptions all consumer connections together may hold at once; a SUB beyond them is refused like one beyond NATSFAN_SOCKET_MAX_SUBSCRIPTIONS. An idle subscription costs about 350 bytes."`
	SocketMaxQueueGroups   int           `env:"SOCKET_MAX_QUEUE_GROUPS" envDefault:"1000" group:"Consumers" expect:"an integer greater than 0" help:"Most distinct queue groups (a subject and a queue name) all consumer connections together may have at once; a queue SUB that would make one more is refused like one beyond NATSFAN_SOCKET_MAX_SUBSCRIPTIONS, while members of existing groups are always welcome. A queue group costs about 6 KiB."`
	SocketMaxControlLine   int           `env:"SOCKET_MAX_CONTROL_LINE" envDefault:"4096" group:"Consumers" expect:"an integer from 256 to 1048576" help:"Longest protocol line (such as CONNECT or SUB with its arguments) a consumer may send, in bytes; a longer one closes the connection."`
	SocketMaxPayload       ByteSize      `env:"SOCKET_MAX_PAYLOAD" envDefault:"0" group:"Consumers" expect:"0, or a size from 1 byte to 64MiB, such as 1048576 or 1MiB" help:"Largest payload a client may send in a PUB, and the max_payload advertised to clients; a larger PUB closes the connection. 0: the upstream server's max_payload (1MiB until natsfan first connects); a size caps it."`
	SocketMaxPending       ByteSize      `env:"SOCKET_MAX_PENDING" envDefault:"64MiB" group:"Consumers" expect:"a size from 1MiB to 1GiB, such as 64MiB" help:"Bytes natsfan may queue for one client of messages it passes through from upstream (subjects not in NATSFAN_SUBJECTS, replies, JetStream), which nothing buffers: a client that falls further behind is closed as a slow consumer, as nats-server closes a client past its max_pending (64MB by default)."`
	PublishAllow           []string      `env:"PUBLISH_ALLOW" group:"Consumers" help:"Subject patterns clients may publish to (and send requests on), comma-separated; a PUB to any other subject is refused with nats-server's permissions violation. Empty: every subject."`
	SubscribeAllow         []string      `env:"SUBSCRIBE_ALLOW" group:"Consumers" help:"Subject patterns clients may subscribe to, comma-separated; a SUB must fall within one of them (orders.> allows orders.eu.* but not >), or it is refused with nats-server's permissions violation. Empty: every subject. Request/reply needs the clients' inboxes, _INBOX.> by default."`
	SocketConnectTimeout   time.Duration `env:"SOCKET_CONNECT_TIMEOUT" envDefault:"2s" group:"Consumers" expect:"a duration greater than 0, such as 2s or 500ms" help:"How long a new consumer connection has to send CONNECT; one that has not by then gets -ERR 'Authentication Timeout' and is closed."`
	SocketPingInterval     time.Duration `env:"SOCKET_PING_INTERVAL" envDefault:"30s" group:"Consumers" expect:"a duration greater than 0, such as 30s or 1m" help:"How often natsfan sends PING to each consumer connection, to find connections whose other end is gone."`
	SocketMaxPingsOut      int           `env:"SOCKET_MAX_PINGS_OUT" envDefault:"2" group:"Consumers" expect:"an integer greater than 0" help:"Unanswered PINGs after which a consumer connection is stale and closed."`
	SocketWriteDeadline    time.Duration `env:"SOCKET_WRITE_DEADLINE" envDefault:"10s" group:"Consumers" expect:"a duration greater than 0, such as 10s or 1m" help:"Longest a consumer connection may go without taking a byte while natsfan has frames to write to it; one that takes none for that long is a slow consumer, and its connection is closed, without an -ERR, as nats-server closes a slow consumer."`
	ConsumerMaxLagMessages int           `env:"CONSUMER_MAX_LAG_MESSAGES" envDefault:"4000000" group:"Consumers" expect:"an integer greater than 0" help:"How many messages one consumer may fall behind the newest message before NATSFAN_CONSUMER_LAG_POLICY applies to it."`
	ConsumerMaxLagBytes    ByteSize      `env:"CONSUMER_MAX_LAG_BYTES" envDefault:"256MiB" group:"Consumers" expect:"a size greater than 0, such as 67108864, 512KiB or 64MiB" help:"How many bytes of messages one consumer may fall behind the newest message before NATSFAN_CONSUMER_LAG_POLICY applies to it: the largest burst a consumer can ride out. A message counts for what it costs in memory: its subject, reply, headers and payload, and 48 B of bookkeeping. Consumers share the messages, so this costs at most this much memory in all, not per consumer."`
	ConsumerLagPolicy      string        `env:"CONSUMER_LAG_POLICY" envDefault:"disconnect" group:"Consumers" expect:"disconnect or skip" help:"What happens to a consumer past its maximum lag: disconnect or skip. disconnect: a socket consumer's connection is closed without an -ERR, as nats-server closes a slow consumer, so stock clients reconnect by themselves; an in-process subscription ends with fanout.ErrSlowConsumer. skip: the consumer jumps ahead to the newest messages; a socket consumer is told nothing (the NATS protocol has no way to say it) and just receives newer messages, and the gap is counted in natsfan_messages_dropped_total{reason=\"consumer_skipped\"}; only the in-process Go API returns a *fanout.GapError."`

	RetentionMessages int           `env:"RETENTION_MESSAGES" envDefault:"100000" group:"Buffering" expect:"an integer, 0 or more" help:"Messages kept per configured subject for consumers to catch up from; 0: no count limit. NATSFAN_RETENTION_MESSAGES and NATSFAN_RETENTION_BYTES cannot both be 0, so memory stays bounded."`
	RetentionBytes    ByteSize      `env:"RETENTION_BYTES" envDefault:"64MiB" group:"Buffering" help:"Bytes of messages kept per configured subject, each counting for what it costs in memory (its subject, reply, headers and payload, and 48 B of bookkeeping): a number of bytes, or a number with a unit such as 512KiB, 64MiB or 1GiB; 0: no byte limit."`
	RetentionAge      time.Duration `env:"RETENTION_AGE" envDefault:"0" group:"Buffering" expect:"a duration, 0 or more, such as 0, 30s or 10m" help:"Messages older than this leave the buffer, such as 10m or 1h; 0: no age limit."`

	IngestPendingMessages int      `env:"INGEST_PENDING_MESSAGES" envDefault:"1000000" group:"Ingest" expect:"an integer greater than 0" help:"Pending-message limit of each upstream subscription in nats.go; messages beyond it are dropped by nats.go, counted and reported."`
	IngestPendingBytes    ByteSize `env:"INGEST_PENDING_BYTES" envDefault:"256MiB" group:"Ingest" expect:"a size greater than 0, such as 268435456, 512MiB or 1GiB" help:"Pending-byte limit of each upstream subscription in nats.go."`
	IngestMaxBatch        int      `env:"INGEST_MAX_BATCH" envDefault:"256" group:"Ingest" expect:"an integer from 1 to 65536" help:"Most messages appended to a buffer as one item."`

	HTTPAddr        string        `env:"HTTP_ADDR" envDefault:":8422" group:"Operations" help:"Address (host:port) of the HTTP server for /livez, /readyz, /metrics and /loglevel. The kubelet must reach it on the pod IP."`
	MonitorRemote   bool          `env:"HTTP_MONITOR_REMOTE" envDefault:"false" group:"Operations" expect:"true or false" help:"Serve /connz and /subsz, which name the pod's consumers and their subjects, to every caller of NATSFAN_HTTP_ADDR; false: to loopback callers only (natsfan top or curl in the pod, kubectl port-forward)."`
	PprofAddr       string        `env:"PPROF_ADDR" group:"Operations" help:"Optional loopback address (host:port) of a separate net/http/pprof server. Empty: off."`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info" group:"Operations" expect:"debug, info, warn or error" help:"Least severe level logged: debug, info, warn or error. GET /loglevel shows it; PUT /loglevel from loopback changes it at run time."`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"auto" group:"Operations" expect:"auto, json or console" help:"Log format: json (one object per line), console (for people), or auto: console when stderr is a terminal, json when it is not (a pipe, a file, a container's log)."`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s" group:"Operations" expect:"a duration greater than 0, such as 10s or 1m" help:"How long a shutdown on SIGTERM or SIGINT may take before natsfan stops waiting and exits."`
}

// Embedded reports whether natsfan runs its own nats-server, which is when
// NATSFAN_NATS_URL is empty.
func (c *Config) Embedded() bool { return len(c.NATSURL) == 0 }

// FileMode is a file's permission bits written in octal ("0660", "660" or
// "0o660"), at most 0777.
type FileMode os.FileMode

// UnmarshalText implements [encoding.TextUnmarshaler], which is how the env
// package parses a FileMode field.
func (m *FileMode) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("natsfan: invalid file mode %q: expected an octal number from 0000 to 0777", s)
	}
	*m = FileMode(n)
	return nil
}

// String writes m as four octal digits, such as "0660".
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// A ConfigError lists every problem found in the configuration, one line
// each, every line starting with the variable it is about. main maps it to
// exit status 2.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

// setting describes one variable, as declared by a Config field's tags.
type setting struct {
	Field      string // Go field name
	Name       string // variable name with the prefix, such as NATSFAN_SOCKET
	Default    string
	HasDefault bool
	Group      string
	Help       string
	Expect     string // what a valid value looks like; never empty
	Secret     string // "", "true" or "userinfo"
	index      int    // field index in Config
}

// settings returns the variables in Config's field order. It panics if a
// field lacks an env or help tag: that is a bug caught by any test.
var settings = sync.OnceValue(func() []setting {
	t := reflect.TypeFor[Config]()
	out := make([]setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" || f.Tag.Get("help") == "" || f.Tag.Get("group") == "" {
			panic(fmt.Sprintf("natsfan: Config.%s needs env, group and help tags", f.Name))
		}
		def, hasDef := f.Tag.Lookup("envDefault")
		expect := f.Tag.Get("expect")
		if expect == "" {
			expect = expectationOf(f.Type)
		}
		out = append(out, setting{
			Field: f.Name, Name: envPrefix + name,
			Default: def, HasDefault: hasDef,
			Group: f.Tag.Get("group"), Help: f.Tag.Get("help"),
			Expect: expect, Secret: f.Tag.Get("secret"),
			index: i,
		})
	}
	return out
})

// expectationOf describes the values a field of type t accepts, for fields
// whose expect tag does not say more.
func expectationOf(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 500ms, 10s or 1h30m"
	case reflect.TypeFor[ByteSize]():
		return "a size in bytes such as 67108864, or with a unit such as 512KiB or 64MiB"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a comma-separated list"
	default:
		return "a string"
	}
}

// settingByName returns the setting of the variable with the given name,
// with or without the prefix.
func settingByName(name string) (setting, bool) {
	name = envPrefix + strings.TrimPrefix(name, envPrefix)
	for _, s := range settings() {
		if s.Name == name {
			return s, true
		}
	}
	return setting{}, false
}

// loadConfig parses and validates the configuration held by environ, a list
// of "KEY=value" strings as returned by os.Environ. It never reads the
// process environment itself. It returns a *ConfigError naming every bad
// variable, or a Config that is valid and resolved (see Config).
func loadConfig(environ []string) (*Config, error) {
	vars := env.ToMap(environ)
	p := &problems{vars: vars}
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: vars, Prefix: envPrefix})
	if err != nil {
		p.parseErrors(err)
	}
	p.unknownVariables()
	validate(&cfg, p)
	if len(p.list) > 0 {
		return nil, p.err()
	}
	return &cfg, nil
}

// problems collects what is wrong with a configuration.
type problems struct {
	vars   map[string]string // the environment
	list   []problem
	failed map[string]bool // variables env could not parse; not validated further
}

type problem struct {
	order int // setting index, so problems come out in Config order
	text  string
}

// addf records a problem with variable name (with or without the prefix).
func (p *problems) addf(name, format string, args ...any) {
	s, ok := settingByName(name)
	if !ok {
		panic("natsfan: no configuration variable " + name)
	}
	p.list = append(p.list, problem{s.index, s.Name + ": " + fmt.Sprintf(format, args...)})
}

// invalid records that variable name does not hold what its setting expects.
func (p *problems) invalid(name string) {
	s, _ := settingByName(name)
	p.addf(name, "expected %s, got %s", s.Expect, p.got(s))
}

// got quotes the value the variable was given, or its default; a secret is
// not shown, and URLs lose their credentials.
func (p *problems) got(s setting) string {
	if v, ok := p.vars[s.Name]; ok && v != "" {
		switch s.Secret {
		case "true":
			return "a value not shown here, as it is secret"
		case "userinfo":
			list := strings.Split(v, ",")
			for i, u := range list {
				list[i] = ingest.RedactURL(u)
			}
			return strconv.Quote(strings.Join(list, ","))
		}
		return strconv.Quote(v)
	}
	return "the default " + strconv.Quote(s.Default)
}

// set reports whether the variable is set to something other than "".
func (p *problems) set(name string) bool { return p.vars[envPrefix+name] != "" }

// ok reports whether the variable parsed, so its value is worth checking.
func (p *problems) ok(name string) bool { return !p.failed[envPrefix+name] }

// parseErrors turns the errors of env.ParseWithOptions into one problem per
// variable.
func (p *problems) parseErrors(err error) {
	var agg env.AggregateError
	errs := []error{err}
	if errors.As(err, &agg) {
		errs = agg.Errors
	}
	p.failed = make(map[string]bool)
	for _, e := range errs {
		var pe env.ParseError
		if errors.As(e, &pe) {
			for _, s := range settings() {
				if s.Field == pe.Name {
					p.failed[s.Name] = true
					p.invalid(s.Name)
				}
			}
			continue
		}
		// Any other error (no parser for a type, a bad tag option) is a
		// bug in Config; say so rather than hide it.
		p.list = append(p.list, problem{-1, "natsfan: internal configuration error: " + e.Error()})
	}
}

// unknownVariables reports every NATSFAN_ variable that is not a setting,
// with the closest known name as a suggestion.
func (p *problems) unknownVariables() {
	known := make([]string, 0, len(settings()))
	for _, s := range settings() {
		known = append(known, s.Name)
	}
	var unknown []string
	for k, v := range p.vars {
		if strings.HasPrefix(k, envPrefix) && !slices.Contains(known, k) && !isServiceLink(k, v) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for i, k := range unknown {
		text := k + ": unknown variable"
		if s := closest(k, known); s != "" {
			text += "; did you mean " + s + "?"
		}
		text += " (natsfan -h lists every variable)"
		p.list = append(p.list, problem{len(known) + i, text})
	}
}

// serviceLinkVar matches the variables Kubernetes sets for every Service in
// the namespace (unless enableServiceLinks is false): a Service named
// "natsfan" yields NATSFAN_SERVICE_HOST, NATSFAN_PORT_8422_TCP_ADDR and so
// on. They must not stop natsfan from starting.
var serviceLinkVar = regexp.MustCompile(`_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$`)

// isServiceLink reports whether k=v looks like a Kubernetes service link
// variable rather than a mistyped setting.
func isServiceLink(k, v string) bool {
	if serviceLinkVar.MatchString(k) {
		return true
	}
	// <SERVICE>_PORT=tcp://10.0.0.1:8422
	return strings.HasSuffix(k, "_PORT") &&
		(strings.HasPrefix(v, "tcp://") || strings.HasPrefix(v, "udp://") || strings.HasPrefix(v, "sctp://"))
}

// closest returns the name in known nearest to name by edit distance, or ""
// if none is near enough to be a plausible typo.
func closest(name string, known []string) string {
	short := strings.ToUpper(strings.TrimPrefix(name, envPrefix))
	best, bestDist := "", len(short)/3+2
	for _, k := range known {
		if d := editDistance(short, strings.TrimPrefix(k, envPrefix)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// err returns the collected problems as a *ConfigError, in Config order.
func (p *problems) err() error {
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].order < p.list[j].order })
	e := &ConfigError{}
	for _, pr := range p.list {
		e.Problems = append(e.Problems, pr.text)
	}
	return e
}

// validate checks every field of cfg that parsed, records what is wrong in
// p, and resolves cfg as described on Config.
func validate(cfg *Config, p *problems) {
	validateUpstream(cfg, p)
	if cfg.Embedded() {
		if p.ok("EMBEDDED_PORT") && cfg.EmbeddedPort != -1 && (cfg.EmbeddedPort < 1 || cfg.EmbeddedPort > 65535) {
			p.invalid("EMBEDDED_PORT")
		}
	} else if p.set("EMBEDDED_PORT") {
		p.addf("EMBEDDED_PORT", "is set, but so is NATSFAN_NATS_URL, and the embedded server only runs when NATSFAN_NATS_URL is empty; unset one of them")
	}
	validateSubjects(cfg, p)
	validateAuth(cfg, p)

	validateSocket(cfg, p)
	if cfg.Listen != "" {
		checkAddr(p, "LISTEN", cfg.Listen, true, "the consumer protocol has no authentication, so it is only served on loopback")
	}
	if cfg.Embedded() {
		resolveEmbeddedListen(cfg, p)
	}
	validateSocketLimits(cfg, p)
	if p.ok("CONSUMER_MAX_LAG_MESSAGES") && cfg.ConsumerMaxLagMessages <= 0 {
		p.invalid("CONSUMER_MAX_LAG_MESSAGES")
	}
	if p.ok("CONSUMER_MAX_LAG_BYTES") && cfg.ConsumerMaxLagBytes <= 0 {
		p.invalid("CONSUMER_MAX_LAG_BYTES")
	}
	switch cfg.ConsumerLagPolicy {
	case lagPolicyDisconnect, lagPolicySkip:
	default:
		p.invalid("CONSUMER_LAG_POLICY")
	}

	if p.ok("RETENTION_MESSAGES") && cfg.RetentionMessages < 0 {
		p.invalid("RETENTION_MESSAGES")
	}
	if p.ok("RETENTION_AGE") && cfg.RetentionAge < 0 {
		p.invalid("RETENTION_AGE")
	}
	if p.ok("RETENTION_MESSAGES") && p.ok("RETENTION_BYTES") && cfg.RetentionMessages == 0 && cfg.RetentionBytes == 0 {
		p.addf("RETENTION_MESSAGES", "is 0, and so is NATSFAN_RETENTION_BYTES, which would let the buffers grow without bound; set at least one of them above 0")
	}

	if p.ok("INGEST_PENDING_MESSAGES") && cfg.IngestPendingMessages <= 0 {
		p.invalid("INGEST_PENDING_MESSAGES")
	}
	if p.ok("INGEST_PENDING_BYTES") && (cfg.IngestPendingBytes <= 0 || int64(cfg.IngestPendingBytes) > int64(maxInt)) {
		p.invalid("INGEST_PENDING_BYTES")
	}
	if p.ok("INGEST_MAX_BATCH") && (cfg.IngestMaxBatch < 1 || cfg.IngestMaxBatch > 65536) {
		p.invalid("INGEST_MAX_BATCH")
	}
	if p.ok("NATS_RECONNECT_WAIT") && (cfg.NATSReconnectWait < 10*time.Millisecond || cfg.NATSReconnectWait > time.Minute) {
		p.invalid("NATS_RECONNECT_WAIT")
	}
	if p.ok("NATS_RECONNECT_BUFFER") && (cfg.NATSReconnectBuffer < 0 || cfg.NATSReconnectBuffer > 1<<30) {
		p.invalid("NATS_RECONNECT_BUFFER")
	}
	cfg.PublishAllow = validatePatterns(p, "PUBLISH_ALLOW", cfg.PublishAllow)
	cfg.SubscribeAllow = validatePatterns(p, "SUBSCRIBE_ALLOW", cfg.SubscribeAllow)

	checkAddr(p, "HTTP_ADDR", cfg.HTTPAddr, false, "")
	if cfg.PprofAddr != "" {
		checkAddr(p, "PPROF_ADDR", cfg.PprofAddr, true, "profiles expose the process's internals")
	}
	cfg.LogLevel = strings.ToLower(cfg.LogLevel)
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.invalid("LOG_LEVEL")
	}
	cfg.LogFormat = strings.ToLower(cfg.LogFormat)
	switch cfg.LogFormat {
	case logFormatAuto, logFormatJSON, logFormatConsole:
	default:
		p.invalid("LOG_FORMAT")
	}
	if p.ok("SHUTDOWN_TIMEOUT") && cfg.ShutdownTimeout <= 0 {
		p.invalid("SHUTDOWN_TIMEOUT")
	}
}

// defaultEmbeddedListen is NATSFAN_LISTEN in embedded mode when it is not
// set: the address NATS clients and the nats CLI dial when told no server
// (nats.DefaultURL). A newcomer's obvious first command, nats sub '>', thus
// goes through natsfan and shows what it does, rather than silently going
// to the embedded nats-server, which moves to the next port
// (NATSFAN_EMBEDDED_PORT). Publishing is the one thing a client must still
// send to the embedded server, until natsfan takes publishes; then every
// command works on the default port. With NATSFAN_EMBEDDED_PORT=-1, as in
// tests or for a second instance, the listener takes a free port too
// (defaultEmbeddedListenFree), so that nothing collides on a fixed port.
const (
	defaultEmbeddedListen     = "127.0.0.1:4222"
	defaultEmbeddedListenFree = "127.0.0.1:0"
)

// resolveEmbeddedListen gives embedded mode its TCP listener when
// NATSFAN_LISTEN is not set, and reports an embedded server and a listener
// that would want the same port.
func resolveEmbeddedListen(cfg *Config, p *problems) {
	port := cfg.EmbeddedPort
	if !p.ok("EMBEDDED_PORT") || port < 1 || port > 65535 {
		port = -1 // invalid, and reported as such; nothing to compare
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultEmbeddedListen
		if cfg.EmbeddedPort == -1 {
			cfg.Listen = defaultEmbeddedListenFree
		}
		if _, listen, _ := net.SplitHostPort(cfg.Listen); listen == strconv.Itoa(port) {
			def, _ := settingByName("EMBEDDED_PORT")
			p.addf("EMBEDDED_PORT", "is %d, the port natsfan itself serves clients on in embedded mode when NATSFAN_LISTEN is not set (%s, where NATS clients and the nats CLI connect by default, so that they go through natsfan); unset it to use %s, choose another port, or set NATSFAN_LISTEN", port, cfg.Listen, def.Default)
		}
		return
	}
	// The embedded server listens on 127.0.0.1 only: [::1] with the same
	// port is another address, and localhost is 127.0.0.1 first.
	host, listen, err := net.SplitHostPort(cfg.Listen)
	if ip, ipErr := netip.ParseAddr(host); err == nil && listen == strconv.Itoa(port) && (ipErr != nil || ip.Unmap().Is4()) {
		p.addf("LISTEN", "port %s is also NATSFAN_EMBEDDED_PORT, where the embedded nats-server listens on 127.0.0.1; choose another port for one of them", listen)
	}
}

// maxInt is the largest int, the type nats.go takes pending limits in.
const maxInt = int(^uint(0) >> 1)

// validateUpstream checks and trims NATSFAN_NATS_URL.
func validateUpstream(cfg *Config, p *problems) {
	urls, ok := trimList(p, "NATS_URL", cfg.NATSURL, "URL")
	cfg.NATSURL = urls
	if !ok && len(urls) == 0 {
		// A list of nothing but commas: not embedded mode, since the
		// operator meant to set something.
		cfg.NATSURL = []string{""}
		return
	}
	seen := map[string]bool{}
	for _, u := range urls {
		if err := checkServerURL(u); err != nil {
			p.addf("NATS_URL", "%v", err)
		}
		if seen[u] {
			p.addf("NATS_URL", "%s is listed twice", strconv.Quote(ingest.RedactURL(u)))
		}
		seen[u] = true
	}
}

// trimList trims every element of list and reports empty ones, which come
// from doubled, leading or trailing commas. A list that is blank as a whole
// is empty. It returns the trimmed, non-empty elements and whether there was
// no empty one.
func trimList(p *problems, name string, list []string, what string) ([]string, bool) {
	if len(list) == 0 || len(list) == 1 && strings.TrimSpace(list[0]) == "" {
		return nil, true
	}
	out := make([]string, 0, len(list))
	ok := true
	for i, e := range list {
		e = strings.TrimSpace(e)
		if e == "" {
			p.addf(name, "empty %s at position %d of the comma-separated list (stray comma?)", what, i+1)
			ok = false
			continue
		}
		out = append(out, e)
	}
	return out, ok
}

// checkServerURL checks one upstream server address the way nats.go will
// read it: a URL with a nats, tls, ws or wss scheme, or host:port, which
// nats.go reads as nats://host:port. Either may start with a token or a
// user and password and an '@': nats.go reads token@host:4222 as
// nats://token@host:4222 and authenticates with the token. The error never
// contains the URL's credentials.
func checkServerURL(s string) error {
	q := strconv.Quote(ingest.RedactURL(s))
	u, err := ingest.ParseURL(s)
	if !strings.Contains(s, "://") {
		// Only what follows the last '@' is looked at before the URL
		// parses, for what precedes it is secret.
		hostport := s[strings.LastIndexByte(s, '@')+1:]
		host, port, splitErr := net.SplitHostPort(hostport)
		switch {
		case splitErr != nil || host == "" || err == nil && u.Host != hostport:
			return fmt.Errorf("%s is neither a nats://, tls://, ws:// or wss:// URL nor host:port (which may start with token@ or user:password@)", q)
		case !validPort(port, false):
			return fmt.Errorf("%s: port %q is not a number from 1 to 65535", q, port)
		case err != nil:
			return fmt.Errorf("%s: %s", q, strings.TrimPrefix(err.Error(), "ingest: "))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s is not a valid URL: %s", q, strings.TrimPrefix(err.Error(), "ingest: "))
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("%s: scheme %q is not one of nats, tls, ws or wss", q, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s has no host", q)
	}
	if port := u.Port(); port != "" && !validPort(port, false) {
		return fmt.Errorf("%s: port %q is not a number from 1 to 65535", q, port)
	}
	return nil
}

// hasUserinfo reports whether the server URL s carries credentials, as
// nats.go reads it.
func hasUserinfo(s string) bool {
	u, err := ingest.ParseURL(s)
	return err == nil && u.User != nil
}

// validPort reports whether port is a decimal number in 1..65535 (or
// 0..65535 if zero is allowed).
func validPort(port string, zero bool) bool {
	n, err := strconv.Atoi(port)
	if err != nil || n > 65535 || port != strconv.Itoa(n) {
		return false
	}
	return n > 0 || (zero && n == 0)
}

// validateSubjects checks and trims NATSFAN_SUBJECTS, and fills in the
// embedded-mode default.
func validateSubjects(cfg *Config, p *problems) {
	list, ok := trimList(p, "SUBJECTS", cfg.Subjects, "subject pattern")
	cfg.Subjects = list
	if len(list) == 0 && ok {
		if cfg.Embedded() {
			cfg.Subjects = []string{">"}
			return
		}
		p.addf("SUBJECTS", "required when NATSFAN_NATS_URL is set: the comma-separated subject patterns to ingest, such as orders.> or metrics.*.cpu")
		return
	}
	var valid []string
	for _, s := range list {
		if err := subjects.ValidatePattern(s); err != nil {
			p.addf("SUBJECTS", "%s", strings.TrimPrefix(err.Error(), "subjects: "))
			continue
		}
		if slices.Contains(valid, s) {
			p.addf("SUBJECTS", "%q is listed twice", s)
			continue
		}
		for _, v := range valid {
			if subjects.Overlap(v, s) {
				p.addf("SUBJECTS", "%q and %q overlap: a message matching both would be ingested twice; keep one, or make them disjoint", v, s)
			}
		}
		valid = append(valid, s)
	}
}

// validatePatterns checks and trims an allow-list of subject patterns.
func validatePatterns(p *problems, name string, list []string) []string {
	list, _ = trimList(p, name, list, "subject pattern")
	for _, s := range list {
		if err := subjects.ValidatePattern(s); err != nil {
			p.addf(name, "%s", strings.TrimPrefix(err.Error(), "subjects: "))
		}
	}
	return list
}

// authVars are the variables about upstream authentication and TLS.
var authVars = []string{
	"NATS_CREDS_FILE", "NATS_NKEY_SEED_FILE", "NATS_TOKEN", "NATS_TOKEN_FILE",
	"NATS_USER", "NATS_PASSWORD", "NATS_PASSWORD_FILE",
	"NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY",
}

// validateAuth checks upstream authentication and TLS, reads the files they
// name, and resolves NATSToken and NATSPassword from their _FILE forms.
func validateAuth(cfg *Config, p *problems) {
	if cfg.Embedded() {
		for _, name := range authVars {
			if p.set(name) {
				p.addf(name, "is set, but NATSFAN_NATS_URL is empty: the embedded server is reached without authentication or TLS, so this would be ignored; set NATSFAN_NATS_URL or unset %s", envPrefix+name)
			}
		}
		return
	}

	cfg.NATSToken = resolveSecret(p, "NATS_TOKEN", cfg.NATSToken, cfg.NATSTokenFile)
	cfg.NATSPassword = resolveSecret(p, "NATS_PASSWORD", cfg.NATSPassword, cfg.NATSPasswordFile)
	for _, name := range []string{"NATS_CREDS_FILE", "NATS_NKEY_SEED_FILE"} {
		if p.set(name) {
			readFile(p, name)
		}
	}

	// At most one way to authenticate.
	var methods, first []string
	method := func(what string, names ...string) {
		for _, n := range names {
			if p.set(n) {
				methods = append(methods, what+" ("+envPrefix+n+")")
				first = append(first, n)
				return
			}
		}
	}
	if slices.ContainsFunc(cfg.NATSURL, hasUserinfo) {
		method("credentials in the URL", "NATS_URL")
	}
	method("a credentials file", "NATS_CREDS_FILE")
	method("an NKey seed", "NATS_NKEY_SEED_FILE")
	method("a token", "NATS_TOKEN", "NATS_TOKEN_FILE")
	method("a user and password", "NATS_USER")
	if len(methods) > 1 {
		p.addf(first[0], "more than one upstream authentication method is set: %s; set only one", strings.Join(methods, ", "))
	}
	passwordSet := p.set("NATS_PASSWORD") || p.set("NATS_PASSWORD_FILE")
	switch {
	case passwordSet && !p.set("NATS_USER"):
		name := "NATS_PASSWORD"
		if !p.set(name) {
			name = "NATS_PASSWORD_FILE"
		}
		p.addf(name, "is set without NATSFAN_NATS_USER")
	case p.set("NATS_USER") && !passwordSet:
		p.addf("NATS_USER", "is set without NATSFAN_NATS_PASSWORD or NATSFAN_NATS_PASSWORD_FILE")
	}

	if p.set("NATS_TLS_CA") {
		if pem, ok := readFile(p, "NATS_TLS_CA"); ok && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			p.addf("NATS_TLS_CA", "no PEM certificate found in %s", cfg.NATSTLSCA)
		}
	}
	switch certSet, keySet := p.set("NATS_TLS_CERT"), p.set("NATS_TLS_KEY"); {
	case certSet && keySet:
		cert, certOK := readFile(p, "NATS_TLS_CERT")
		key, keyOK := readFile(p, "NATS_TLS_KEY")
		if certOK && keyOK {
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				p.addf("NATS_TLS_CERT", "cannot use %s with the key in %s (NATSFAN_NATS_TLS_KEY): %v", cfg.NATSTLSCert, cfg.NATSTLSKey, err)
			}
		}
	case certSet:
		p.addf("NATS_TLS_CERT", "is set without NATSFAN_NATS_TLS_KEY; a client certificate needs its private key")
	case keySet:
		p.addf("NATS_TLS_KEY", "is set without NATSFAN_NATS_TLS_CERT; a private key needs its client certificate")
	}
}

// resolveSecret returns the secret held by variable name or read from the
// file named by name_FILE (one trailing newline trimmed), reporting a
// problem if both or an unusable file are given.
func resolveSecret(p *problems, name, value, file string) string {
	fileName := name + "_FILE"
	switch {
	case p.set(name) && p.set(fileName):
		p.addf(name, "is set, and so is %s%s; set only one of them", envPrefix, fileName)
		return value
	case p.set(fileName):
		b, ok := readFile(p, fileName)
		if !ok {
			return ""
		}
		s := strings.TrimSuffix(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			p.addf(fileName, "file %s is empty", file)
		}
		return s
	}
	return value
}

// readFile reads the file named by variable name, reporting a problem if it
// cannot. The OS error names the file; the contents never appear in it.
func readFile(p *problems, name string) ([]byte, bool) {
	b, err := os.ReadFile(p.vars[envPrefix+name])
	if err != nil {
		p.addf(name, "cannot read the file: %v", err)
		return nil, false
	}
	return b, true
}

// validateSocket checks NATSFAN_SOCKET. A Unix socket path must fit in
// sockaddr_un's sun_path with its terminating NUL, 108 bytes on Linux. The
// socket's directory need not exist, since natsfan creates it, but the
// nearest ancestor that exists must be a directory.
func validateSocket(cfg *Config, p *problems) {
	maxLen := len(syscall.RawSockaddrUnix{}.Path) - 1
	switch s := cfg.Socket; {
	case !filepath.IsAbs(s):
		p.addf("SOCKET", "expected an absolute path, got %q", s)
	case len(s) > maxLen:
		p.addf("SOCKET", "path is %d bytes long, but a Unix socket path can be at most %d bytes: %q", len(s), maxLen, s)
	default:
		dir := filepath.Dir(s)
		for d := dir; ; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			switch {
			case err == nil && fi.IsDir():
				return
			case err == nil && d == dir:
				p.addf("SOCKET", "%s is not a directory", dir)
				return
			case err == nil:
				p.addf("SOCKET", "%s is not a directory, so the socket's directory %s cannot be created", d, dir)
				return
			case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
				p.addf("SOCKET", "the socket's directory cannot be used: %v", err)
				return
			case filepath.Dir(d) == d:
				return // nothing exists, not even the root: nothing to say
			}
		}
	}
}

// maxSocketPayload is the largest NATSFAN_SOCKET_MAX_PAYLOAD, nats-server's
// own ceiling for max_payload.
const maxSocketPayload = 64 << 20

// validateSocketLimits checks the limits of consumer connections.
func validateSocketLimits(cfg *Config, p *problems) {
	checks := []struct {
		name string
		ok   bool
	}{
		{"SOCKET_MAX_CONNECTIONS", cfg.SocketMaxConnections > 0},
		{"SOCKET_MAX_SUBSCRIPTIONS", cfg.SocketMaxSubscriptions > 0},
		{"SOCKET_MAX_SUBSCRIPTIONS_TOTAL", cfg.SocketMaxSubsTotal > 0},
		{"SOCKET_MAX_QUEUE_GROUPS", cfg.SocketMaxQueueGroups > 0},
		{"SOCKET_CONNECT_TIMEOUT", cfg.SocketConnectTimeout > 0},
		{"SOCKET_PING_INTERVAL", cfg.SocketPingInterval > 0},
		{"SOCKET_MAX_PINGS_OUT", cfg.SocketMaxPingsOut > 0},
		{"SOCKET_WRITE_DEADLINE", cfg.SocketWriteDeadline > 0},
		{"SOCKET_MAX_CONTROL_LINE", cfg.SocketMaxControlLine >= 256 && cfg.SocketMaxControlLine <= 1<<20},
		{"SOCKET_MAX_PAYLOAD", cfg.SocketMaxPayload >= 0 && cfg.SocketMaxPayload <= maxSocketPayload},
		{"SOCKET_MAX_PENDING", cfg.SocketMaxPending >= 1<<20 && cfg.SocketMaxPending <= 1<<30},
	}
	for _, c := range checks {
		if p.ok(c.name) && !c.ok {
			p.invalid(c.name)
		}
	}
}

// checkAddr checks that variable name holds host:port with a numeric port
// (0 picks a free port) and, if loopbackOnly, a loopback host; why explains
// the loopback rule in the message.
func checkAddr(p *problems, name, addr string, loopbackOnly bool, why string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf(name, "expected host:port, such as 127.0.0.1:8422 or :8422, got %q", addr)
		return
	}
	if !validPort(port, true) {
		p.addf(name, "port %q in %q is not a number from 0 to 65535", port, addr)
	}
	if loopbackOnly && !isLoopbackHost(host) {
		p.addf(name, "host %q in %q is not a loopback address (127.0.0.1, ::1 or localhost); %s", host, addr, why)
	}
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// LogFields returns the configuration as zap fields, one per variable
// (keyed by its name without the prefix, in lower case) plus "mode", for a
// single line logged at start-up. Secrets show only whether they are set
// ("[REDACTED]" or ""); URLs lose their credentials; files are shown by path
// and their contents never.
func (c *Config) LogFields() []zap.Field {
	mode := "upstream"
	if c.Embedded() {
		mode = "embedded"
	}
	fields := []zap.Field{zap.String("mode", mode)}
	v := reflect.ValueOf(c).Elem()
	for _, s := range settings() {
		key := strings.ToLower(strings.TrimPrefix(s.Name, envPrefix))
		fv := v.Field(s.index)
		switch {
		case s.Secret == "true":
			shown := ""
			if !fv.IsZero() {
				shown = "[REDACTED]"
			}
			fields = append(fields, zap.String(key, shown))
		case s.Secret == "userinfo":
			list := make([]string, 0, fv.Len())
			for _, u := range fv.Interface().([]string) {
				list = append(list, ingest.RedactURL(u))
			}
			fields = append(fields, zap.Strings(key, list))
		default:
			switch x := fv.Interface().(type) {
			case fmt.Stringer: // ByteSize, FileMode, time.Duration
				fields = append(fields, zap.String(key, x.String()))
			case string:
				fields = append(fields, zap.String(key, x))
			case []string:
				fields = append(fields, zap.Strings(key, x))
			case int:
				fields = append(fields, zap.Int(key, x))
			default:
				fields = append(fields, zap.Any(key, x))
			}
		}
	}
	return fields
}
