package validate

import (
	"fmt"
	"maps"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// natsfanContainer is the name the checks find natsfan's container by.
const natsfanContainer = "natsfan"

// Options say what a kustomization is for.
type Options struct {
	// Applied marks a kustomization meant for kubectl apply -k (an
	// overlay), whose image must be pinned; a base leaves that to overlays.
	Applied bool
}

// CheckKustomization checks the files of the kustomization in dir, renders
// it and checks what it renders. It returns every problem found.
func CheckKustomization(dir string, bin *Binary, opts Options) []Problem {
	ps := problems(DecodeFiles(dir))
	out, err := Render(dir)
	if err != nil {
		ps.addf(CheckRender, dir, "kustomize build: %v", err)
		return ps
	}
	objs, decodeProblems := DecodeObjects("kustomize build "+dir, out)
	ps = append(ps, decodeProblems...)
	return append(ps, CheckObjects(objs, bin, opts)...)
}

// podTemplate is a pod, or the pod template of a workload.
type podTemplate struct {
	where  string // such as "Deployment example-app"
	labels map[string]string
	spec   *corev1.PodSpec
}

// CheckObjects checks every pod that runs natsfan among objs, against bin.
// It is a problem if no pod does.
func CheckObjects(objs []Object, bin *Binary, opts Options) []Problem {
	var ps problems
	configMaps := map[string]*corev1.ConfigMap{}
	var policies []*networkingv1.NetworkPolicy
	var pods []podTemplate
	for _, o := range objs {
		switch obj := o.Obj.(type) {
		case *corev1.ConfigMap:
			configMaps[obj.Name] = obj
		case *networkingv1.NetworkPolicy:
			policies = append(policies, obj)
		case *corev1.Pod:
			pods = append(pods, podTemplate{"Pod " + obj.Name, obj.Labels, &obj.Spec})
		case *appsv1.Deployment:
			pods = append(pods, podTemplate{"Deployment " + obj.Name, obj.Spec.Template.Labels, &obj.Spec.Template.Spec})
		case *appsv1.StatefulSet:
			pods = append(pods, podTemplate{"StatefulSet " + obj.Name, obj.Spec.Template.Labels, &obj.Spec.Template.Spec})
		case *appsv1.DaemonSet:
			pods = append(pods, podTemplate{"DaemonSet " + obj.Name, obj.Spec.Template.Labels, &obj.Spec.Template.Spec})
		case *batchv1.Job:
			pods = append(pods, podTemplate{"Job " + obj.Name, obj.Spec.Template.Labels, &obj.Spec.Template.Spec})
		}
	}
	found := false
	for _, pod := range pods {
		c := newPodCheck(pod, bin, configMaps, policies)
		if c == nil {
			continue
		}
		found = true
		c.run(opts)
		ps = append(ps, c.ps...)
	}
	if !found {
		ps.addf(CheckSidecar, "rendered objects", "no pod has a container named %q", natsfanContainer)
	}
	return ps
}

// podCheck checks one pod that runs natsfan.
type podCheck struct {
	bin        *Binary
	pod        podTemplate
	configMaps map[string]*corev1.ConfigMap
	policies   []*networkingv1.NetworkPolicy

	natsfan *corev1.Container
	native  bool              // natsfan is an init container
	where   string            // natsfan's container, for messages
	env     map[string]string // natsfan's environment, resolved
	secret  map[string]bool   // variables of env whose value comes from a Secret
	mounted map[string]bool   // file variables whose files a volume provides
	port    int32             // NATSFAN_HTTP_ADDR's port, if portOK
	portOK  bool
	ps      problems
}

func newPodCheck(pod podTemplate, bin *Binary, cms map[string]*corev1.ConfigMap, policies []*networkingv1.NetworkPolicy) *podCheck {
	c := &podCheck{bin: bin, pod: pod, configMaps: cms, policies: policies, mounted: map[string]bool{}, secret: map[string]bool{}}
	for i := range pod.spec.InitContainers {
		if pod.spec.InitContainers[i].Name == natsfanContainer {
			c.natsfan, c.native = &pod.spec.InitContainers[i], true
		}
	}
	for i := range pod.spec.Containers {
		if pod.spec.Containers[i].Name == natsfanContainer {
			c.natsfan = &pod.spec.Containers[i]
		}
	}
	if c.natsfan == nil {
		return nil
	}
	c.where = pod.where + ", container " + natsfanContainer
	return c
}

func (c *podCheck) run(opts Options) {
	c.env = c.resolveEnv(c.natsfan)
	c.port, c.portOK = c.httpPort()
	c.checkSecrets()
	c.checkConfig()
	c.checkProbes()
	c.checkPorts()
	c.checkSidecar()
	c.checkSecurity()
	c.checkSocket()
	c.checkShutdown()
	c.checkResources()
	if opts.Applied {
		c.checkImage()
	}
}

// setting returns the value natsfan gets for a variable: the pod's, or the
// binary's default.
func (c *podCheck) setting(name string) string {
	if v, ok := c.env[name]; ok {
		return v
	}
	return c.bin.Default(name)
}

// others returns the pod's regular containers other than natsfan: the
// application's.
func (c *podCheck) others() []*corev1.Container {
	var out []*corev1.Container
	for i := range c.pod.spec.Containers {
		if ct := &c.pod.spec.Containers[i]; ct != c.natsfan {
			out = append(out, ct)
		}
	}
	return out
}

// all returns every container of the pod, init containers first.
func (c *podCheck) all() []*corev1.Container {
	var out []*corev1.Container
	for i := range c.pod.spec.InitContainers {
		out = append(out, &c.pod.spec.InitContainers[i])
	}
	for i := range c.pod.spec.Containers {
		out = append(out, &c.pod.spec.Containers[i])
	}
	return out
}

// resolveEnv returns natsfan's environment as the kubelet would build it
// from the rendered objects: envFrom in order, then env. It reports
// variables natsfan does not know, keys set twice, and references it cannot
// follow. Values it cannot know (from a Secret) are placeholders.
func (c *podCheck) resolveEnv(ct *corev1.Container) map[string]string {
	where := c.pod.where + ", container " + ct.Name
	env := map[string]string{}
	fromConfigMap := map[string]string{}
	for _, src := range ct.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			cm, ok := c.configMaps[src.ConfigMapRef.Name]
			if !ok {
				if src.ConfigMapRef.Optional == nil || !*src.ConfigMapRef.Optional {
					c.ps.addf(CheckVariables, where, "envFrom names ConfigMap %q, which is not among the rendered objects", src.ConfigMapRef.Name)
				}
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
				name, v := src.Prefix+k, cm.Data[k]
				if !strings.HasPrefix(name, "NATSFAN_") {
					c.ps.addf(CheckVariables, where, "ConfigMap %q holds %s, which is not a natsfan setting (they all start with NATSFAN_)", cm.Name, name)
				}
				env[name] = v
				fromConfigMap[name] = cm.Name
			}
		case src.SecretRef != nil:
			c.ps.addf(CheckSecrets, where, "envFrom takes Secret %q as environment variables; mount it as files and point NATSFAN_*_FILE at them", src.SecretRef.Name)
		}
	}
	seen := map[string]bool{}
	for _, e := range ct.Env {
		if seen[e.Name] {
			c.ps.addf(CheckVariables, where, "%s is set twice in env; the last one wins", e.Name)
		}
		if cm, ok := fromConfigMap[e.Name]; ok {
			c.ps.addf(CheckVariables, where, "%s is set both in env and in ConfigMap %q; set it in one place", e.Name, cm)
		}
		seen[e.Name] = true
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := c.configMaps[ref.Name]
			v, hasKey := "", false
			if ok {
				v, hasKey = cm.Data[ref.Key]
			}
			if !hasKey && (ref.Optional == nil || !*ref.Optional) {
				c.ps.addf(CheckVariables, where, "%s comes from key %q of ConfigMap %q, which the rendered objects do not have", e.Name, ref.Key, ref.Name)
			}
			if hasKey {
				env[e.Name] = v
			}
		case e.ValueFrom.SecretKeyRef != nil:
			c.ps.addf(CheckSecrets, where, "%s comes from Secret %q as an environment variable; mount the Secret as files and use the NATSFAN_*_FILE variable instead", e.Name, e.ValueFrom.SecretKeyRef.Name)
			env[e.Name] = "secret" // a stand-in: the value is not in the manifests
			c.secret[e.Name] = true
		case e.ValueFrom.ResourceFieldRef != nil:
			v, err := c.resourceField(ct, e.ValueFrom.ResourceFieldRef)
			if err != nil {
				c.ps.addf(CheckResources, where, "%s: %v", e.Name, err)
				continue
			}
			env[e.Name] = v
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field-" + e.ValueFrom.FieldRef.FieldPath
		}
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if strings.HasPrefix(name, "NATSFAN_") && !c.bin.Known(name) {
			c.ps.addf(CheckVariables, where, "%s is not a natsfan variable (natsfan -h lists them), and natsfan refuses to start with it", name)
		}
	}
	return env
}

