package monitoring

import (
	"bytes"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// prometheusRule is the part of a prometheus-operator PrometheusRule this
// package reads; decoding is strict, so a misspelt field is an error.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Groups []any `json:"groups"`
	} `json:"spec"`
}

// CheckPrometheusRule checks that the PrometheusRule in crData (crFile)
// holds exactly the rule groups of the rules file in rulesData, so that
// clusters with prometheus-operator and those without get the same alerts.
func CheckPrometheusRule(rulesFile string, rulesData []byte, crFile string, crData []byte) []Problem {
	var ps problems
	var cr prometheusRule
	if err := yaml.UnmarshalStrict(crData, &cr); err != nil {
		ps.addf(CheckOperator, crFile, "%v", err)
		return ps
	}
	if cr.APIVersion != "monitoring.coreos.com/v1" || cr.Kind != "PrometheusRule" {
		ps.addf(CheckOperator, crFile, "is a %s %s; want a monitoring.coreos.com/v1 PrometheusRule", cr.APIVersion, cr.Kind)
	}
	if cr.Metadata.Name == "" {
		ps.addf(CheckOperator, crFile, "has no metadata.name")
	}
	var rules struct {
		Groups []any `json:"groups"`
	}
	if err := yaml.Unmarshal(rulesData, &rules); err != nil {
		ps.addf(CheckOperator, rulesFile, "%v", err)
		return ps
	}
	if !reflect.DeepEqual(cr.Spec.Groups, rules.Groups) {
		ps.addf(CheckOperator, crFile, "spec.groups differ from the groups of %s; copy them over", rulesFile)
	}
	return ps
}

// operatorHeader opens the PrometheusRule that PrometheusRuleFor writes.
const operatorHeader = `# The alerting rules of alerts.yaml as a prometheus-operator PrometheusRule.
# Generated: edit alerts.yaml, then run, in deploy/,
#   go test ./monitoring -run PrometheusRule -update
# prometheus-operator loads the PrometheusRules its Prometheus's ruleSelector
# matches (kube-prometheus-stack's matches the label release: <Helm release>):
# add the labels yours needs, e.g. with a kustomize patch.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: natsfan
  labels:
    app.kubernetes.io/name: natsfan
    app.kubernetes.io/component: monitoring
spec:
`

// PrometheusRuleFor returns a PrometheusRule holding the groups of the
// rules file rules: its lines from "groups:" on, comments included,
// indented under spec.
func PrometheusRuleFor(rules []byte) []byte {
	var b bytes.Buffer
	b.WriteString(operatorHeader)
	in := false
	for _, line := range strings.SplitAfter(string(rules), "\n") {
		in = in || strings.HasPrefix(line, "groups:")
		switch {
		case !in:
		case strings.TrimSpace(line) == "":
			b.WriteString(strings.TrimLeft(line, " \t"))
		default:
			b.WriteString("  " + line)
		}
	}
	return b.Bytes()
}
