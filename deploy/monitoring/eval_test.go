package monitoring

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// The alerts' expressions, evaluated by Prometheus's query engine on series
// shaped like natsfan's: each alert fires on what it is meant for, and not
// on what looks like it. A join that matches nothing, or matches too much,
// parses; only evaluating it shows.

// A scrape target's labels, as Kubernetes service discovery gives them.
const (
	podA = `job="natsfan", instance="10.0.0.1:8422", namespace="shop", pod="orders-1"`
	podB = `job="natsfan", instance="10.0.0.2:8422", namespace="shop", pod="orders-2"`
	appA = `job="app", instance="10.0.0.1:8080", namespace="shop", pod="orders-1"` // the application, in pod A
	ksm  = `job="kube-state-metrics", instance="10.0.9.9:8080", namespace="shop"`
)

func TestAlert_NatsfanUpstreamDisconnected(t *testing.T) {
	got := evalAlert(t, "NatsfanUpstreamDisconnected", 10*time.Minute,
		sample(`natsfan_upstream_connected{`+podA+`}`, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		sample(`natsfan_upstream_connected{`+podB+`}`, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	)
	wantResult(t, got, result{`{` + podA + `}`, 0})
}

func TestAlert_NatsfanSlowConsumers(t *testing.T) {
	got := evalAlert(t, "NatsfanSlowConsumers", 10*time.Minute,
		sample(`natsfan_socket_connections_closed_total{`+podA+`, reason="slow_consumer"}`, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2),
		sample(`natsfan_socket_connections_closed_total{`+podA+`, reason="client_closed"}`, 0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50),
		sample(`natsfan_socket_connections_closed_total{`+podB+`, reason="slow_consumer"}`, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3),
	)
	wantResult(t, got, result{`{` + podA + `, reason="slow_consumer"}`, math.NaN()})
}

func TestAlert_NatsfanMessagesDropped(t *testing.T) {
	got := evalAlert(t, "NatsfanMessagesDropped", 10*time.Minute,
		sample(`natsfan_messages_dropped_total{`+podA+`, stream="orders.>", reason="upstream_pending_limit"}`, 0, 0, 0, 0, 0, 100, 100, 100, 100, 100, 100),
		sample(`natsfan_messages_dropped_total{`+podA+`, stream="orders.>", reason="consumer_skipped"}`, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7),
	)
	wantResult(t, got, result{`{` + podA + `, stream="orders.>", reason="upstream_pending_limit"}`, math.NaN()})
}

// The memory alert compares natsfan's RSS, not the application's in the
// same pod, with natsfan's container limit, not the application's, and
// does not fail when two kube-state-metrics report the same limit.
func TestAlert_NatsfanMemoryNearLimit(t *testing.T) {
	const mi = 1 << 20
	got := evalAlert(t, "NatsfanMemoryNearLimit", 0,
		sample(`natsfan_build_info{`+podA+`, version="v1"}`, 1),
		sample(`natsfan_build_info{`+podB+`, version="v1"}`, 1),
		sample(`process_resident_memory_bytes{`+podA+`}`, 180*mi),
		sample(`process_resident_memory_bytes{`+podB+`}`, 100*mi),
		sample(`process_resident_memory_bytes{`+appA+`}`, 900*mi),
		sample(`kube_pod_container_resource_limits{`+ksm+`, pod="orders-1", container="natsfan", resource="memory", unit="byte"}`, 192*mi),
		sample(`kube_pod_container_resource_limits{job="kube-state-metrics", instance="10.0.9.10:8080", namespace="shop", pod="orders-1", container="natsfan", resource="memory", unit="byte"}`, 192*mi),
		sample(`kube_pod_container_resource_limits{`+ksm+`, pod="orders-1", container="app", resource="memory", unit="byte"}`, 1024*mi),
		sample(`kube_pod_container_resource_limits{`+ksm+`, pod="orders-1", container="natsfan", resource="cpu", unit="core"}`, 1),
		sample(`kube_pod_container_resource_limits{`+ksm+`, pod="orders-2", container="natsfan", resource="memory", unit="byte"}`, 192*mi),
	)
	wantResult(t, got, result{`{` + podA + `}`, 180.0 / 192})
}

// The lag alert divides each stream's lag by the limit of its own pod,
// ignores a lag limit of 0 (none), and fires on either messages or bytes.
func TestAlert_NatsfanConsumerLagging(t *testing.T) {
	got := evalAlert(t, "NatsfanConsumerLagging", 0,
		sample(`natsfan_socket_limit{`+podA+`, limit="max_lag_messages"}`, 100000),
		sample(`natsfan_socket_limit{`+podA+`, limit="max_lag_bytes"}`, 32*(1<<20)),
		sample(`natsfan_socket_limit{`+podB+`, limit="max_lag_messages"}`, 0),
		sample(`natsfan_socket_limit{`+podB+`, limit="max_lag_bytes"}`, 1000),
		sample(`natsfan_consumer_lag_max_messages{`+podA+`, stream="orders.>"}`, 90000),
		sample(`natsfan_consumer_lag_max_bytes{`+podA+`, stream="orders.>"}`, 1000),
		sample(`natsfan_consumer_lag_max_messages{`+podA+`, stream="prices.*"}`, 10),
		sample(`natsfan_consumer_lag_max_bytes{`+podA+`, stream="prices.*"}`, 30*(1<<20)),
		sample(`natsfan_consumer_lag_max_messages{`+podA+`, stream="audit"}`, 10),
		sample(`natsfan_consumer_lag_max_bytes{`+podA+`, stream="audit"}`, 10),
		sample(`natsfan_consumer_lag_max_messages{`+podB+`, stream="orders.>"}`, 5000000),
		sample(`natsfan_consumer_lag_max_bytes{`+podB+`, stream="orders.>"}`, 100),
	)
	wantResult(t, got,
		result{`{` + podA + `, stream="orders.>"}`, 0.9},
		result{`{` + podA + `, stream="prices.*"}`, 30.0 / 32},
	)
}

// testSeries is one series of a test: its labels, and a value a minute
// from time 0.
type testSeries struct {
	labels labels.Labels
	values []float64
}

func sample(metric string, values ...float64) testSeries {
	lbls, err := promQL.ParseMetric(metric)
	if err != nil {
		panic(err)
	}
	return testSeries{lbls, values}
}

// result is an expected element of an alert's result; a NaN value is not
// compared.
type result struct {
	labels string
	value  float64
}

// evalAlert evaluates the expression of alerts.yaml's alert name at time at,
// on data.
func evalAlert(t *testing.T, name string, at time.Duration, data ...testSeries) promql.Vector {
	t.Helper()
	groups, errs := rulefmt.Parse(readFile(t, rulesFile), false, model.LegacyValidation, promQL, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var expr string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				expr = r.Expr
			}
		}
	}
	if expr == "" {
		t.Fatalf("%s has no alert %s", rulesFile, name)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	q, err := engine.NewInstantQuery(context.Background(), queryable(data), nil, expr, time.Unix(0, 0).Add(at))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", name, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantResult(t *testing.T, got promql.Vector, want ...result) {
	t.Helper()
	var gotLabels []string
	for _, s := range got {
		// An alert's labels are its result's, without the metric name.
		gotLabels = append(gotLabels, labels.NewBuilder(s.Metric).Del(model.MetricNameLabel).Labels().String())
	}
	for _, w := range want {
		wl, err := promQL.ParseMetric(w.labels)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(gotLabels, wl.String())
		switch {
		case i < 0:
			t.Errorf("no %s in the result %v", wl, got)
		case !math.IsNaN(w.value) && math.Abs(got[i].F-w.value) > 1e-9:
			t.Errorf("%s = %v, want %v", wl, got[i].F, w.value)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the result has %d elements, want %d: %v", len(got), len(want), got)
	}
}

// queryable serves data to the query engine.
func queryable(data []testSeries) storage.Queryable {
	return &storage.MockQueryable{MockQuerier: &storage.MockQuerier{
		SelectMockFunction: func(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
			var set seriesSet
			for _, d := range data {
				if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches(d.labels.Get(m.Name)) }) {
					var samples []chunks.Sample
					for i, v := range d.values {
						samples = append(samples, floatSample{t: int64(i) * time.Minute.Milliseconds(), f: v})
					}
					set.series = append(set.series, storage.NewListSeries(d.labels, samples))
				}
			}
			slices.SortFunc(set.series, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
			return &set
		},
	}}
}

type seriesSet struct {
	series []storage.Series
	next   int
}

func (s *seriesSet) Next() bool                        { s.next++; return s.next <= len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.next-1] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }
