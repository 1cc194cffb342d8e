package monitoring

import (
	"bufio"
	"bytes"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// RunbookBase is where every alert's runbook_url points: a heading of the
// README, as GitHub renders it.
const RunbookBase = "https://github.com/natsfan/natsfan/blob/main/README.md#"

// severities are the values an alert's severity label may take.
var severities = []string{"critical", "warning", "info"}

// CheckRulesFile checks a Prometheus rules file (file names it in problems): it
// must load as Prometheus loads it, every alert must say how bad it is, what
// it means and where its runbook is (one of anchors, the README's), and
// every metric it selects must be one natsfan exports.
func CheckRulesFile(file string, data []byte, exported Exported, anchors map[string]bool) []Problem {
	var ps problems
	// Legacy metric and label names: what loads there loads on Prometheus 2
	// and 3 alike.
	groups, errs := rulefmt.Parse(data, false, model.LegacyValidation, promQL, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		ps.addf(CheckRules, file, "%v", err)
	}
	if groups == nil {
		return ps
	}
	if len(groups.Groups) == 0 {
		ps.addf(CheckRules, file, "holds no rule groups")
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			where := file + ": group " + strconv.Quote(g.Name) + ", alert " + r.Alert
			if r.Record != "" {
				where = file + ": group " + strconv.Quote(g.Name) + ", record " + r.Record
			}
			if expr, err := promQL.ParseExpr(r.Expr); err == nil { // rulefmt reported the error
				checkMetrics(&ps, where, expr, exported)
			}
			if r.Alert == "" {
				continue
			}
			if !slices.Contains(severities, r.Labels["severity"]) {
				ps.addf(CheckAlerts, where, "label severity is %q; want one of %v, which Alertmanager routes on", r.Labels["severity"], severities)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					ps.addf(CheckAlerts, where, "has no %s annotation", a)
				}
			}
			runbook := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(runbook, RunbookBase)
			switch {
			case runbook == "":
				ps.addf(CheckRunbook, where, "has no runbook_url annotation; point it at the alert's entry in the README (%s…)", RunbookBase)
			case !ok:
				ps.addf(CheckRunbook, where, "runbook_url %q is not in the README (%s…)", runbook, RunbookBase)
			case !anchors[anchor]:
				ps.addf(CheckRunbook, where, "runbook_url %q: the README has no heading with the anchor #%s", runbook, anchor)
			}
		}
	}
	return ps
}

// ReadmeAnchors returns the anchors GitHub gives the headings of a Markdown
// file: the heading's text in lower case, without punctuation, spaces made
// hyphens, and -1, -2… appended to repeats. Lines in fenced code blocks are
// not headings.
func ReadmeAnchors(md []byte) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		m := heading.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		a := slug(m[1])
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

var heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)

// slug makes a heading's text into its anchor, as GitHub does.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}
