package main

// natsfan top shows, from inside the pod, which consumers are behind and by
// how much: it reads /connz sorted by lag, and /subsz for the streams, and
// prints them as a table every --interval, as nats-top does for
// nats-server. It is meant for kubectl exec, where /connz (served to
// loopback callers only) is at hand.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	env "github.com/caarlos0/env/v10"

	"github.com/natsfan/natsfan/fanout"
)

// topTimeout bounds each request to natsfan.
const topTimeout = 5 * time.Second

// topArgs are the parsed arguments of natsfan top.
type topArgs struct {
	url      string
	interval time.Duration
	once     bool
	limit    int
}

func topUsage(w io.Writer, def, from string) {
	fmt.Fprintf(w, `Usage: natsfan top [--url URL] [--interval D] [--limit N] [--once]

natsfan top prints natsfan's consumer connections, the furthest behind
first, with what they read and how far behind they are, and the buffered
streams; it refreshes every --interval until SIGINT or SIGTERM. It reads
/connz and /subsz, which natsfan serves to loopback callers, so run it in
the pod:

  kubectl exec POD -c natsfan -- natsfan top --once

Flags:
  --url URL       natsfan's HTTP server; default: %s
                  (%s)
  --interval D    time between refreshes (default 2s)
  --limit N       show at most N connections (default 1024)
  --once          print once and exit

Exit status: 0 after --once or on SIGINT or SIGTERM; 1 if natsfan cannot
be reached or refuses; 2 for bad arguments.
`, def, from)
}

