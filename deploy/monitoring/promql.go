package monitoring

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promQL parses expressions as a Prometheus server does by default: no
// experimental functions or syntax.
var promQL = parser.NewParser(parser.Options{})

// checkMetrics adds a problem for every selector of expr that names no
// metric, or one that is neither exported nor in External.
func checkMetrics(ps *problems, where string, expr parser.Expr, exported Exported) {
	names, unnamed := selectedMetrics(expr)
	for _, s := range unnamed {
		ps.addf(CheckMetrics, where, "%s names no metric (a regular expression on __name__ cannot be checked); name the metric", s)
	}
	for _, name := range names {
		if !exported[name] && External[name] == "" {
			ps.addf(CheckMetrics, where, "%s is not a metric natsfan exports, nor one of External", name)
		}
	}
}

// selectedMetrics returns the metric names expr's selectors name, and the
// selectors that name none.
func selectedMetrics(expr parser.Expr) (names, unnamed []string) {
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			unnamed = append(unnamed, vs.String())
		} else {
			names = append(names, name)
		}
		return nil
	})
	return names, unnamed
}
