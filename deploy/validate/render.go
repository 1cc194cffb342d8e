package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// scheme knows the kinds a natsfan deployment is made of. A kind it does not
// know is an error, like an unknown field: the check is only as good as the
// types it decodes into.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strictDecoder decodes YAML or JSON into the typed object its apiVersion
// and kind name, failing on unknown and duplicate fields.
var strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// An Object is a decoded Kubernetes object and where it came from.
type Object struct {
	Source string // file, or "kustomize build DIR"
	Obj    runtime.Object
}

// Render builds the kustomization in dir, as kustomize build (or kubectl
// apply -k) does, and returns the YAML stream.
func Render(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// DecodeObjects strictly decodes every document of a YAML stream.
func DecodeObjects(source string, data []byte) ([]Object, []Problem) {
	var objs []Object
	var ps problems
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ps.addf(CheckDecode, source, "%v", err)
			break
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			ps.addf(CheckDecode, fmt.Sprintf("%s (document %d)", source, i), "%v", err)
			continue
		}
		objs = append(objs, Object{Source: source, Obj: obj})
	}
	return objs, ps
}

// stripComments removes comment lines, to tell an empty document.
func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// DecodeFiles strictly decodes every YAML file in dir (not below it): a
// kustomization file into kustomize's Kustomization type, a list into JSON
// patch operations, anything else into Kubernetes objects (partial ones, for
// strategic-merge patches). Inline patches in the kustomization are decoded
// too. A misspelt field in a patch is caught here even where the rendered
// result would not show it.
func DecodeFiles(dir string) []Problem {
	var ps problems
	entries, err := os.ReadDir(dir)
	if err != nil {
		ps.addf(CheckDecode, dir, "%v", err)
		return ps
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			ps.addf(CheckDecode, path, "%v", err)
			continue
		}
		switch {
		case slices.Contains(konfig.RecognizedKustomizationFileNames(), name):
			var k types.Kustomization
			if err := yaml.UnmarshalStrict(data, &k); err != nil {
				ps.addf(CheckDecode, path, "not a valid Kustomization: %v", err)
				continue
			}
			for i, p := range k.Patches {
				if p.Patch != "" {
					ps = append(ps, decodePatch(fmt.Sprintf("%s (inline patch %d)", path, i+1), []byte(p.Patch))...)
				}
			}
		default:
			ps = append(ps, decodePatch(path, data)...)
		}
	}
	return ps
}

// decodePatch decodes a JSON patch (a YAML list) or Kubernetes objects.
func decodePatch(source string, data []byte) []Problem {
	var ps problems
	var probe any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		ps.addf(CheckDecode, source, "%v", err)
		return ps
	}
	if _, ok := probe.([]any); !ok {
		_, objProblems := DecodeObjects(source, data)
		return objProblems
	}
	var ops []jsonPatchOp
	if err := yaml.UnmarshalStrict(data, &ops); err != nil {
		ps.addf(CheckDecode, source, "not a valid JSON patch: %v", err)
		return ps
	}
	for i, op := range ops {
		switch op.Op {
		case "add", "replace", "test", "remove":
		case "move", "copy":
			if op.From == "" {
				ps.addf(CheckDecode, source, "operation %d (%s) has no from", i+1, op.Op)
			}
		default:
			ps.addf(CheckDecode, source, "operation %d: unknown op %q", i+1, op.Op)
		}
		if !strings.HasPrefix(op.Path, "/") {
			ps.addf(CheckDecode, source, "operation %d: path %q is not a JSON pointer", i+1, op.Path)
		}
	}
	return ps
}