// defaultTopURL returns the URL natsfan top reads without --url: the one
// NATSFAN_HTTP_ADDR (or its default) makes natsfan serve, on loopback when
// it listens on every address; and where it comes from, for the usage.
func defaultTopURL(environ []string) (u, from string) {
	s, _ := settingByName("HTTP_ADDR")
	addr, from := s.Default, "from natsfan's default NATSFAN_HTTP_ADDR, "+s.Default
	if v := env.ToMap(environ)[s.Name]; v != "" {
		addr, from = v, "from "+s.Name
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8422", "natsfan's default"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), from
}

// parseTopArgs parses natsfan top's arguments. It returns the exit status
// to stop with if parsing is all there is to do: 0 for -h, 2 for a usage
// error, which it reports on stderr.
func parseTopArgs(args, environ []string, stdout, stderr io.Writer) (topArgs, int, bool) {
	def, from := defaultTopURL(environ)
	a := topArgs{}
	fs := flag.NewFlagSet("natsfan top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.StringVar(&a.url, "url", def, "")
	fs.DurationVar(&a.interval, "interval", 2*time.Second, "")
	fs.IntVar(&a.limit, "limit", fanout.DefaultConnListSize, "")
	fs.BoolVar(&a.once, "once", false, "")
	usageError := func(format string, args ...any) (topArgs, int, bool) {
		if format != "" {
			fmt.Fprintf(stderr, "natsfan top: "+format+"\n", args...)
		}
		topUsage(stderr, def, from)
		return topArgs{}, exitConfigError, true
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		topUsage(stdout, def, from)
		return topArgs{}, exitOK, true
	case err != nil:
		return usageError("") // flag has said what is wrong
	case fs.NArg() > 0:
		return usageError("unexpected argument %q", fs.Arg(0))
	case a.interval <= 0:
		return usageError("--interval must be greater than 0, got %s", a.interval)
	case a.limit <= 0:
		return usageError("--limit must be greater than 0, got %d", a.limit)
	}
	u, err := url.Parse(a.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--url must be an http:// or https:// URL such as http://127.0.0.1:8422, got %q", a.url)
	}
	a.url = strings.TrimSuffix(a.url, "/")
	return a, 0, false
}

// runTop is natsfan top: it prints the table once (--once) or every
// --interval until SIGINT or SIGTERM (exit status 0). If natsfan cannot be
// read at first, or with --once, it exits 1; once a table has been shown, a
// failed refresh (natsfan restarting, say) is reported and tried again at
// the next interval. args follow "top".
func runTop(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	a, code, done := parseTopArgs(args, environ, stdout, stderr)
	if done {
		return code
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: topTimeout}
	redraw := isTerminal(stdout) // redraw the screen; elsewhere, one table after another
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	for shown := false; ; {
		frame, err := topFrame(ctx, client, a)
		switch {
		case err != nil && ctx.Err() != nil:
			return exitOK
		case err != nil && (a.once || !shown):
			fmt.Fprintf(stderr, "natsfan top: %v\n", err)
			return exitFailure
		case err != nil: // the last table stays on the screen
			fmt.Fprintf(stderr, "natsfan top: %v; trying again in %v\n", err, a.interval)
		default:
			if redraw {
				io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear the screen
			}
			if _, err := io.WriteString(stdout, frame); err != nil {
				return exitFailure // stdout is gone: nobody to tell
			}
			shown = true
		}
		if a.once {
			return exitOK
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
			if !redraw {
				io.WriteString(stdout, "\n")
			}
		}
	}
}

// topSubsz is what natsfan top reads of /subsz.
type topSubsz struct {
	Streams []struct {
		fanout.StreamState
		Upstream *upstreamSub `json:"upstream"`
	} `json:"streams"`
}

// topFrame reads natsfan and renders one screen.
func topFrame(ctx context.Context, client *http.Client, a topArgs) (string, error) {
	var cz fanout.Connz
	if err := getJSON(ctx, client, a.url+"/connz?sort=lag&subs=1&limit="+strconv.Itoa(a.limit), &cz); err != nil {
		return "", err
	}
	var sz topSubsz
	if err := getJSON(ctx, client, a.url+"/subsz", &sz); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "natsfan at %s (server %s), %s: %d connections, the furthest behind first", a.url, cz.ID, cz.Now.Format("2006-01-02 15:04:05 UTC"), cz.Total)
	if cz.NumConns < cz.Total {
		fmt.Fprintf(&b, " (%d shown)", cz.NumConns)
	}
	b.WriteString("\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tRETAINED\tBYTES\tSEQ\tREADERS\tUPSTREAM\tFURTHEST BEHIND")
	for _, st := range sz.Streams {
		upstream := "-"
		if u := st.Upstream; u != nil {
			upstream = "inactive"
			if u.Active {
				upstream = "active"
			}
			if u.PendingMsgs > 0 {
				upstream += fmt.Sprintf(", %d pending", u.PendingMsgs)
			}
		}
		furthest := "-"
		if f := st.FurthestBehind; f != nil {
			switch {
			case f.InProcess:
				furthest = fmt.Sprintf("in-process %s", f.Subject)
			case f.Queue != "":
				furthest = fmt.Sprintf("queue %s on %s", f.Queue, f.Subject)
			default:
				furthest = fmt.Sprintf("cid %d", f.Cid)
				if f.Name != "" {
					furthest += " " + f.Name
				}
			}
			furthest += fmt.Sprintf(": %d msgs, %s", f.LagMsgs, humanBytes(f.LagBytes))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d-%d\t%d\t%s\t%s\n", st.Subject, st.Messages, humanBytes(st.Bytes),
			st.FirstSeq, st.LastSeq, st.Readers, upstream, furthest)
	}
	tw.Flush()
	b.WriteString("\n")

	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CID\tNAME\tLANG\tVERSION\tSUBS\tLAG MSGS\tLAG BYTES\tPENDING\tMSGS OUT\tBYTES OUT\tIDLE\tUPTIME\tSUBJECTS")
	for _, c := range cz.Conns {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			c.Cid, orDash(c.Name), orDash(c.Lang), orDash(c.Version), c.NumSubs, c.LagMsgs, humanBytes(c.LagBytes),
			humanBytes(uint64(c.Pending)), c.OutMsgs, humanBytes(uint64(c.OutBytes)), c.Idle, c.Uptime, subjectsOf(c.Subs))
	}
	tw.Flush()
	return b.String(), nil
}

// getJSON decodes the JSON answer of a GET of u into v, or says why it
// cannot.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach natsfan at %s: %v (is natsfan running, and is --url or NATSFAN_HTTP_ADDR right?)", u, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cannot read natsfan's answer to %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("natsfan answered %s to %s: %s", resp.Status, u, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("natsfan's answer to %s is not what natsfan top reads (is --url natsfan's HTTP server?): %v", u, err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// subjectsOf lists a connection's subjects, at most three and a count.
func subjectsOf(subs []string) string {
	const most = 3
	if len(subs) == 0 {
		return "-"
	}
	if len(subs) <= most {
		return strings.Join(subs, " ")
	}
	return fmt.Sprintf("%s +%d", strings.Join(subs[:most], " "), len(subs)-most)
}

// humanBytes writes n in B, KiB, MiB or GiB, with one decimal above B.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + suffix
}
