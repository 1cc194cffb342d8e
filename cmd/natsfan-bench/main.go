package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == leafRole {
		if err := runLeafNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "natsfan-bench leaf-node:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "natsfan-bench:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	short       bool
	out         string
	ns          []int
	sizes       []int
	modes       []mode
	deliveries  int
	minMessages int
	rate        float64
	bandwidth   float64
	pacedFor    time.Duration
	idle        []int
	own         []int         // numbers of consumers of the own-subjects section (own.go); none: no such section
	ownRate     float64       // its publish rate
	ownFor      time.Duration // how long it publishes per step
	natsfanBin  string
	settings    []string // NATSFAN_NAME=VALUE for the sidecar
	runs        int
	profile     string        // directory for CPU profiles of the sidecar; "": none
	profileFor  time.Duration // the window of each profile

	pubNs       []int // numbers of publishers; none: no publish section
	pubMessages int   // published per publish cell, over all its publishers
	pubSize     int
	requests    int // round trips per request cell; 0: no request section
	reqSize     int
	reqStyles   []string // styleNew, styleOld

	zlNs    []int // numbers of consumers of the zero-loss section; none: no such section
	zlSizes []int // its payload sizes: -sizes, or 128 B with -short
	zl      zlPlan
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("natsfan-bench", flag.ContinueOnError)
	var (
		c                               config
		ns, sizes, modeNames, idle, own string
		settings, pubNs, reqStyles      string
		zlNs                            string
	)
	fs.BoolVar(&c.short, "short", false, "smoke test: N 1,4, few messages at a low rate, a zero-loss search of two short steps, 100 idle consumers, 4 consumers of their own subjects; exit 1 unless every mode runs and reports, and natsfan's modes deliver everything (overrides the flags below)")
	fs.StringVar(&c.out, "out", "results", "directory for bench.txt, zeroloss.csv, bench.csv, publish.csv, request.csv, idle.csv, own.csv and bench.png, relative to the working directory: cmd/natsfan-bench/results under go -C cmd/natsfan-bench run . (with -short: a temporary directory unless set)")
	fs.StringVar(&ns, "n", "1,10,50,200", "numbers of consumers; empty: no delivery section")
	fs.StringVar(&sizes, "sizes", "128,4096", "payload sizes, bytes (at least 9)")
	fs.StringVar(&modeNames, "modes", "direct,leaf,natsfan-socket,natsfan-inproc", "modes to run")
	fs.IntVar(&c.deliveries, "deliveries", 2_000_000, "deliveries per cell in the throughput phase: it publishes this ÷ N messages (÷ 8 more for payloads over 1 KiB)")
	fs.IntVar(&c.minMessages, "min-messages", 5_000, "fewest messages published in a throughput phase")
	fs.Float64Var(&c.rate, "rate", 10_000, "highest offered rate of the paced (latency) phase, msgs/s")
	fs.Float64Var(&c.bandwidth, "paced-bandwidth", 100e6, "highest offered delivery bandwidth of the paced phase, bytes/s over all N consumers: it lowers the rate for large N and payloads")
	fs.DurationVar(&c.pacedFor, "paced-duration", 2*time.Second, "how long the paced phase publishes")
	fs.StringVar(&idle, "idle", "1000,10000", "numbers of idle socket consumers to measure the sidecar's memory with; empty: skip")
	fs.StringVar(&own, "own", "20,200,1000", "own-subjects section: numbers of socket consumers that each subscribe to a subject of their own, which one publisher upstream sends to in turn; the sidecar's CPU per message should not grow with them; empty: skip")
	fs.Float64Var(&c.ownRate, "own-rate", 5_000, "own-subjects section: messages/s published, over all consumers")
	fs.DurationVar(&c.ownFor, "own-duration", 5*time.Second, "own-subjects section: how long each step publishes")
	fs.IntVar(&c.runs, "runs", 1, "runs of every cell; the table shows medians, and the worst loss of any run")
	fs.StringVar(&c.natsfanBin, "natsfan-bin", "", "natsfan binary to run; empty: build cmd/natsfan of the natsfan checkout this program belongs to")
	fs.StringVar(&settings, "set", "", "settings for the sidecar (natsfan-socket and idle memory), comma-separated NATSFAN_NAME=VALUE, such as NATSFAN_CONSUMER_MAX_LAG_BYTES=1GiB; empty: natsfan's defaults. The header of the report lists them")
	fs.StringVar(&c.profile, "profile", "", "directory to write a CPU profile of the sidecar's throughput phase to, for every natsfan-socket cell and run (the sidecar serves pprof, which costs it some CPU); empty: none")
	fs.DurationVar(&c.profileFor, "profile-duration", 5*time.Second, "window of each CPU profile, from the start of the throughput phase (whole seconds)")
	fs.StringVar(&pubNs, "pub-n", "1,10,50", "publish section: numbers of publishers in the pod (modes direct, leaf and natsfan-socket); empty: no publish section")
	fs.IntVar(&c.pubMessages, "pub-messages", 2_000_000, "publish section: messages published per cell, over all its publishers")
	fs.IntVar(&c.pubSize, "pub-size", 128, "publish section: payload size, bytes (at least 19)")
	fs.IntVar(&c.requests, "requests", 10_000, "request section: round trips per cell, one after another (modes direct, leaf and natsfan-socket); 0: no request section")
	fs.IntVar(&c.reqSize, "req-size", 128, "request section: payload size of requests and replies, bytes")
	fs.StringVar(&reqStyles, "req-inbox", "new,old", "request section: nats.go's request styles: new (one wildcard inbox per connection, the default) and old (nats.UseOldRequestStyle: an inbox per request)")
	fs.StringVar(&zlNs, "zl-n", "1,10,50,200", "zero-loss section: numbers of consumers (sizes and modes from -sizes and -modes); empty: no zero-loss section")
	c.zl.doublings = zlDoublings
	fs.Float64Var(&c.zl.start, "zl-start", 100_000, "zero-loss section: deliveries/s (over all N consumers) the search of each cell starts at")
	fs.DurationVar(&c.zl.step, "zl-step", 3*time.Second, "zero-loss section: how long each offered rate is published")
	fs.IntVar(&c.zl.bisect, "zl-bisect", 4, "zero-loss section: bisections between the highest rate that lost nothing and the lowest that did")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.short {
		outSet := false
		fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
		if !outSet {
			c.out = filepath.Join(os.TempDir(), "natsfan-bench-short")
		}
		ns, sizes, idle, own = "1,4", "128,4096", "100", "4"
		c.ownRate, c.ownFor = 1_000, 250*time.Millisecond
		c.deliveries, c.minMessages, c.rate, c.pacedFor = 2_000, 500, 2_000, 250*time.Millisecond
		pubNs, c.pubMessages, c.requests = "1,4", 2_000, 100
		zlNs, c.zl = "1,4", zlPlan{start: 2_000, step: 500 * time.Millisecond, doublings: 1, bisect: 1}
	}
	var err error
	if c.ns, err = parseInts(ns); err != nil {
		return nil, fmt.Errorf("bad -n: %w", err)
	}
	if c.sizes, err = parseInts(sizes); err != nil || slices.Min(c.sizes) < payloadHeader {
		return nil, fmt.Errorf("bad -sizes %q: want sizes of at least %d bytes", sizes, payloadHeader)
	}
	if c.pubNs, err = parseInts(pubNs); err != nil {
		return nil, fmt.Errorf("bad -pub-n: %w", err)
	}
	if c.pubSize < pubHeader || (len(c.pubNs) > 0 && (c.pubMessages < slices.Max(c.pubNs) || slices.Max(c.pubNs) > 1<<16)) || c.requests < 0 || c.reqSize <= 0 {
		return nil, fmt.Errorf("bad publish or request flags: want -pub-size of at least %d bytes, -pub-n at most 65536, -pub-messages at least the largest -pub-n, -req-size positive, -requests 0 or more", pubHeader)
	}
	for _, st := range strings.Split(reqStyles, ",") {
		if st = strings.TrimSpace(st); st != styleNew && st != styleOld {
			return nil, fmt.Errorf("bad -req-inbox: %q is neither %s nor %s", st, styleNew, styleOld)
		}
		c.reqStyles = append(c.reqStyles, st)
	}
	if c.zlNs, err = parseInts(zlNs); err != nil {
		return nil, fmt.Errorf("bad -zl-n: %w", err)
	}
	c.zlSizes = c.sizes
	if c.short {
		c.zlSizes = []int{128}
	}
	if c.zl.start <= 0 || c.zl.step < 100*time.Millisecond || c.zl.bisect < 0 {
		return nil, errors.New("bad zero-loss flags: want -zl-start positive, -zl-step at least 100ms, -zl-bisect 0 or more")
	}
	if c.idle, err = parseInts(idle); err != nil {
		return nil, fmt.Errorf("bad -idle: %w", err)
	}
	if c.own, err = parseInts(own); err != nil || c.ownRate <= 0 || c.ownFor <= 0 {
		return nil, fmt.Errorf("bad -own, -own-rate or -own-duration: want numbers of consumers, a positive rate and duration")
	}
	if c.settings, err = parseSettings(settings); err != nil {
		return nil, fmt.Errorf("bad -set: %w", err)
	}
	for _, name := range strings.Split(modeNames, ",") {
		i := slices.IndexFunc(modes, func(m mode) bool { return m.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown mode %q", name)
		}
		c.modes = append(c.modes, modes[i])
	}
	if c.rate <= 0 || c.bandwidth <= 0 || c.deliveries <= 0 || c.pacedFor <= 0 || c.runs <= 0 || c.profileFor < time.Second {
		return nil, errors.New("-rate, -paced-bandwidth, -paced-duration, -deliveries and -runs must be positive, -profile-duration at least 1s")
	}
	return &c, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSettings splits --set into NATSFAN_NAME=VALUE settings.
func parseSettings(s string) ([]string, error) {
	var out []string
	for kv := range strings.SplitSeq(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "NATSFAN_") || len(name) == len("NATSFAN_") {
			return nil, fmt.Errorf("%q is not NATSFAN_NAME=VALUE", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

// messagesFor returns how many messages a throughput phase publishes to n
// consumers of size-byte payloads.
func (c *config) messagesFor(n, size int) int {
	m := max(c.minMessages, c.deliveries/n)
	if size > 1024 {
		m = max(1, m/8)
	}
	return m
}

// pacedRate returns the offered rate of the paced phase for n consumers of
// size-byte payloads, and how many messages it publishes.
func (c *config) pacedRate(n, size int) (float64, int) {
	rate := min(c.rate, c.bandwidth/float64(n*size))
	return rate, max(100, int(rate*c.pacedFor.Seconds()))
}

// profiling returns what run i of cl profiles, or nil.
func (c *config) profiling(cl cell, i int) *profiling {
	if c.profile == "" {
		return nil
	}
	name := fmt.Sprintf("cpu-%s-N%d-%s-run%d.pprof", cl.mode.name, cl.n, strings.ReplaceAll(sizeName(cl.size), " ", ""), i+1)
	return &profiling{path: filepath.Join(c.profile, name), seconds: c.profileFor}
}

// run runs the benchmark the command line asks for: the delivery section,
// the publish section, the request section and the idle memory, each
// skipped if its flags ask for nothing.
func run(args []string, stdout io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "natsfan-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sc := sidecar{bin: c.natsfanBin, settings: c.settings}
	if sc.bin == "" {
		if sc.bin, err = buildNatsfan(dir); err != nil {
			return err
		}
	}

	header := fmt.Sprintf("natsfan-bench: %s/%s, %d CPUs, %s; %d run(s) per cell; load average at the start %s",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), c.runs, loadAverage())
	if len(c.settings) > 0 {
		header += "; sidecar settings: " + strings.Join(c.settings, " ")
	}
	fmt.Fprintln(stdout, header)
	zl, err := runZeroLoss(c, sc, dir, stdout)
	if err != nil {
		return err
	}
	results, err := runDelivery(c, sc, dir, stdout)
	if err != nil {
		return err
	}
	pubs, err := runPublish(c, sc, dir, stdout)
	if err != nil {
		return err
	}
	reqs, err := runRequests(c, sc, dir, stdout)
	if err != nil {
		return err
	}
	var idle []idleResult
	if len(c.idle) > 0 {
		if idle, err = measureIdle(sc, dir, c.idle); err != nil {
			return fmt.Errorf("idle memory: %w", err)
		}
	}
	var own []ownResult
	if len(c.own) > 0 {
		if own, err = measureOwn(sc, dir, c.own, c.ownRate, c.ownFor); err != nil {
			return fmt.Errorf("own subjects: %w", err)
		}
	}

	var report bytes.Buffer
	fmt.Fprintf(&report, "%s, at the end %s\n", header, loadAverage())
	type output struct {
		name  string
		write func(string) error
	}
	outputs := []output{{"bench.txt", func(p string) error { return os.WriteFile(p, report.Bytes(), 0o644) }}}
	if len(zl) > 0 {
		fmt.Fprintf(&report, "\nzero-loss: one publisher upstream, N consumers in the pod; the highest publish rate with nothing lost, searched from %s deliveries/s: steps of %v, doubling, then %d bisections; a step passes if nothing is lost and deliveries keep up with %.0f%% of the rate offered\n",
			rateString(c.zl.start), c.zl.step, c.zl.bisect, zlKeepUp*100)
		if err := printZeroLossTable(&report, zl); err != nil {
			return err
		}
		fmt.Fprintln(&report)
		printZeroLossTargets(&report, zl)
		outputs = append(outputs, output{"zeroloss.csv", func(p string) error { return writeZeroLossCSV(p, zl) }})
	}
	if len(zl) > 0 || len(results) > 0 {
		outputs = append(outputs, output{"bench.png", func(p string) error { return writeChart(p, zl, results) }})
	}
	if len(results) > 0 {
		fmt.Fprintf(&report, "\ndelivery: one publisher upstream, N consumers in the pod; throughput phase: %d deliveries per cell (at least %d messages, ÷8 over 1 KiB) as fast as the publisher can; paced phase: %v at %.0f msgs/s, or less so as to offer at most %.0f MB/s of deliveries\n",
			c.deliveries, c.minMessages, c.pacedFor, c.rate, c.bandwidth/1e6)
		if err := printTable(&report, results); err != nil {
			return err
		}
		outputs = append(outputs,
			output{"bench.csv", func(p string) error { return writeCSV(p, results) }})
	}
	if len(pubs) > 0 {
		fmt.Fprintf(&report, "\npublish: N publishers in the pod, %d messages of %s in all per cell as fast as they can, one receiver upstream\n", c.pubMessages, sizeName(c.pubSize))
		if err := printPublishTable(&report, pubs); err != nil {
			return err
		}
		outputs = append(outputs, output{"publish.csv", func(p string) error { return writePublishCSV(p, pubs) }})
	}
	if len(reqs) > 0 {
		fmt.Fprintf(&report, "\nrequest/reply: one requester in the pod, %d round trips of %s one after another per cell, one responder upstream\n", c.requests, sizeName(c.reqSize))
		if err := printRequestTable(&report, reqs); err != nil {
			return err
		}
		outputs = append(outputs, output{"request.csv", func(p string) error { return writeRequestCSV(p, reqs) }})
	}
	if len(idle) > 0 {
		fmt.Fprintln(&report)
		if err := printIdle(&report, idle); err != nil {
			return err
		}
		outputs = append(outputs, output{"idle.csv", func(p string) error { return writeIdleCSV(p, idle) }})
	}
	if len(own) > 0 {
		fmt.Fprintf(&report, "\nown subjects: N socket consumers each subscribed to a subject of its own under %s, one publisher upstream sending %.0f messages/s of 128 B to them in turn for %v\n", benchSubjects, c.ownRate, c.ownFor)
		if err := printOwn(&report, own); err != nil {
			return err
		}
		outputs = append(outputs, output{"own.csv", func(p string) error { return writeOwnCSV(p, own) }})
	}
	if len(results) > 0 || len(idle) > 0 {
		fmt.Fprintln(&report)
		printTargets(&report, results, idle)
	}
	fmt.Fprintf(stdout, "\n%s", report.Bytes())
	var names []string
	for _, o := range outputs {
		if err := o.write(filepath.Join(c.out, o.name)); err != nil {
			return fmt.Errorf("cannot write %s: %w", o.name, err)
		}
		names = append(names, o.name)
	}
	out, err := filepath.Abs(c.out)
	if err != nil {
		out = c.out
	}
	fmt.Fprintf(stdout, "\nwrote %s to %s\n", strings.Join(names, ", "), out)
	if c.short {
		return errors.Join(checkShort(c, results, pubs, reqs), checkShortZeroLoss(c, zl), checkShortOwn(c, own))
	}
	return nil
}

// checkShortOwn fails unless the own-subjects section ran every step and
// delivered every message.
func checkShortOwn(c *config, own []ownResult) error {
	if len(own) != len(c.own) {
		return fmt.Errorf("own subjects: %d steps of %d ran", len(own), len(c.own))
	}
	var errs []error
	for _, r := range own {
		if r.Delivered != int64(r.Sent) {
			errs = append(errs, fmt.Errorf("own subjects, %d consumers: %d of %d delivered", r.Consumers, r.Delivered, r.Sent))
		}
	}
	return errors.Join(errs...)
}

// runDelivery runs the delivery section: every cell of mode, N and size,
// c.runs times, and returns the medians.
func runDelivery(c *config, sc sidecar, dir string, stdout io.Writer) ([]result, error) {
	var results []result
	for _, size := range c.sizes {
		for _, n := range c.ns {
			for _, m := range c.modes {
				rate, paced := c.pacedRate(n, size)
				cl := cell{mode: m, n: n, size: size, messages: c.messagesFor(n, size), pacedMessages: paced, rate: rate}
				var runs []result
				for i := range c.runs {
					began := time.Now()
					r, err := cl.run(sc, dir, c.profiling(cl, i))
					if err != nil {
						return nil, fmt.Errorf("%s, N=%d, %s: %w", m.name, n, sizeName(size), err)
					}
					fmt.Fprintf(stdout, "  %-15s N=%-3d %-6s paced %6d msgs at %5.0f/s: p99 %s, lost %d; burst %7d msgs: %s deliveries/s, lost %d; cut off %d %s(%.1f s)\n",
						m.name, n, sizeName(size), r.PacedMessages, r.PacedRate, durString(r.P99), r.PacedLost, r.Messages, rateString(r.Rate), r.Lost, r.CutOff, whyString(r.Why), time.Since(began).Seconds())
					if r.Profile != "" {
						fmt.Fprintf(stdout, "    CPU profile of the sidecar: %s\n", r.Profile)
					}
					runs = append(runs, r)
				}
				results = append(results, medianOf(runs))
			}
		}
	}
	return results, nil
}

// clientModes are the modes of c that have clients of their own (all but
// natsfan-inproc): the modes of the publish and request sections.
func (c *config) clientModes() []mode {
	return slices.DeleteFunc(slices.Clone(c.modes), func(m mode) bool { return m.connect == nil })
}

// whyString is why, followed by a space, or nothing.
func whyString(why string) string {
	if why == "" {
		return ""
	}
	return why + " "
}

// checkShort is the smoke test's verdict. It checks natsfan: every mode
// must have run and reported a result for every cell of every section, and
// natsfan's modes must have delivered everything and cut off nobody,
// passed on every publish and answered every request. What a peer loses is
// in the table but fails nothing: a leaf node may drop messages on a busy
// machine, as documented, and that says nothing about natsfan.
func checkShort(c *config, results []result, pubs []pubResult, reqs []reqResult) error {
	var errs []error
	for _, m := range c.modes {
		for _, size := range c.sizes {
			for _, n := range c.ns {
				i := slices.IndexFunc(results, func(r result) bool { return r.Mode == m.name && r.N == n && r.Size == size })
				if i < 0 {
					errs = append(errs, fmt.Errorf("%s, N=%d, %s: no result", m.name, n, sizeName(size)))
					continue
				}
				r := results[i]
				if m.peer {
					continue
				}
				if r.Delivered == 0 || r.Lost != 0 || r.PacedLost != 0 || r.CutOff != 0 {
					errs = append(errs, fmt.Errorf("%s, N=%d, %s: %d delivered, %d lost, %d lost at %.0f msgs/s, %d consumers cut off",
						r.Mode, r.N, sizeName(r.Size), r.Delivered, r.Lost, r.PacedLost, r.PacedRate, r.CutOff))
				}
			}
		}
	}
	for _, m := range c.clientModes() {
		for _, n := range c.pubNs {
			i := slices.IndexFunc(pubs, func(r pubResult) bool { return r.Mode == m.name && r.N == n })
			if i < 0 {
				errs = append(errs, fmt.Errorf("publish, %s, %d publishers: no result", m.name, n))
				continue
			}
			if r := pubs[i]; !m.peer && (r.Received == 0 || r.Lost != 0 || r.Reordered != 0 || r.Published != int64(c.pubMessages/n*n)) {
				errs = append(errs, fmt.Errorf("publish, %s, %d publishers: %d of %d published, %d received, %d lost, %d out of order %s",
					r.Mode, r.N, r.Published, c.pubMessages/n*n, r.Received, r.Lost, r.Reordered, r.Why))
			}
		}
		if c.requests == 0 {
			continue
		}
		for _, style := range c.reqStyles {
			i := slices.IndexFunc(reqs, func(r reqResult) bool { return r.Mode == m.name && r.Style == style })
			if i < 0 {
				errs = append(errs, fmt.Errorf("request, %s, %s inbox: no result", m.name, style))
				continue
			}
			if r := reqs[i]; !m.peer && (r.Answered != r.Requests || r.Failed != 0) {
				errs = append(errs, fmt.Errorf("request, %s, %s inbox: %d of %d answered, %d failed %s",
					r.Mode, r.Style, r.Answered, r.Requests, r.Failed, r.Why))
			}
		}
	}
	return errors.Join(errs...)
}