// resourceField resolves a Downward API resource reference as the kubelet
// does, except that it refuses a resource the container does not set (the
// kubelet would use the node's capacity instead).
func (c *podCheck) resourceField(self *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	ct := self
	if ref.ContainerName != "" {
		ct = nil
		for _, other := range c.all() {
			if other.Name == ref.ContainerName {
				ct = other
			}
		}
		if ct == nil {
			return "", fmt.Errorf("resourceFieldRef names container %q, which the pod does not have", ref.ContainerName)
		}
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	list := ct.Resources.Requests
	if kind == "limits" {
		list = ct.Resources.Limits
	}
	q, ok := list[corev1.ResourceName(res)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %s: container %s sets no %s, so the node's capacity would be used", ref.Resource, ct.Name, ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if res == string(corev1.ResourceCPU) {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(div.Value()))), 10), nil
}

// fileVars are natsfan's variables that name a file.
var fileVars = []string{
	"NATSFAN_NATS_CREDS_FILE", "NATSFAN_NATS_NKEY_SEED_FILE", "NATSFAN_NATS_TOKEN_FILE",
	"NATSFAN_NATS_PASSWORD_FILE", "NATSFAN_NATS_TLS_CA", "NATSFAN_NATS_TLS_CERT", "NATSFAN_NATS_TLS_KEY",
}

// checkSecrets checks that secrets reach natsfan as files, from volumes
// mounted in natsfan alone, readable by natsfan and not by everyone, and
// mounted as directories, so that a rotated Secret reaches natsfan.
func (c *podCheck) checkSecrets() {
	for _, name := range []string{"NATSFAN_NATS_TOKEN", "NATSFAN_NATS_PASSWORD"} {
		if c.env[name] != "" && !c.secret[name] {
			c.ps.addf(CheckSecrets, c.where, "%s holds a secret in the manifest; put it in a Secret mounted as a file and use %s_FILE", name, name)
		}
	}
	for _, u := range strings.Split(c.env["NATSFAN_NATS_URL"], ",") {
		if strings.Contains(u, "@") {
			c.ps.addf(CheckSecrets, c.where, "NATSFAN_NATS_URL carries credentials; use a credentials file (NATSFAN_NATS_CREDS_FILE) from a Secret")
		}
	}
	for _, name := range fileVars {
		path, ok := c.env[name]
		if !ok || path == "" {
			continue
		}
		if c.checkMountedFile(name, path) {
			c.mounted[name] = true
		}
	}
}

// checkMountedFile checks that path, the value of variable name, is a file
// of a Secret (or, for a CA bundle, ConfigMap) volume mounted in natsfan.
func (c *podCheck) checkMountedFile(name, path string) bool {
	if !filepath.IsAbs(path) {
		c.ps.addf(CheckSecrets, c.where, "%s=%s is not an absolute path", name, path)
		return false
	}
	for _, m := range c.natsfan.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		vol := c.volume(m.Name)
		if vol == nil {
			return false // reported by the API server; not ours to repeat
		}
		if m.SubPath != "" {
			c.ps.addf(CheckSecrets, c.where, "%s is mounted with subPath, so a rotated Secret never reaches natsfan; mount the volume as a directory", path)
			return false
		}
		var items []corev1.KeyToPath
		var mode *int32
		public := name == "NATSFAN_NATS_TLS_CA" // a CA bundle is not a secret
		switch {
		case vol.Secret != nil:
			items, mode = vol.Secret.Items, vol.Secret.DefaultMode
		case vol.ConfigMap != nil && public:
			items = vol.ConfigMap.Items
		case vol.Projected != nil:
			for _, src := range vol.Projected.Sources {
				if src.Secret != nil {
					items = append(items, src.Secret.Items...)
				}
			}
			mode = vol.Projected.DefaultMode
		default:
			c.ps.addf(CheckSecrets, c.where, "%s=%s is on volume %q, which is not a Secret", name, path, m.Name)
			return false
		}
		if len(items) > 0 && !slices.ContainsFunc(items, func(it corev1.KeyToPath) bool { return it.Path == rel }) {
			c.ps.addf(CheckSecrets, c.where, "%s=%s: volume %q, mounted at %s, has no item with path %q", name, path, m.Name, m.MountPath, rel)
			return false
		}
		if !public {
			for _, it := range items {
				if it.Path == rel && it.Mode != nil {
					mode = it.Mode
				}
			}
			if mode == nil || *mode&0o007 != 0 {
				shown := "the default 0644"
				if mode != nil {
					shown = fmt.Sprintf("%#o", *mode)
				}
				c.ps.addf(CheckSecrets, c.where, "%s=%s is readable by everyone (mode %s); set defaultMode: 0440, which the pod's fsGroup lets natsfan read", name, path, shown)
			}
			for _, other := range c.all() {
				if other != c.natsfan && slices.ContainsFunc(other.VolumeMounts, func(om corev1.VolumeMount) bool { return om.Name == m.Name }) {
					c.ps.addf(CheckSecrets, c.where, "volume %q with natsfan's credentials is mounted in container %s too; only natsfan needs it", m.Name, other.Name)
				}
			}
		}
		return true
	}
	c.ps.addf(CheckSecrets, c.where, "%s=%s is on none of natsfan's volume mounts; mount the Secret that holds it", name, path)
	return false
}

// volume returns the pod's volume of that name, or nil.
func (c *podCheck) volume(name string) *corev1.Volume {
	for i := range c.pod.spec.Volumes {
		if c.pod.spec.Volumes[i].Name == name {
			return &c.pod.spec.Volumes[i]
		}
	}
	return nil
}

// checkConfig runs natsfan on natsfan's environment: it must accept it.
func (c *podCheck) checkConfig() {
	var environ []string
	for name, value := range c.env {
		environ = append(environ, name+"="+value)
	}
	slices.Sort(environ)
	found, err := c.bin.CheckEnv(environ, c.mounted)
	if err != nil {
		c.ps.addf(CheckConfig, c.where, "%v", err)
		return
	}
	for _, line := range found {
		name, _, _ := strings.Cut(line, ":")
		if strings.HasPrefix(name, "NATSFAN_") && !c.bin.Known(name) {
			continue // reported by CheckVariables
		}
		c.ps.addf(CheckConfig, c.where, "natsfan rejects its configuration: %s", line)
	}
}

// httpPort returns the port of NATSFAN_HTTP_ADDR, reporting an address the
// kubelet could not reach.
func (c *podCheck) httpPort() (int32, bool) {
	addr := c.setting("NATSFAN_HTTP_ADDR")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false // natsfan reports it (CheckConfig)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil || n <= 0 {
		c.ps.addf(CheckProbes, c.where, "NATSFAN_HTTP_ADDR=%s: probes need a fixed port", addr)
		return 0, false
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		c.ps.addf(CheckProbes, c.where, "NATSFAN_HTTP_ADDR=%s listens on %s only, but the kubelet probes the pod IP; use :%d", addr, host, n)
	}
	return int32(n), true
}

