package validate

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildContext copies into dir what docker build would send from root: the
// files .dockerignore does not exclude, matched the way BuildKit matches
// them. It returns their paths, relative and slash-separated.
func BuildContext(root, dir string) ([]string, error) {
	pm, err := dockerignore(root)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if excluded && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if excluded || !d.Type().IsRegular() {
			return nil
		}
		files = append(files, rel)
		return copyFile(p, filepath.Join(dir, filepath.FromSlash(rel)))
	})
	return files, err
}

// dockerignore reads root/.dockerignore.
func dockerignore(root string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// Excluded reports whether .dockerignore in root keeps path (relative,
// slash-separated) out of the build context.
func Excluded(root, path string) (bool, error) {
	pm, err := dockerignore(root)
	if err != nil {
		return false, err
	}
	return pm.MatchesOrParentMatches(path)
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A Build runs a Dockerfile's build stage without a container engine: the
// instructions run in order on this machine, with the stage's file system
// rooted at RootFS and its build context at Context. RUN commands run in
// sh, with the paths of the stage's files (its WORKDIRs, and where the
// final stage copies from) moved under RootFS. The toolchain is this
// machine's, not the image's.
type Build struct {
	Dockerfile *Dockerfile
	Context    string            // the build context, as BuildContext made it
	RootFS     string            // stands for the stage's /
	BuildArgs  map[string]string // --build-arg, and the platform's TARGETOS and TARGETARCH
	Log        io.Writer         // what the commands print
}

// buildEnvDrop are the variables of this machine's environment that would
// not be set in the golang image and would change what go build does.
var buildEnvDrop = []string{"GOFLAGS", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "GOEXPERIMENT", "GOWORK"}

// Run runs the stage the final stage copies natsfan from, and returns where
// the binary is, under RootFS.
func (b *Build) Run(bc BinaryCopy) (string, error) {
	st := b.Dockerfile.stage(bc.Stage)
	if st == nil {
		return "", fmt.Errorf("no stage %q", bc.Stage)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(buildEnvDrop, k) {
			env[k] = v
		}
	}
	declare := func(in Instruction) {
		for _, decl := range strings.Fields(in.Args) {
			name, def, _ := strings.Cut(decl, "=")
			if v, ok := b.BuildArgs[name]; ok {
				env[name] = v
			} else {
				env[name] = strings.Trim(def, `"`)
			}
		}
	}
	for _, in := range b.Dockerfile.Args {
		declare(in)
	}
	// The paths the stage's files live at, moved under RootFS in commands.
	stagePaths := []string{filepath.Dir(bc.Src)}
	for _, in := range st.Instructions {
		if in.Cmd == "WORKDIR" {
			stagePaths = append(stagePaths, os.Expand(in.Args, func(k string) string { return env[k] }))
		}
	}
	workdir := "/"
	for _, in := range st.Instructions {
		expand := func(s string) string { return os.Expand(s, func(k string) string { return env[k] }) }
		switch in.Cmd {
		case "ARG":
			declare(in)
		case "ENV":
			name, value, ok := strings.Cut(in.Args, "=")
			if !ok {
				name, value, _ = strings.Cut(in.Args, " ")
			}
			env[strings.TrimSpace(name)] = expand(strings.Trim(strings.TrimSpace(value), `"`))
		case "WORKDIR":
			workdir = stagePath(workdir, expand(in.Args))
			if err := os.MkdirAll(b.host(workdir), 0o755); err != nil {
				return "", err
			}
		case "COPY":
			if len(in.Flags) > 0 {
				return "", fmt.Errorf("line %d: COPY %v in the build stage is not supported here", in.Line, in.Flags)
			}
			if err := b.copy(workdir, strings.Fields(expand(in.Args))); err != nil {
				return "", fmt.Errorf("line %d: %w", in.Line, err)
			}
		case "RUN":
			if err := b.run(in, workdir, env, stagePaths); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("line %d: %s in the build stage is not supported here; keep to FROM, ARG, ENV, WORKDIR, COPY and RUN", in.Line, in.Cmd)
		}
	}
	return b.host(bc.Src), nil
}

// stagePath resolves p against the working directory dir, in the stage.
func stagePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// host returns where the stage's path p is on this machine.
func (b *Build) host(p string) string { return filepath.Join(b.RootFS, p) }

// copy does COPY SRC... DST from the build context.
func (b *Build) copy(workdir string, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("COPY needs a source and a destination")
	}
	dst := stagePath(workdir, args[len(args)-1])
	dirDst := strings.HasSuffix(args[len(args)-1], "/") || len(args) > 2 || args[len(args)-1] == "."
	for _, src := range args[:len(args)-1] {
		from := filepath.Join(b.Context, filepath.Clean("/"+src))
		fi, err := os.Stat(from)
		if err != nil {
			return fmt.Errorf("COPY %s: not in the build context: %w", src, err)
		}
		if fi.IsDir() {
			err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(from, p)
				return copyFile(p, filepath.Join(b.host(dst), rel))
			})
		} else if dirDst {
			err = copyFile(from, filepath.Join(b.host(dst), filepath.Base(src)))
		} else {
			err = copyFile(from, b.host(dst))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// absPath matches an absolute path in a shell command.
var absPath = regexp.MustCompile(`(^|[\s='"])(/[A-Za-z0-9._/-]*)`)

// run does RUN, in shell or exec form; options such as cache mounts only
// make a build faster and are ignored.
func (b *Build) run(in Instruction, workdir string, env map[string]string, stagePaths []string) error {
	moved := func(s string) string {
		return absPath.ReplaceAllStringFunc(s, func(m string) string {
			sub := absPath.FindStringSubmatch(m)
			for _, p := range stagePaths {
				if sub[2] == p || strings.HasPrefix(sub[2], strings.TrimSuffix(p, "/")+"/") {
					return sub[1] + b.host(sub[2])
				}
			}
			return m
		})
	}
	var argv []string
	if err := json.Unmarshal([]byte(in.Args), &argv); err != nil {
		argv = []string{"sh", "-c", moved(in.Args)}
	} else {
		for i := range argv {
			argv[i] = moved(argv[i])
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = b.host(workdir)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if b.Log != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, b.Log), io.MultiWriter(&out, b.Log)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("line %d: RUN %s: %w\n%s", in.Line, strings.Join(argv, " "), err, out.String())
	}
	return nil
}

// InspectBinary checks what the build stage produced: a static executable
// (no interpreter, no shared libraries: nothing for the image to provide),
// without symbol table or DWARF (-s -w), without the paths it was built at
// (-trimpath), that prints version when asked for it.
func InspectBinary(bin, buildDir, version string) []Problem {
	var ps problems
	f, err := elf.Open(bin)
	if err != nil {
		ps.addf(CheckDockerfile, bin, "not an ELF executable: %v", err)
		return ps
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			ps.addf(CheckDockerfile, bin, "dynamically linked (it has an ELF interpreter); build with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		ps.addf(CheckDockerfile, bin, "needs shared libraries %v; build with CGO_ENABLED=0", libs)
	}
	for _, s := range f.Sections {
		switch {
		case s.Name == ".symtab":
			ps.addf(CheckDockerfile, bin, "has a symbol table; link with -s")
		case s.Name == ".debug_info" || s.Name == ".zdebug_info":
			ps.addf(CheckDockerfile, bin, "has DWARF debugging information; link with -w")
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		ps.addf(CheckDockerfile, bin, "%v", err)
		return ps
	}
	if bytes.Contains(data, []byte(buildDir)) {
		ps.addf(CheckDockerfile, bin, "holds the path it was built at, %s; build with -trimpath", buildDir)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "natsfan "+version+" ") {
		ps.addf(CheckDockerfile, bin, "natsfan version printed %q (%v); want the version passed to the build, %q (-X main.version=…)", strings.TrimSpace(string(out)), err, version)
	}
	return ps
}
