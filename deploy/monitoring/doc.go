// Package monitoring checks natsfan's monitoring files against the natsfan
// binary whose metrics they query, the way package validate checks the
// deployment files:
//
//   - dashboard.json, the Grafana dashboard: every query, and every template
//     variable's query, parses as PromQL, and every panel asks the
//     dashboard's Prometheus datasource variable, not a datasource of the
//     cluster it was exported from;
//   - every metric a selector names is one natsfan exports,
//     or one of the few other exporters' metrics in External.
//
// natsfan is the authority on its metrics: the tests build cmd/natsfan, run
// it in embedded mode and read the families its /metrics lists, and add the
// natsfan_ names its source declares (NamesInSource), so that a metric with
// no sample in a fresh process is known too. Nothing here imports natsfan's
// packages, and Prometheus' libraries stay out of natsfan's own module.
package monitoring