// probePort resolves a probe's port, by number or by the name of one of
// natsfan's container ports.
func (c *podCheck) probePort(p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	for _, cp := range c.natsfan.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// checkProbes checks natsfan's three probes: /readyz to start and to be
// ready, /livez to stay alive, on NATSFAN_HTTP_ADDR's port.
func (c *podCheck) checkProbes() {
	port, portOK := c.port, c.portOK
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
		why   string
	}{
		{"startupProbe", c.natsfan.StartupProbe, "/readyz", "the application must start only once natsfan serves the socket"},
		{"readinessProbe", c.natsfan.ReadinessProbe, "/readyz", "the pod is not ready while natsfan receives nothing"},
		{"livenessProbe", c.natsfan.LivenessProbe, "/livez", "an upstream outage must not restart natsfan, and /readyz fails during one"},
	} {
		switch {
		case p.probe == nil:
			c.ps.addf(CheckProbes, c.where, "no %s; it should GET %s: %s", p.kind, p.path, p.why)
			continue
		case p.probe.HTTPGet == nil:
			c.ps.addf(CheckProbes, c.where, "%s is not an httpGet probe; it should GET %s", p.kind, p.path)
			continue
		}
		get := p.probe.HTTPGet
		if get.Path != p.path {
			c.ps.addf(CheckProbes, c.where, "%s asks %s; it should ask %s: %s", p.kind, get.Path, p.path, p.why)
		}
		if get.Scheme != "" && get.Scheme != corev1.URISchemeHTTP {
			c.ps.addf(CheckProbes, c.where, "%s uses %s; natsfan serves plain HTTP", p.kind, get.Scheme)
		}
		if get.Host != "" {
			c.ps.addf(CheckProbes, c.where, "%s sets host %s; leave it empty, for the pod IP", p.kind, get.Host)
		}
		got, ok := c.probePort(get.Port)
		switch {
		case !ok:
			c.ps.addf(CheckProbes, c.where, "%s uses port %q, which is not a port of natsfan's container", p.kind, get.Port.String())
		case portOK && got != port:
			c.ps.addf(CheckProbes, c.where, "%s uses port %d, but natsfan listens on %d (NATSFAN_HTTP_ADDR=%s)", p.kind, got, port, c.setting("NATSFAN_HTTP_ADDR"))
		}
	}
}

