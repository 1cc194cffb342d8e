package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Paths, from deploy/validate.
const (
	repoRoot       = "../.."
	dockerfilePath = "../Dockerfile"
	kubernetesDir  = "../kubernetes"
)

// testVersion is the VERSION build argument of the test build.
const testVersion = "v0.0.0-validate"

// The build every test shares: deploy/Dockerfile's build stage, run by
// TestMain on a build context made by .dockerignore.
var (
	dockerfile *Dockerfile
	built      struct {
		dir     string // the temporary directory of the whole build
		context string // the build context
		files   []string
		binary  string // natsfan, as the final stage would copy it
	}
	natsfan *Binary
)

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		// The image is a Linux one: its binary is checked as an ELF file
		// and run here.
		fmt.Fprintln(os.Stderr, "validate: these checks build and run the image's Linux binary; run them on Linux")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "natsfan-validate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildNatsfan(dir); err != nil {
		fmt.Fprintf(os.Stderr, "validate: cannot build natsfan with the Dockerfile's build stage:\n%v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildNatsfan runs the Dockerfile's build stage in dir and loads the
// binary it makes.
func buildNatsfan(dir string) error {
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		return err
	}
	if dockerfile, err = ParseDockerfile(data); err != nil {
		return fmt.Errorf("%s: %w", dockerfilePath, err)
	}
	bc, err := FindBinaryCopy(dockerfile)
	if err != nil {
		return err
	}
	built.dir = dir
	built.context = filepath.Join(dir, "context")
	if built.files, err = BuildContext(repoRoot, built.context); err != nil {
		return err
	}
	var log bytes.Buffer
	b := &Build{
		Dockerfile: dockerfile,
		Context:    built.context,
		RootFS:     filepath.Join(dir, "rootfs"),
		BuildArgs: map[string]string{
			"VERSION":       testVersion,
			"BUILDPLATFORM": runtime.GOOS + "/" + runtime.GOARCH,
			"TARGETOS":      runtime.GOOS,
			"TARGETARCH":    runtime.GOARCH,
		},
		Log: &log,
	}
	if built.binary, err = b.Run(bc); err != nil {
		return fmt.Errorf("%w\n%s", err, log.String())
	}
	natsfan, err = LoadBinary(built.binary)
	return err
}
