package monitoring

import "fmt"

// Checks, the names a Problem carries. Every check has a deliberately
// broken file in testdata/reject that it must catch.
const (
	CheckRules      = "rules"      // alerts.yaml loads with Prometheus' rule parser, expressions included
	CheckDashboard  = "dashboard"  // dashboard.json is a dashboard with a title, a uid and panel ids of its own
	CheckPromQL     = "promql"     // every dashboard query parses as PromQL
	CheckMetrics    = "metrics"    // every metric a query names is natsfan's, or in External
	CheckAlerts     = "alerts"     // every alert has a severity, a summary and a description
	CheckRunbook    = "runbook"    // every alert's runbook_url points at a heading of the README
	CheckDatasource = "datasource" // the dashboard asks its Prometheus datasource variable
	CheckOperator   = "operator"   // prometheusrule.yaml holds alerts.yaml's groups
)

// AllChecks lists every check, for tests that must cover each of them.
var AllChecks = []string{CheckRules, CheckDashboard, CheckPromQL, CheckMetrics, CheckAlerts, CheckRunbook, CheckDatasource, CheckOperator}

// A Problem is one way in which a monitoring file is wrong.
type Problem struct {
	Check  string // one of the Check constants
	Where  string // the file, and the rule, panel or variable concerned
	Detail string // what is wrong, and what would be right
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s [%s]", p.Where, p.Detail, p.Check) }

// problems collects Problems.
type problems []Problem

func (ps *problems) addf(check, where, format string, args ...any) {
	*ps = append(*ps, Problem{Check: check, Where: where, Detail: fmt.Sprintf(format, args...)})
}