// checkPorts checks that natsfan declares its HTTP port and no other, and
// that the NetworkPolicies selecting the pod let in that port, and the
// ports the other containers declare, and nothing else.
func (c *podCheck) checkPorts() {
	port := c.port
	if !c.portOK {
		return
	}
	var httpName string
	switch ps := c.natsfan.Ports; {
	case len(ps) != 1 || ps[0].ContainerPort != port || (ps[0].Protocol != "" && ps[0].Protocol != corev1.ProtocolTCP):
		c.ps.addf(CheckPorts, c.where, "natsfan must declare exactly one port, TCP %d (NATSFAN_HTTP_ADDR); it declares %v", port, portList(ps))
	default:
		httpName = ps[0].Name
	}
	allowed := map[string]bool{strconv.Itoa(int(port)): true}
	if httpName != "" {
		allowed[httpName] = true
	}
	for _, ct := range c.others() {
		for _, cp := range ct.Ports {
			allowed[strconv.Itoa(int(cp.ContainerPort))] = true
			if cp.Name != "" {
				allowed[cp.Name] = true
			}
		}
	}
	selected := false
	for _, np := range c.policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(c.pod.labels)) {
			continue
		}
		where := "NetworkPolicy " + np.Name
		ingress := len(np.Spec.PolicyTypes) == 0 || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		if !ingress {
			continue
		}
		selected = true
		for i, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				c.ps.addf(CheckPorts, where, "ingress rule %d lets in every port; list natsfan's HTTP port (%d) and your application's", i+1, port)
			}
			for _, p := range rule.Ports {
				switch {
				case p.Port == nil:
					c.ps.addf(CheckPorts, where, "ingress rule %d lets in every port of its protocol", i+1)
				case p.EndPort != nil:
					c.ps.addf(CheckPorts, where, "ingress rule %d lets in a port range", i+1)
				case !allowed[p.Port.String()]:
					c.ps.addf(CheckPorts, where, "ingress rule %d lets in port %s, which no container of %s declares; natsfan listens on %d only", i+1, p.Port.String(), c.pod.where, port)
				}
			}
		}
	}
	if !selected {
		c.ps.addf(CheckPorts, c.pod.where, "no NetworkPolicy restricts ingress to the pod; let in natsfan's HTTP port (%d) and your application's ports only", port)
	}
}

