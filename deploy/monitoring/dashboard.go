package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// The parts of a Grafana dashboard this package reads.
type (
	dashboard struct {
		Title      string  `json:"title"`
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []variable `json:"list"`
		} `json:"templating"`
	}
	panel struct {
		ID         int             `json:"id"`
		Title      string          `json:"title"`
		Type       string          `json:"type"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			RefID      string          `json:"refId"`
			Expr       string          `json:"expr"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"targets"`
		Panels []panel `json:"panels"` // a collapsed row's
	}
	variable struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"` // a string, or {"query": "…"}
		Datasource json.RawMessage `json:"datasource"`
	}
)

// CheckDashboardFile checks a Grafana dashboard (file names it in problems):
// it is JSON with a title, a fixed uid (so that importing it again replaces
// it) and panel ids of its own; it has a datasource variable of type prometheus that every panel, query and
// query variable uses, every query parses as PromQL once Grafana's
// variables are replaced, and every metric a query selects is one natsfan
// exports.
func CheckDashboardFile(file string, data []byte, exported Exported) []Problem {
	var ps problems
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		ps.addf(CheckDashboard, file, "not a dashboard: %v", err)
		return ps
	}
	if d.Title == "" || d.UID == "" {
		ps.addf(CheckDashboard, file, "title %q, uid %q: want both, so that importing it again replaces it instead of adding a copy", d.Title, d.UID)
	}
	ids := map[int]string{}
	dsVar := ""
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && queryText(v.Query) == "prometheus" {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		ps.addf(CheckDatasource, file, "has no datasource variable of type prometheus; add one, so that the dashboard imports into any Grafana")
	}
	// usesVar reports whether a datasource reference names the variable:
	// "${ds}", "$ds", or {"type": "prometheus", "uid": "${ds}"}.
	usesVar := func(raw json.RawMessage) bool {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s == "$"+dsVar || s == "${"+dsVar+"}"
		}
		var ref struct{ Type, UID string }
		if json.Unmarshal(raw, &ref) == nil {
			return (ref.Type == "" || ref.Type == "prometheus") && (ref.UID == "$"+dsVar || ref.UID == "${"+dsVar+"}")
		}
		return false
	}

	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("%s: variable %s", file, v.Name)
		if dsVar != "" && !usesVar(v.Datasource) {
			ps.addf(CheckDatasource, where, "datasource %s; want ${%s}", compact(v.Datasource), dsVar)
		}
		if q, ok := variableExpr(queryText(v.Query)); ok {
			checkExpr(&ps, where, q, exported)
		}
	}

	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			if other, ok := ids[p.ID]; ok || p.ID == 0 {
				ps.addf(CheckDashboard, fmt.Sprintf("%s: panel %q", file, p.Title), "id %d, as panel %q: every panel needs an id of its own", p.ID, other)
			}
			ids[p.ID] = p.Title
			walk(p.Panels)
			if p.Type == "row" || len(p.Targets) == 0 {
				continue
			}
			where := fmt.Sprintf("%s: panel %d %q", file, p.ID, p.Title)
			if dsVar != "" && !usesVar(p.Datasource) {
				ps.addf(CheckDatasource, where, "datasource %s; want ${%s}", compact(p.Datasource), dsVar)
			}
			for _, t := range p.Targets {
				where := where + " query " + t.RefID
				if dsVar != "" && len(t.Datasource) > 0 && !usesVar(t.Datasource) {
					ps.addf(CheckDatasource, where, "datasource %s; want ${%s}", compact(t.Datasource), dsVar)
				}
				checkExpr(&ps, where, t.Expr, exported)
			}
		}
	}
	walk(d.Panels)
	return ps
}

// variableExpr returns the PromQL in a query variable's query, which may
// be one of Grafana's functions for Prometheus variables, and false if it
// holds none (label_names(), label_values(label)).
func variableExpr(q string) (string, bool) {
	if m := labelValues.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	if m := queryResult.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	return q, !labelNames.MatchString(q)
}

var (
	labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_]\w*\s*\)\s*$`)
	labelNames  = regexp.MustCompile(`^\s*(label_names\(\)|label_values\(\s*[a-zA-Z_]\w*\s*\))\s*$`)
	queryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
	// grafanaVar matches a use of a Grafana variable: $name, ${name},
	// ${name:format} or [[name]].
	grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]`)
)

// checkExpr checks one query of the dashboard.
func checkExpr(ps *problems, where, q string, exported Exported) {
	if strings.TrimSpace(q) == "" {
		ps.addf(CheckPromQL, where, "has no query")
		return
	}
	expr, err := parseQuery(q)
	if err != nil {
		ps.addf(CheckPromQL, where, "%q does not parse: %v", q, err)
		return
	}
	checkMetrics(ps, where, expr, exported)
}

// parseQuery parses a dashboard query as PromQL, with Grafana's variables
// replaced by values of their kind: an interval for Grafana's intervals, a
// word for the dashboard's own variables (which are meant to be used in
// label matchers' quoted values).
func parseQuery(q string) (parser.Expr, error) {
	expanded := grafanaVar.ReplaceAllStringFunc(q, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		switch sub[1] + sub[2] + sub[3] {
		case "__interval", "__rate_interval", "__range":
			return "5m"
		case "__interval_ms", "__range_ms":
			return "300000"
		case "__range_s":
			return "300"
		}
		return "grafana_variable"
	})
	return promQL.ParseExpr(expanded)
}

// queryText returns a variable's query, which Grafana writes as a string or
// as {"query": "…"}.
func queryText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var q struct{ Query string }
	_ = json.Unmarshal(raw, &q)
	return q.Query
}

// compact returns a datasource reference as one line of JSON.
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "unset"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
