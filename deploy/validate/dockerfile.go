package validate

import (
	"encoding/json"
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// CheckDockerfile is the name of the Dockerfile's checks.
const CheckDockerfile = "dockerfile"

// An Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Line  int      // where it starts, from 1
	Cmd   string   // in upper case: FROM, RUN, COPY…
	Flags []string // leading options, such as --from=build or --mount=…
	Args  string   // the rest
}

// A Stage is a FROM and the instructions up to the next one.
type Stage struct {
	Name         string // the name after AS, or ""
	Base         string // the image it starts from
	Line         int
	Instructions []Instruction
}

// A Dockerfile is a parsed Dockerfile: enough of the syntax for natsfan's,
// which keeps to plain instructions (no heredocs, no parser directives but
// syntax).
type Dockerfile struct {
	Args   []Instruction // ARGs before the first FROM
	Stages []Stage
}

// ParseDockerfile parses a Dockerfile.
func ParseDockerfile(data []byte) (*Dockerfile, error) {
	df := &Dockerfile{}
	var cur strings.Builder
	start := 0
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // a comment or blank line, also inside a continuation
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		cur.WriteString(line)
		if err := df.add(start, cur.String()); err != nil {
			return nil, err
		}
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at the end of the file", start)
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return df, nil
}

func (df *Dockerfile) add(line int, text string) error {
	cmd, rest, _ := strings.Cut(strings.TrimSpace(text), " ")
	in := Instruction{Line: line, Cmd: strings.ToUpper(cmd)}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		flag, more, _ := strings.Cut(rest, " ")
		in.Flags = append(in.Flags, flag)
		rest = strings.TrimSpace(more)
	}
	in.Args = rest
	if strings.Contains(rest, "<<") && (in.Cmd == "RUN" || in.Cmd == "COPY") {
		return fmt.Errorf("line %d: heredocs are not supported here", line)
	}
	if in.Cmd == "FROM" {
		f := strings.Fields(rest)
		if len(f) == 0 {
			return fmt.Errorf("line %d: FROM without an image", line)
		}
		st := Stage{Base: f[0], Line: line}
		if len(f) == 3 && strings.EqualFold(f[1], "AS") {
			st.Name = f[2]
		}
		df.Stages = append(df.Stages, st)
		return nil
	}
	if len(df.Stages) == 0 {
		if in.Cmd != "ARG" {
			return fmt.Errorf("line %d: %s before FROM", line, in.Cmd)
		}
		df.Args = append(df.Args, in)
		return nil
	}
	st := &df.Stages[len(df.Stages)-1]
	st.Instructions = append(st.Instructions, in)
	return nil
}