func portList(ps []corev1.ContainerPort) []string {
	var out []string
	for _, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, fmt.Sprintf("%s %d", proto, p.ContainerPort))
	}
	return out
}

// checkSidecar checks how natsfan starts relative to the application: as a
// native sidecar (an init container that keeps running), or as a regular
// container the application waits for.
func (c *podCheck) checkSidecar() {
	if c.native {
		if c.natsfan.RestartPolicy == nil || *c.natsfan.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			c.ps.addf(CheckSidecar, c.where, "natsfan is an init container without restartPolicy: Always; it never exits, so the pod would never start. Make it a native sidecar (restartPolicy: Always, Kubernetes 1.29+) or a regular container")
		}
		return
	}
	if !c.portOK {
		return
	}
	readyz := fmt.Sprintf(":%d/readyz", c.port)
	socketVolume := c.socketVolume()
	for _, ct := range c.others() {
		if socketVolume == "" || !slices.ContainsFunc(ct.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == socketVolume }) {
			continue
		}
		cmd := strings.Join(append(slices.Clone(ct.Command), ct.Args...), " ")
		if !strings.Contains(cmd, readyz) {
			c.ps.addf(CheckSidecar, c.pod.where+", container "+ct.Name, "natsfan is a regular container, started alongside this one, so this one must wait for it: poll http://127.0.0.1%s before starting (its command does not mention %s)", readyz, readyz)
		}
	}
}

