package validate

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDockerfile_FinalStageHoldsOnlyTheBinary(t *testing.T) {
	for _, p := range CheckFinalStage(dockerfile, natsfan) {
		t.Error(p)
	}
}

func TestDockerfile_BuildStageMakesAStaticStampedBinary(t *testing.T) {
	for _, p := range InspectBinary(built.binary, built.context, testVersion) {
		t.Error(p)
	}
}

func TestDockerignore_SendsOnlyTheGoSources(t *testing.T) {
	for _, tc := range []struct {
		path     string
		excluded bool
	}{
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/natsfan/main.go", false},
		{"fanout/protocol/encode.go", false},
		{".git/HEAD", true},
		{".git/config", true},
		{"natsfan", true},          // make build's output
		{"integration.test", true}, // go test -c's output
		{"cmd/natsfan/main_test.go", true},
		{"fanout/testdata/fuzz/FuzzParse/0", true},
		{"deploy/Dockerfile", true},
		{"deploy/validate/pod.go", true},
		{"README.md", true},
		{".env", true},
		{"user.creds", true},
	} {
		excluded, err := Excluded(repoRoot, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if excluded != tc.excluded {
			t.Errorf("%s: excluded from the build context = %v, want %v", tc.path, excluded, tc.excluded)
		}
	}
	for _, f := range built.files {
		if !strings.HasSuffix(f, ".go") && f != "go.mod" && f != "go.sum" {
			t.Errorf("the build context holds %s, which the build does not need", f)
		}
	}
	if !slices.Contains(built.files, "cmd/natsfan/main.go") {
		t.Errorf("the build context lacks cmd/natsfan/main.go; it holds %d files", len(built.files))
	}
}

// TestBinary_ServesItsVersionAsNonRoot runs the binary the way the image
// does, as the distroless nonroot user (65532) when the test can switch
// users, and checks that natsfan_build_info carries the stamped version and
// that SIGTERM ends it with status 0. What it cannot check without a
// container engine: the image's file system, and a read-only root.
func TestBinary_ServesItsVersionAsNonRoot(t *testing.T) {
	const uid, gid = 65532, 65532
	dir := t.TempDir()
	socketDir := filepath.Join(dir, "run")
	if err := os.Mkdir(socketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(built.binary)
	if os.Geteuid() == 0 {
		// The binary and the socket's directory must be reachable by uid.
		for _, d := range []string{built.dir, filepath.Dir(filepath.Dir(built.binary)), filepath.Dir(built.binary), filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(socketDir, uid, gid); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	} else {
		t.Logf("not root: running natsfan as uid %d, not as %d", os.Geteuid(), uid)
	}
	addr := freeAddr(t)
	cmd.Dir = "/"
	cmd.Env = []string{
		"NATSFAN_EMBEDDED_PORT=-1",
		"NATSFAN_SOCKET=" + filepath.Join(socketDir, "natsfan.sock"),
		"NATSFAN_HTTP_ADDR=" + addr,
	}
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if status, _ := get(ctx, "http://"+addr+"/readyz"); status == http.StatusOK {
			break
		}
		select {
		case <-exited:
			t.Fatalf("natsfan exited before it was ready: %v\n%s", waitErr, log.String())
		case <-ctx.Done():
			t.Fatalf("natsfan was not ready in time\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, metrics := get(ctx, "http://"+addr+"/metrics")
	info := regexp.MustCompile(`(?m)^natsfan_build_info\{[^}]*version="([^"]*)"[^}]*\} 1$`).FindStringSubmatch(metrics)
	if info == nil || info[1] != testVersion {
		t.Errorf("natsfan_build_info = %v, want version=%q", info, testVersion)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("natsfan exited with %v after SIGTERM, want status 0\n%s", waitErr, log.String())
		}
	case <-ctx.Done():
		t.Fatalf("natsfan did not exit after SIGTERM\n%s", log.String())
	}
	if os.Geteuid() == 0 && !strings.Contains(log.String(), "natsfan stopped") {
		t.Errorf("natsfan's log does not say it stopped:\n%s", log.String())
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get returns the status and body of a GET, or 0 if it fails.
func get(ctx context.Context, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestInspectBinary_RejectsWhatTheBuildFlagsPrevent builds a program the
// way the Dockerfile must not (cgo, symbols, DWARF, build paths, no
// version) and checks that InspectBinary reports each.
func TestInspectBinary_RejectsWhatTheBuildFlagsPrevent(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"natsfan dev go\") }\n"
	want := []string{"has a symbol table", "has DWARF", "holds the path it was built at", "natsfan version printed"}
	cgo := "0"
	if _, err := exec.LookPath("gcc"); err == nil {
		src = "package main\n\nimport \"C\"\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"natsfan dev go\") }\n"
		want = append(want, "dynamically linked")
		cgo = "1"
	} else {
		t.Log("no gcc: not checking that a cgo binary is caught")
	}
	for name, data := range map[string]string{"go.mod": "module example.com/dynamic\n\ngo 1.26\n", "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "natsfan")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	found := InspectBinary(bin, dir, testVersion)
	for _, w := range want {
		if !slices.ContainsFunc(found, func(p Problem) bool { return strings.Contains(p.Detail, w) }) {
			t.Errorf("no problem saying %q; found:\n%s", w, list(found))
		}
	}
}
