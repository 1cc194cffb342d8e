package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"
	"time"
)

// printTable writes results as an aligned table: the paced (latency) phase,
// then the burst (throughput) phase with the upstream's egress and the leaf
// node's or sidecar's CPU per million deliveries in it, then the peak RSS
// and the consumers cut off over the cell, and why (the last column, left
// as it is so that lines have no trailing blanks).
func printTable(w io.Writer, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tN\tsize\tpaced msgs/s\tp50\tp99\tp99.9\tpaced lost\tburst msgs\tdeliveries/s\tburst lost\tburst p99\tegress B/msg\tcopies\tCPU s/M\tpeak RSS\tcut off\t  why")
	for _, r := range results {
		why := r.Why
		if why != "" {
			why = "  " + why
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%.0f\t%.2f\t%s\t%s\t%d\t%s\n",
			r.Mode, r.N, sizeName(r.Size),
			r.PacedRate, durString(r.P50), durString(r.P99), durString(r.P999), r.PacedLost,
			r.Messages, rateString(r.Rate), r.Lost, durString(r.BurstP99),
			r.EgressPerMsg, r.Copies, cpuString(r.CPUPerM), mibString(r.PeakRSS), r.CutOff, why)
	}
	return tw.Flush()
}

// printPublishTable writes the publish section's results: what the
// publishers published and the receiver got, the rate at the receiver (and
// at the publishers, until their Flush returned), the connections the
// upstream served for them, the leaf node's or sidecar's CPU per million
// messages and peak RSS, and what went wrong.
func printPublishTable(w io.Writer, results []pubResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tpublishers\tsize\tpublished\treached upstream\treceived\tlost\tout of order\treceived msgs/s\truns' range\tpublished msgs/s\tupstream conns\tCPU s/M\tpeak RSS\t  why")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s – %s\t%s\t%d\t%s\t%s\t%s\n",
			r.Mode, r.N, sizeName(r.Size), r.Published, r.ReachedUpstream, r.Received, r.Lost, r.Reordered,
			rateString(r.Rate), rateString(r.RateRange[0]), rateString(r.RateRange[1]), rateString(r.PubRate), r.Upstream, cpuString(r.CPUPerM), mibString(r.PeakRSS), whyColumn(r.Why))
	}
	return tw.Flush()
}

// printRequestTable writes the request section's results: requests
// answered and failed, round trips per second, their latency, and the leaf
// node's or sidecar's CPU per round trip and peak RSS.
func printRequestTable(w io.Writer, results []reqResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tinbox\tsize\trequests\tanswered\tfailed\tround trips/s\tp50\tp99\truns' range\tp99.9\tCPU µs/req\tpeak RSS\t  why")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s – %s\t%s\t%s\t%s\t%s\n",
			r.Mode, r.Style, sizeName(r.Size), r.Requests, r.Answered, r.Failed, rateString(r.Rate),
			durString(r.P50), durString(r.P99), durString(r.P99Range[0]), durString(r.P99Range[1]), durString(r.P999), cpuPerReqString(r.CPUPerReq), mibString(r.PeakRSS), whyColumn(r.Why))
	}
	return tw.Flush()
}

// whyColumn is the last column of a table: left as it is, so that lines
// have no trailing blanks.
func whyColumn(why string) string {
	if why == "" {
		return ""
	}
	return "  " + why
}

func cpuPerReqString(d time.Duration) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(d)/1e3)
}

// printIdle writes the idle-memory results.
func printIdle(w io.Writer, idle []idleResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "idle socket consumers\tsidecar RSS\tpeak RSS\t")
	for _, r := range idle {
		fmt.Fprintf(tw, "%d\t%s\t%s\t\n", r.Consumers, mibString(r.RSS), mibString(r.PeakRSS))
	}
	return tw.Flush()
}