// checkSecurity checks every container of the pod: not root, no privilege
// escalation, no capabilities, a read-only root filesystem, a seccomp
// profile: what the "restricted" Pod Security Standard asks, and more.
func (c *podCheck) checkSecurity() {
	pod := c.pod.spec
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		c.ps.addf(CheckSecurity, c.pod.where, "the pod shares the node's network, PID or IPC namespace")
	}
	for _, ct := range c.all() {
		where := c.pod.where + ", container " + ct.Name
		sc := ct.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			c.ps.addf(CheckSecurity, where, "runAsNonRoot is not true")
		}
		uid := sc.RunAsUser
		if uid == nil {
			uid = psc.RunAsUser
		}
		if uid != nil && *uid == 0 {
			c.ps.addf(CheckSecurity, where, "runs as root (runAsUser: 0)")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			c.ps.addf(CheckSecurity, where, "readOnlyRootFilesystem is not true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			c.ps.addf(CheckSecurity, where, "allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			c.ps.addf(CheckSecurity, where, "is privileged")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			c.ps.addf(CheckSecurity, where, "capabilities do not drop ALL")
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			c.ps.addf(CheckSecurity, where, "adds capabilities %v", sc.Capabilities.Add)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			c.ps.addf(CheckSecurity, where, "no seccomp profile (RuntimeDefault)")
		}
	}
}

// socketVolume returns the volume natsfan mounts at the socket's directory,
// or "".
func (c *podCheck) socketVolume() string {
	dir := filepath.Dir(c.setting("NATSFAN_SOCKET"))
	for _, m := range c.natsfan.VolumeMounts {
		if filepath.Clean(m.MountPath) == dir && m.SubPath == "" {
			return m.Name
		}
	}
	return ""
}

// checkSocket checks that the socket is on a pod-private volume mounted at
// the socket's directory in natsfan and, at the same path, in the
// application, and that the application may connect to it.
func (c *podCheck) checkSocket() {
	socket := c.setting("NATSFAN_SOCKET")
	dir := filepath.Dir(socket)
	name := c.socketVolume()
	if name == "" {
		c.ps.addf(CheckSocket, c.where, "NATSFAN_SOCKET=%s, but natsfan mounts no volume at %s; the socket would stay inside natsfan's container", socket, dir)
		return
	}
	if vol := c.volume(name); vol == nil || vol.EmptyDir == nil {
		c.ps.addf(CheckSocket, c.where, "the socket's volume %q is not an emptyDir; use one, private to the pod", name)
	}
	var sharers []*corev1.Container
	for _, ct := range c.others() {
		for _, m := range ct.VolumeMounts {
			if m.Name != name {
				continue
			}
			if filepath.Clean(m.MountPath) != dir || m.SubPath != "" {
				c.ps.addf(CheckSocket, c.pod.where+", container "+ct.Name, "mounts the socket's volume %q at %s (subPath %q); mount it at %s, as natsfan does, so that the socket is at %s", name, m.MountPath, m.SubPath, dir, socket)
			}
			sharers = append(sharers, ct)
		}
	}
	if len(sharers) == 0 {
		c.ps.addf(CheckSocket, c.pod.where, "no container besides natsfan mounts the socket's volume %q; mount it at %s in the application", name, dir)
		return
	}
	mode, err := strconv.ParseUint(strings.TrimPrefix(c.setting("NATSFAN_SOCKET_MODE"), "0o"), 8, 32)
	if err != nil {
		return // natsfan reports it (CheckConfig)
	}
	switch {
	case mode&0o006 == 0o006: // anyone in the pod may connect
	case mode&0o060 == 0o060:
		if c.pod.spec.SecurityContext == nil || c.pod.spec.SecurityContext.FSGroup == nil {
			c.ps.addf(CheckSocket, c.pod.where, "NATSFAN_SOCKET_MODE=%#o lets the socket's group connect, but the pod sets no fsGroup, so the application may not be in that group; set securityContext.fsGroup (or the mode to 0666: the volume is private to the pod)", mode)
		}
	default:
		uid := func(ct *corev1.Container) int64 {
			if ct.SecurityContext != nil && ct.SecurityContext.RunAsUser != nil {
				return *ct.SecurityContext.RunAsUser
			}
			if sc := c.pod.spec.SecurityContext; sc != nil && sc.RunAsUser != nil {
				return *sc.RunAsUser
			}
			return -1
		}
		for _, ct := range sharers {
			if u := uid(ct); u < 0 || u != uid(c.natsfan) {
				c.ps.addf(CheckSocket, c.pod.where+", container "+ct.Name, "NATSFAN_SOCKET_MODE=%#o lets only natsfan's user connect, and this container does not run as that user; use 0660 with an fsGroup", mode)
			}
		}
	}
}

