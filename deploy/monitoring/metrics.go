package monitoring

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Exported is the set of series names natsfan exports.
type Exported map[string]bool

// External lists the other exporters' metrics the monitoring files may name,
// and whose they are. They are not natsfan's: a query that uses one shows
// nothing where that exporter is not scraped. Keep it short.
var External = map[string]string{
	"kube_pod_container_resource_limits": "kube-state-metrics, the containers' resource limits",
}

// NamesInExposition returns the series names a Prometheus text exposition
// (what /metrics serves) lists: the family of every # TYPE line, and for a
// summary or a histogram also its _sum and _count series (and _bucket). A
// family is listed whether or not it has samples.
func NamesInExposition(text string) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("monitoring: malformed TYPE line %q", sc.Text())
		}
		name := f[2]
		names = append(names, name)
		switch f[3] {
		case "summary":
			names = append(names, name+"_sum", name+"_count")
		case "histogram", "gaugehistogram":
			names = append(names, name+"_sum", name+"_count", name+"_bucket")
		}
	}
	return names, sc.Err()
}

// NamesInSource returns the metric names natsfan's Go source in dir (the
// cmd/natsfan package) declares: the first argument of every metricDesc
// call, with the natsfan_ prefix metricDesc adds, and the Name of every
// prometheus.CounterOpts, GaugeOpts… literal. Only string literals are
// understood; a name built otherwise is an error, so that nothing is
// missed silently.
func NamesInSource(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var names []string
	var bad []string
	literal := func(e ast.Expr) (string, bool) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		bad = append(bad, fset.Position(e.Pos()).String())
		return "", false
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "metricDesc" && len(n.Args) > 0 {
					if s, ok := literal(n.Args[0]); ok {
						names = append(names, "natsfan_"+s)
					}
				}
			case *ast.CompositeLit:
				sel, ok := n.Type.(*ast.SelectorExpr)
				if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Name" {
							if s, ok := literal(kv.Value); ok {
								names = append(names, s)
							}
						}
					}
				}
			}
			return true
		})
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("monitoring: metric names that are not string literals, at %s", strings.Join(bad, ", "))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
