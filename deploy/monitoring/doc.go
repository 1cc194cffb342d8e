// Package monitoring checks natsfan's monitoring files against the natsfan
// binary whose metrics they query, the way package validate checks the
// deployment files:
//
//   - alerts.yaml, the Prometheus alerting rules: the file loads with
//     Prometheus' own rule parser (rulefmt, which also parses every
//     expression with the PromQL parser and every annotation as a template),
//     and every alert has a severity, a summary, a description and a
//     runbook_url that points at a heading of the README;
//   - prometheusrule.yaml, the same rules as a prometheus-operator
//     PrometheusRule: its groups are those of alerts.yaml;
//   - dashboard.json, the Grafana dashboard: every query, and every template
//     variable's query, parses as PromQL, and every panel asks the
//     dashboard's Prometheus datasource variable, not a datasource of the
//     cluster it was exported from;
//   - in all of them, every metric a selector names is one natsfan exports,
//     or one of the few other exporters' metrics in External.
//
// natsfan is the authority on its metrics: the tests build cmd/natsfan, run
// it in embedded mode and read the families its /metrics lists, and add the
// natsfan_ names its source declares (NamesInSource), so that a metric with
// no sample in a fresh process is known too. They also evaluate each
// alert's expression with Prometheus' query engine on series shaped like
// natsfan's, since a join that matches nothing, or too much, still parses.
// Nothing here imports natsfan's packages, and Prometheus' libraries stay
// out of natsfan's own module.
package monitoring