// checkShutdown checks that natsfan's shutdown fits in the pod's grace
// period.
func (c *podCheck) checkShutdown() {
	timeout, err := time.ParseDuration(c.setting("NATSFAN_SHUTDOWN_TIMEOUT"))
	if err != nil {
		return // natsfan reports it (CheckConfig)
	}
	grace := c.pod.spec.TerminationGracePeriodSeconds
	switch {
	case grace == nil:
		c.ps.addf(CheckShutdown, c.pod.where, "terminationGracePeriodSeconds is not set; set it above NATSFAN_SHUTDOWN_TIMEOUT (%v) plus the application's own shutdown", timeout)
	case time.Duration(*grace)*time.Second <= timeout:
		c.ps.addf(CheckShutdown, c.pod.where, "terminationGracePeriodSeconds (%d) does not exceed NATSFAN_SHUTDOWN_TIMEOUT (%v): the kubelet would kill natsfan while consumers still read what it holds", *grace, timeout)
	}
}

// checkResources checks natsfan's requests and limits against what its
// configuration lets it hold, and GOMEMLIMIT against the limit.
func (c *podCheck) checkResources() {
	res := c.natsfan.Resources
	req, hasReq := res.Requests[corev1.ResourceMemory]
	lim, hasLim := res.Limits[corev1.ResourceMemory]
	if _, ok := res.Requests[corev1.ResourceCPU]; !ok {
		c.ps.addf(CheckResources, c.where, "no CPU request")
	}
	if !hasReq || !hasLim {
		c.ps.addf(CheckResources, c.where, "memory request and limit must both be set, from a measurement (README, \"Sizing memory\")")
		return
	}
	if lim.Cmp(req) < 0 {
		c.ps.addf(CheckResources, c.where, "memory limit %s is below the request %s", lim.String(), req.String())
	}
	need, err := estimateMemory(c.setting)
	if err != nil {
		c.ps.addf(CheckResources, c.where, "%v", err)
	} else {
		if req.Value() < need.request {
			c.ps.addf(CheckResources, c.where, "memory request %s (%s) is below what the configuration lets natsfan hold, about %s: %s", req.String(), mib(req.Value()), mib(need.request), need.explain)
		}
		if lim.Value() < need.limit {
			c.ps.addf(CheckResources, c.where, "memory limit %s (%s) is below what the configuration lets natsfan hold with a full ingest backlog, about %s: %s", lim.String(), mib(lim.Value()), mib(need.limit), need.explain)
		}
	}
	v, ok := c.env["GOMEMLIMIT"]
	if !ok {
		c.ps.addf(CheckResources, c.where, "GOMEMLIMIT is not set; set it from requests.memory (resourceFieldRef), so that the garbage collector holds natsfan below its limit")
		return
	}
	gml, err := parseGoMemLimit(v)
	if err != nil {
		c.ps.addf(CheckResources, c.where, "%v", err)
		return
	}
	if lim.Value()-gml < goMemLimitHeadroom {
		c.ps.addf(CheckResources, c.where, "GOMEMLIMIT (%s) leaves less than %s below the memory limit (%s); the process's memory runs above GOMEMLIMIT, so take it from requests.memory and set the limit higher", mib(gml), mib(goMemLimitHeadroom), mib(lim.Value()))
	}
}

// checkImage checks that natsfan's image is pinned: a digest, or a tag other
// than latest.
func (c *podCheck) checkImage() {
	image := c.natsfan.Image
	if strings.Contains(image, "@sha256:") {
		return
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, hasTag := strings.Cut(name, ":")
	if !hasTag || tag == "latest" {
		c.ps.addf(CheckImage, c.where, "image %q is not pinned; name a version tag or a digest (the overlay's images: entry)", image)
	}
}