// flag returns the value of the instruction's --name=value option.
func (in Instruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// stage returns the stage of that name, or nil.
func (df *Dockerfile) stage(name string) *Stage {
	for i := range df.Stages {
		if df.Stages[i].Name == name {
			return &df.Stages[i]
		}
	}
	return nil
}

// BinaryCopy is the COPY that puts natsfan into the final image.
type BinaryCopy struct {
	Stage string // the stage it copies from
	Src   string // the binary's path in that stage
	Dst   string // the binary's path in the image
}

// distroless matches the distroless images that hold nothing but CA
// certificates, time zones and /etc/passwd.
var distroless = regexp.MustCompile(`^gcr\.io/distroless/static(-debian[0-9]+)?(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)

// numericUser matches USER uid or uid:gid.
var numericUser = regexp.MustCompile(`^([0-9]+)(:[0-9]+)?$`)

// caCertificates is where Go's crypto/x509 finds CA certificates on Debian.
const caCertificates = "/etc/ssl/certs/ca-certificates.crt"

// FindBinaryCopy returns the final stage's COPY of natsfan's binary from a
// build stage.
func FindBinaryCopy(df *Dockerfile) (BinaryCopy, error) {
	copies, _ := finalCopies(df)
	return theBinary(copies)
}

// theBinary returns the one copy of finalCopies, which must be natsfan's
// binary.
func theBinary(copies []BinaryCopy) (BinaryCopy, error) {
	if len(copies) != 1 {
		return BinaryCopy{}, fmt.Errorf("the final stage should copy exactly one file, natsfan's binary, from a build stage; it copies %d", len(copies))
	}
	return copies[0], nil
}

// finalCopies returns what the final stage copies from build stages, but
// CA certificates, and whether it copies those.
func finalCopies(df *Dockerfile) (copies []BinaryCopy, certs bool) {
	for _, in := range df.Stages[len(df.Stages)-1].Instructions {
		from, ok := in.flag("from")
		f := strings.Fields(in.Args)
		if in.Cmd != "COPY" || !ok || df.stage(from) == nil || len(f) < 2 {
			continue
		}
		dst := f[len(f)-1]
		for _, src := range f[:len(f)-1] {
			if src == caCertificates || strings.HasPrefix(src, "/etc/ssl/") {
				certs = true
				continue
			}
			d := dst
			if strings.HasSuffix(d, "/") {
				d += path.Base(src)
			}
			copies = append(copies, BinaryCopy{Stage: from, Src: src, Dst: d})
		}
	}
	return copies, certs
}

// CheckFinalStage checks the image the Dockerfile produces: distroless
// static or scratch, holding only natsfan's binary copied from the build
// stage (and CA certificates on scratch), a numeric non-root user, natsfan
// as the exec-form entry point, and natsfan's HTTP port as the only port.
func CheckFinalStage(df *Dockerfile, bin *Binary) []Problem {
	var ps problems
	final := df.Stages[len(df.Stages)-1]
	where := fmt.Sprintf("Dockerfile line %d", final.Line)
	scratch := final.Base == "scratch"
	if !scratch && !distroless.MatchString(final.Base) {
		ps.addf(CheckDockerfile, where, "the final image is based on %s; use gcr.io/distroless/static-debianN:nonroot or scratch, which hold no shell or package manager", final.Base)
	}
	copies, hasCerts := finalCopies(df)
	var user, entrypoint *Instruction
	for i, in := range final.Instructions {
		where := fmt.Sprintf("Dockerfile line %d", in.Line)
		switch in.Cmd {
		case "COPY":
			if from, ok := in.flag("from"); !ok || df.stage(from) == nil {
				ps.addf(CheckDockerfile, where, "the final stage copies %q from outside a build stage; copy only the binary (and CA certificates) --from the build stage", in.Args)
			}
		case "USER":
			user = &final.Instructions[i]
		case "ENTRYPOINT":
			entrypoint = &final.Instructions[i]
		case "EXPOSE":
			for _, p := range strings.Fields(in.Args) {
				want := httpPortOf(bin.Default("NATSFAN_HTTP_ADDR"))
				if p != want && p != want+"/tcp" {
					ps.addf(CheckDockerfile, where, "EXPOSE %s: natsfan listens on %s (NATSFAN_HTTP_ADDR's default) and on no other port", p, want)
				}
			}
		case "ARG", "LABEL", "CMD", "ENV":
		default:
			ps.addf(CheckDockerfile, where, "%s in the final stage; it should hold nothing but the binary and CA certificates", in.Cmd)
		}
	}
	if scratch && !hasCerts {
		ps.addf(CheckDockerfile, where, "a scratch image needs CA certificates for tls:// upstreams; copy %s from the build stage", caCertificates)
	}
	binCopy, err := theBinary(copies)
	if err != nil {
		ps.addf(CheckDockerfile, where, "%v", err)
		return ps
	}
	switch {
	case user == nil:
		ps.addf(CheckDockerfile, where, "no USER: the image would run as root; add USER 65532:65532")
	default:
		m := numericUser.FindStringSubmatch(strings.TrimSpace(user.Args))
		switch {
		case m == nil:
			ps.addf(CheckDockerfile, fmt.Sprintf("Dockerfile line %d", user.Line), "USER %s is not numeric; the kubelet can check runAsNonRoot only against a numeric user", user.Args)
		case m[1] == "0":
			ps.addf(CheckDockerfile, fmt.Sprintf("Dockerfile line %d", user.Line), "USER %s is root", user.Args)
		}
	}
	var argv []string
	if entrypoint == nil || json.Unmarshal([]byte(entrypoint.Args), &argv) != nil || len(argv) == 0 {
		ps.addf(CheckDockerfile, where, "no exec-form ENTRYPOINT [%q]: natsfan must be PID 1, to get SIGTERM, and there is no shell to run a shell form", binCopy.Dst)
	} else if argv[0] != binCopy.Dst {
		ps.addf(CheckDockerfile, fmt.Sprintf("Dockerfile line %d", entrypoint.Line), "ENTRYPOINT runs %s, but the binary is copied to %s", argv[0], binCopy.Dst)
	}
	if dir := path.Dir(binCopy.Dst); dir != "/usr/local/bin" && dir != "/usr/bin" && dir != "/bin" {
		ps.addf(CheckDockerfile, where, "the binary is copied to %s, outside PATH; kubectl exec POD -c natsfan -- natsfan sub … would not find it", binCopy.Dst)
	}
	return ps
}

// httpPortOf returns the port of a host:port address.
func httpPortOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if _, err := strconv.Atoi(port); err != nil {
		return addr
	}
	return port
}
