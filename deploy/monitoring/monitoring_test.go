package monitoring

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The files under test, in deploy/monitoring.
const (
	rulesFile     = "alerts.yaml"
	operatorFile  = "prometheusrule.yaml"
	dashboardFile = "dashboard.json"
)

var update = flag.Bool("update", false, "rewrite "+operatorFile+" from "+rulesFile)

func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	return ReadmeAnchors(data)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRulesFile_PassesEveryCheck(t *testing.T) {
	for _, p := range CheckRulesFile(rulesFile, readFile(t, rulesFile), exported, readmeAnchors(t)) {
		t.Error(p)
	}
}

func TestDashboard_PassesEveryCheck(t *testing.T) {
	for _, p := range CheckDashboardFile(dashboardFile, readFile(t, dashboardFile), exported) {
		t.Error(p)
	}
}

// TestPrometheusRule_HoldsTheRulesFile keeps prometheusrule.yaml in step
// with alerts.yaml; go test -run PrometheusRule -update rewrites it.
func TestPrometheusRule_HoldsTheRulesFile(t *testing.T) {
	rules := readFile(t, rulesFile)
	if *update {
		if err := os.WriteFile(operatorFile, PrometheusRuleFor(rules), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range CheckPrometheusRule(rulesFile, rules, operatorFile, readFile(t, operatorFile)) {
		t.Error(p)
	}
	// And what -update writes passes too.
	for _, p := range CheckPrometheusRule(rulesFile, rules, "generated", PrometheusRuleFor(rules)) {
		t.Error(p)
	}
}

// TestNamesInSource_AgreesWithTheBinary checks the second source of
// natsfan's metric names against the first: every natsfan_ family the
// binary serves must be found in its source, or the source parser has gone
// blind and a metric with no sample in a fresh process would be missed.
func TestNamesInSource_AgreesWithTheBinary(t *testing.T) {
	if len(declared) < 10 {
		t.Errorf("NamesInSource found only %v in %s", declared, natsfanPkg)
	}
	for _, n := range scraped {
		if strings.HasPrefix(n, "natsfan_") && !slices.Contains(declared, n) {
			t.Errorf("natsfan serves %s, which NamesInSource does not find in %s", n, natsfanPkg)
		}
	}
	for _, n := range declared {
		if !slices.Contains(scraped, n) {
			t.Logf("%s is declared but has no sample in a fresh natsfan; known from the source alone", n)
		}
	}
	for _, n := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds_count"} {
		if !exported[n] {
			t.Errorf("natsfan does not serve %s, which the Go and process collectors export", n)
		}
	}
}

// TestExternal_IsShortAndUsed keeps the allowlist of other exporters'
// metrics to what the files use, and free of natsfan's own.
func TestExternal_IsShortAndUsed(t *testing.T) {
	all := string(readFile(t, rulesFile)) + string(readFile(t, dashboardFile))
	for name, whose := range External {
		if exported[name] {
			t.Errorf("External lists %s (%s), which natsfan exports itself", name, whose)
		}
		if !strings.Contains(all, name) {
			t.Errorf("External lists %s (%s), which neither %s nor %s uses", name, whose, rulesFile, dashboardFile)
		}
	}
}

func TestNamesInExposition_AddsTheSeriesOfSummariesAndHistograms(t *testing.T) {
	text := "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n" +
		"# TYPE b_seconds summary\nb_seconds{quantile=\"0.5\"} 0\nb_seconds_sum 0\nb_seconds_count 0\n" +
		"# TYPE c_seconds histogram\n"
	got, err := NamesInExposition(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a_total", "b_seconds", "b_seconds_sum", "b_seconds_count", "c_seconds", "c_seconds_sum", "c_seconds_count", "c_seconds_bucket"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestReadmeAnchors_AreGitHubs(t *testing.T) {
	md := "# natsfan\n## Run it: `go run`\n```sh\n# not a heading\n```\n### Alerts\n#### Alerts\n#### NatsfanSlowConsumers\n"
	got := ReadmeAnchors([]byte(md))
	for _, a := range []string{"natsfan", "run-it-go-run", "alerts", "alerts-1", "natsfanslowconsumers"} {
		if !got[a] {
			t.Errorf("no anchor %q in %v", a, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("a comment in a code block made an anchor")
	}
}

// TestRejects runs the checks on the deliberately broken files in
// testdata/reject. Each directory holds one or more of alerts.yaml,
// dashboard.json and prometheusrule.yaml, standing in for the real one,
// and a file named want listing, one a line, "check: text" for a problem
// that must be found. Every problem found must be of a check want names:
// a broken example shows that its check, not another, catches it.
func TestRejects(t *testing.T) {
	dirs, err := filepath.Glob("testdata/reject/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/reject: %v", err)
	}
	anchors := readmeAnchors(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			pick := func(name string) (string, []byte, bool) {
				p := filepath.Join(dir, name)
				if data, err := os.ReadFile(p); err == nil {
					return p, data, true
				}
				return name, readFile(t, name), false
			}
			rf, rules, ownRules := pick(rulesFile)
			df, dash, ownDash := pick(dashboardFile)
			of, operator, ownOperator := pick(operatorFile)
			if !ownRules && !ownDash && !ownOperator {
				t.Fatalf("%s replaces none of %s, %s, %s", dir, rulesFile, dashboardFile, operatorFile)
			}
			found := CheckRulesFile(rf, rules, exported, anchors)
			found = append(found, CheckDashboardFile(df, dash, exported)...)
			if ownOperator {
				found = append(found, CheckPrometheusRule(rf, rules, of, operator)...)
			}
			wants := readWant(t, dir)
			for _, w := range wants {
				if !slices.ContainsFunc(found, func(p Problem) bool {
					return p.Check == w.check && strings.Contains(p.String(), w.text)
				}) {
					t.Errorf("no %s problem with %q; found:\n%s", w.check, w.text, list(found))
				}
			}
			for _, p := range found {
				if !slices.ContainsFunc(wants, func(w want) bool { return w.check == p.Check }) {
					t.Errorf("unexpected %s problem: %s", p.Check, p)
				}
			}
			t.Logf("found:\n%s", list(found))
		})
	}
}

func TestRejects_CoverEveryCheck(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/reject/*")
	covered := map[string]bool{}
	for _, dir := range dirs {
		for _, w := range readWant(t, dir) {
			covered[w.check] = true
		}
	}
	for _, check := range AllChecks {
		if !covered[check] {
			t.Errorf("no testdata/reject case expects a %q problem: nothing shows that check can fail", check)
		}
	}
}

type want struct{ check, text string }

func readWant(t *testing.T, dir string) []want {
	t.Helper()
	var out []want
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(dir, "want"))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		check, text, ok := strings.Cut(line, ": ")
		if !ok || !slices.Contains(AllChecks, check) {
			t.Fatalf("%s/want: %q is not \"check: text\" with a known check", dir, line)
		}
		out = append(out, want{check, text})
	}
	if len(out) == 0 {
		t.Fatalf("%s/want expects nothing", dir)
	}
	return out
}

func list(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// TestDashboard_ShowsWhatAnOperatorNeeds pins the metrics the dashboard must
// chart (issue 13), which also shows that CheckDashboardFile sees its
// queries: a dashboard whose panels it could not read would pass it.
func TestDashboard_ShowsWhatAnOperatorNeeds(t *testing.T) {
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			walk(p.Panels)
			for _, q := range p.Targets {
				expr, err := parseQuery(q.Expr)
				if err != nil {
					t.Fatalf("panel %q: %v", p.Title, err)
				}
				names, _ := selectedMetrics(expr)
				for _, n := range names {
					used[n] = true
				}
			}
		}
	}
	walk(d.Panels)
	for _, n := range []string{
		"natsfan_upstream_connected", "natsfan_upstream_reconnects_total", "natsfan_upstream_disconnects_total",
		"natsfan_messages_received_total", "natsfan_messages_delivered_total", "natsfan_messages_dropped_total",
		"natsfan_slow_consumers_total", "natsfan_consumers", "natsfan_socket_connections",
		"natsfan_consumer_lag_max_messages", "natsfan_consumer_lag_max_bytes", "natsfan_socket_limit",
		"natsfan_buffer_messages", "natsfan_buffer_bytes", "natsfan_ingest_pending_messages",
		"natsfan_socket_connections_closed_total", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes",
		"go_gc_gomemlimit_bytes", "kube_pod_container_resource_limits",
	} {
		if !used[n] {
			t.Errorf("no panel charts %s", n)
		}
	}
}
