package validate

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// kustomization is a kustomization in deploy/kubernetes, and whether it is
// meant to be applied as it is.
type kustomization struct {
	dir  string
	opts Options
}

var kustomizations = []kustomization{
	{"base", Options{}},
	{"overlays/example", Options{Applied: true}},
	{"overlays/no-native-sidecar", Options{Applied: true}},
}

func TestKustomizations_PassEveryCheck(t *testing.T) {
	for _, k := range kustomizations {
		t.Run(k.dir, func(t *testing.T) {
			for _, p := range CheckKustomization(filepath.Join(kubernetesDir, k.dir), natsfan, k.opts) {
				t.Error(p)
			}
		})
	}
}

func TestKustomizations_AreAllChecked(t *testing.T) {
	err := filepath.WalkDir(kubernetesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "kustomization.yaml" {
			return err
		}
		rel, _ := filepath.Rel(kubernetesDir, filepath.Dir(path))
		if !slices.ContainsFunc(kustomizations, func(k kustomization) bool { return k.dir == filepath.ToSlash(rel) }) {
			t.Errorf("%s is not in this test's kustomizations, so nothing checks it", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// render renders a kustomization of deploy/kubernetes and returns its
// Deployment.
func render(t *testing.T, dir string) *appsv1.Deployment {
	t.Helper()
	out, err := Render(filepath.Join(kubernetesDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	objs, ps := DecodeObjects(dir, out)
	for _, p := range ps {
		t.Fatal(p)
	}
	for _, o := range objs {
		if d, ok := o.Obj.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatalf("%s renders no Deployment", dir)
	return nil
}

func TestExampleOverlay_RunsNatsfanAsANativeSidecar(t *testing.T) {
	d := render(t, "overlays/example")
	spec := d.Spec.Template.Spec
	if d.Namespace != "natsfan-example" {
		t.Errorf("namespace = %q, want natsfan-example", d.Namespace)
	}
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "natsfan" {
		t.Fatalf("init containers = %v, want natsfan alone", names(spec.InitContainers))
	}
	if got := spec.InitContainers[0].RestartPolicy; got == nil || *got != corev1.ContainerRestartPolicyAlways {
		t.Errorf("natsfan's restartPolicy = %v, want Always", got)
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Image != "registry.example.com/natsfan:v0.1.0" {
			t.Errorf("container %s: image %q, want the overlay's", c.Name, c.Image)
		}
	}
}

func TestNoNativeSidecarOverlay_RunsNatsfanAsARegularContainer(t *testing.T) {
	spec := render(t, "overlays/no-native-sidecar").Spec.Template.Spec
	if len(spec.InitContainers) != 0 {
		t.Errorf("init containers = %v, want none", names(spec.InitContainers))
	}
	if got := names(spec.Containers); !slices.Equal(got, []string{"natsfan", "app"}) {
		t.Fatalf("containers = %v, want [natsfan app]", got)
	}
	if spec.Containers[0].RestartPolicy != nil {
		t.Errorf("natsfan keeps restartPolicy %v, which regular containers may not have", *spec.Containers[0].RestartPolicy)
	}
	// The same natsfan container as the native sidecar, but for restartPolicy.
	native := render(t, "overlays/example").Spec.Template.Spec.InitContainers[0]
	native.RestartPolicy = nil
	if got := spec.Containers[0]; got.String() != native.String() {
		t.Errorf("natsfan's container differs from the native sidecar's:\n got %v\nwant %v", got.String(), native.String())
	}
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestRejects runs the checks on the deliberately broken deployments in
// testdata/reject: each directory holds a kustomization (most of them the
// example overlay with one thing broken) or a Dockerfile, and a file named
// want listing, one a line, "check: text" for a problem that must be found.
func TestRejects(t *testing.T) {
	dirs, err := filepath.Glob("testdata/reject/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/reject: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var found []Problem
			if data, err := os.ReadFile(filepath.Join(dir, "Dockerfile")); err == nil {
				df, err := ParseDockerfile(data)
				if err != nil {
					t.Fatal(err)
				}
				found = CheckFinalStage(df, natsfan)
			} else {
				found = CheckKustomization(dir, natsfan, Options{Applied: true})
			}
			for _, w := range readWant(t, dir) {
				if !slices.ContainsFunc(found, func(p Problem) bool {
					return p.Check == w.check && strings.Contains(p.String(), w.text)
				}) {
					t.Errorf("no %s problem with %q; found:\n%s", w.check, w.text, list(found))
				}
			}
			t.Logf("found:\n%s", list(found))
		})
	}
}

func TestRejects_CoverEveryCheck(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/reject/*")
	covered := map[string]bool{}
	for _, dir := range dirs {
		for _, w := range readWant(t, dir) {
			covered[w.check] = true
		}
	}
	for _, check := range append(slices.Clone(AllChecks), CheckDockerfile) {
		if !covered[check] {
			t.Errorf("no testdata/reject case expects a %q problem: nothing shows that check can fail", check)
		}
	}
}

type want struct{ check, text string }

func readWant(t *testing.T, dir string) []want {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "want"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []want
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		check, text, ok := strings.Cut(line, ": ")
		if !ok || !slices.Contains(append(slices.Clone(AllChecks), CheckDockerfile), check) {
			t.Fatalf("%s/want: %q is not \"check: text\" with a known check", dir, line)
		}
		out = append(out, want{check, text})
	}
	if len(out) == 0 {
		t.Fatalf("%s/want expects nothing", dir)
	}
	return out
}

func list(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestEstimateMemory_ExampleConfiguration(t *testing.T) {
	settings := map[string]string{
		"NATSFAN_SUBJECTS":                  "orders.>",
		"NATSFAN_RETENTION_MESSAGES":        "100000",
		"NATSFAN_RETENTION_BYTES":           "32MiB",
		"NATSFAN_CONSUMER_MAX_LAG_MESSAGES": "100000",
		"NATSFAN_CONSUMER_MAX_LAG_BYTES":    "32MiB",
		"NATSFAN_INGEST_PENDING_MESSAGES":   "100000",
		"NATSFAN_INGEST_PENDING_BYTES":      "32MiB",
	}
	need, err := estimateMemory(func(name string) string { return settings[name] })
	if err != nil {
		t.Fatal(err)
	}
	// Measured with deploy/tools/measure: 57 MiB with GOMEMLIMIT squeezing
	// the heap to what it holds. The estimate must not be below it.
	if need.request < 57<<20 || need.request > 128<<20 {
		t.Errorf("request estimate %s, want between the measured 57 MiB and the manifest's 128 MiB (%s)", mib(need.request), need.explain)
	}
	if need.limit > 192<<20 {
		t.Errorf("limit estimate %s, above the manifest's 192 MiB (%s)", mib(need.limit), need.explain)
	}

	// The byte limits count each message's bookkeeping, so they bound
	// the buffers whatever the count limits allow.
	settings["NATSFAN_CONSUMER_MAX_LAG_MESSAGES"] = "1000000" // natsfan's default
	same, err := estimateMemory(func(name string) string { return settings[name] })
	if err != nil {
		t.Fatal(err)
	}
	if same.request != need.request {
		t.Errorf("a lag limit of 1000000 messages changes the estimate (%s), though the byte limit bounds what is held", same.explain)
	}
	settings["NATSFAN_CONSUMER_MAX_LAG_BYTES"] = "64MiB"
	more, err := estimateMemory(func(name string) string { return settings[name] })
	if err != nil {
		t.Fatal(err)
	}
	if more.request <= need.request {
		t.Errorf("a lag limit of 64 MiB does not raise the estimate (%s)", more.explain)
	}
}