// writeCSV writes results to path, with raw numbers: nanoseconds, bytes,
// empty for n/a.
func writeCSV(path string, results []result) error {
	rows := [][]string{{"mode", "n", "size_bytes", "messages", "delivered", "lost", "deliveries_per_s",
		"burst_p99_ns", "paced_rate", "paced_messages", "paced_lost", "p50_ns", "p99_ns", "p999_ns", "cut_off_consumers", "cut_off_why",
		"egress_bytes_per_msg", "egress_copies", "cpu_s_per_million", "peak_rss_bytes"}}
	for _, r := range results {
		rows = append(rows, []string{r.Mode, itoa(r.N), itoa(r.Size), itoa(r.Messages),
			i64(r.Delivered), i64(r.Lost), ftoa(r.Rate), i64(int64(r.BurstP99)),
			ftoa(r.PacedRate), itoa(r.PacedMessages), i64(r.PacedLost),
			i64(int64(r.P50)), i64(int64(r.P99)), i64(int64(r.P999)), itoa(r.CutOff), r.Why,
			ftoa(r.EgressPerMsg), ftoa(r.Copies), ftoa(r.CPUPerM), optI64(r.PeakRSS)})
	}
	return writeRows(path, rows)
}

// writePublishCSV writes the publish section's results to path, with raw
// numbers: bytes, empty for n/a.
func writePublishCSV(path string, results []pubResult) error {
	rows := [][]string{{"mode", "publishers", "size_bytes", "published", "reached_upstream", "received", "lost", "out_of_order",
		"received_per_s", "received_per_s_lowest", "received_per_s_highest", "published_per_s", "upstream_connections", "cpu_s_per_million", "peak_rss_bytes", "why"}}
	for _, r := range results {
		rows = append(rows, []string{r.Mode, itoa(r.N), itoa(r.Size), i64(r.Published), i64(r.ReachedUpstream), i64(r.Received), i64(r.Lost), i64(r.Reordered),
			ftoa(r.Rate), ftoa(r.RateRange[0]), ftoa(r.RateRange[1]), ftoa(r.PubRate), itoa(r.Upstream), ftoa(r.CPUPerM), optI64(r.PeakRSS), r.Why})
	}
	return writeRows(path, rows)
}

// writeRequestCSV writes the request section's results to path, with raw
// numbers: nanoseconds, bytes, empty for n/a.
func writeRequestCSV(path string, results []reqResult) error {
	rows := [][]string{{"mode", "inbox", "size_bytes", "requests", "answered", "failed", "round_trips_per_s",
		"p50_ns", "p99_ns", "p99_lowest_ns", "p99_highest_ns", "p999_ns", "cpu_ns_per_request", "peak_rss_bytes", "why"}}
	for _, r := range results {
		rows = append(rows, []string{r.Mode, r.Style, itoa(r.Size), itoa(r.Requests), itoa(r.Answered), itoa(r.Failed),
			ftoa(r.Rate), i64(int64(r.P50)), i64(int64(r.P99)), i64(int64(r.P99Range[0])), i64(int64(r.P99Range[1])), i64(int64(r.P999)), optI64(int64(r.CPUPerReq)), optI64(r.PeakRSS), r.Why})
	}
	return writeRows(path, rows)
}

// writeIdleCSV writes the idle-memory results to path.
func writeIdleCSV(path string, idle []idleResult) error {
	rows := [][]string{{"idle_consumers", "rss_bytes", "peak_rss_bytes"}}
	for _, r := range idle {
		rows = append(rows, []string{itoa(r.Consumers), i64(r.RSS), i64(r.PeakRSS)})
	}
	return writeRows(path, rows)
}

func writeRows(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func itoa(n int) string  { return strconv.Itoa(n) }
func i64(n int64) string { return strconv.FormatInt(n, 10) }
func optI64(n int64) string {
	if n == 0 {
		return ""
	}
	return i64(n)
}

func ftoa(f float64) string {
	if math.IsNaN(f) {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func sizeName(size int) string {
	if size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

func rateString(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2f M", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1f k", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func durString(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func cpuString(f float64) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", f)
}

func mibString(b int64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
