package validate

import "fmt"

// Checks, the names a Problem carries: each is one property the deployment
// files must have. Every check has a deliberately broken manifest in
// testdata/reject that it must catch.
const (
	CheckRender    = "render"    // the kustomization builds
	CheckDecode    = "decode"    // every object decodes strictly into its API type
	CheckVariables = "variables" // every NATSFAN_ variable exists, and is set once
	CheckConfig    = "config"    // natsfan accepts the configuration
	CheckSecrets   = "secrets"   // secrets reach natsfan as files it can read, and only natsfan
	CheckProbes    = "probes"    // /readyz and /livez, on natsfan's HTTP port
	CheckPorts     = "ports"     // the HTTP port is the only port, and the only one let in
	CheckSidecar   = "sidecar"   // natsfan starts before the application, or the application waits
	CheckSecurity  = "security"  // non-root, read-only root, no privilege escalation, no capabilities
	CheckSocket    = "socket"    // the socket is on a volume shared, at the same path, with the application
	CheckShutdown  = "shutdown"  // natsfan's shutdown fits in the grace period
	CheckResources = "resources" // requests and limits cover the configured buffers; GOMEMLIMIT below the limit
	CheckImage     = "image"     // an applied overlay names a pinned image
)

// AllChecks lists every check, for tests that must cover each of them.
var AllChecks = []string{
	CheckRender, CheckDecode, CheckVariables, CheckConfig, CheckSecrets, CheckProbes, CheckPorts,
	CheckSidecar, CheckSecurity, CheckSocket, CheckShutdown, CheckResources, CheckImage,
}

// A Problem is one way in which the deployment files are wrong.
type Problem struct {
	Check  string // one of the Check constants
	Where  string // the file, object or container concerned
	Detail string // what is wrong, and what would be right
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s [%s]", p.Where, p.Detail, p.Check) }

// problems collects Problems.
type problems []Problem

func (ps *problems) addf(check, where, format string, args ...any) {
	*ps = append(*ps, Problem{Check: check, Where: where, Detail: fmt.Sprintf(format, args...)})
}
