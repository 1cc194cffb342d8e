package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// envTags returns the variable names declared by Config's env tags, read
// here independently of settings().
func envTags(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			t.Fatalf("Config.%s has no env tag", f.Name)
		}
		if f.Tag.Get("help") == "" {
			t.Errorf("Config.%s has no help tag", f.Name)
		}
		out[envPrefix+name] = f.Tag.Get("envDefault")
	}
	return out
}

func TestWriteUsage_listsEveryVariable(t *testing.T) {
	var buf bytes.Buffer
	writeUsage(&buf)
	out := buf.String()
	for name, def := range envTags(t) {
		want := "  " + name + "\n"
		if def != "" {
			want = "  " + name + " (default " + def + ")\n"
		}
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if len(line) > usageWidth {
			t.Errorf("usage line %d is %d bytes wide: %q", i+1, len(line), line)
		}
	}
}

func TestWriteMarkdown_listsEveryVariable(t *testing.T) {
	var buf bytes.Buffer
	writeMarkdown(&buf)
	out := buf.String()
	for name, def := range envTags(t) {
		want := "| `" + name + "` | "
		if def != "" {
			want += "`" + def + "` |"
		}
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, line := range lines {
		// Every row has three cells: four unescaped pipes.
		if n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1)); n != 4 {
			t.Errorf("Markdown line %d has %d cell borders: %q", i+1, n, line)
		}
	}
}

func TestMarkdownText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text.", "plain text."},
		{"needs NATSFAN_NATS_USER; or NATSFAN_X.", "needs `NATSFAN_NATS_USER`; or `NATSFAN_X`."},
		{"wildcards * and >; no two", "wildcards `*` and `>`; no two"},
		{"a|b <c> 2*3 x_y", `a\|b &lt;c> 2\*3 x\_y`},
		{"(NATSFAN_A)", "(`NATSFAN_A`)"},
	}
	for _, tt := range tests {
		if got := markdownText(tt.in); got != tt.want {
			t.Errorf("markdownText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestREADMEConfigTable fails when README.md's configuration table is not
// what natsfan config-markdown prints. Regenerate it with
//
//	go run ./cmd/natsfan config-markdown
//
// and paste the output between the markers.
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), markdownBegin)
	if !ok {
		t.Fatalf("README.md has no %s marker: the configuration table has lost its place", markdownBegin)
	}
	table, _, ok := strings.Cut(rest, markdownEnd)
	if !ok {
		t.Fatalf("README.md has %s but no %s", markdownBegin, markdownEnd)
	}
	var want bytes.Buffer
	writeMarkdown(&want)
	if strings.TrimSpace(table) != strings.TrimSpace(want.String()) {
		t.Errorf("README.md's configuration table is out of date; replace what is between %s and %s with the output of\n\tgo run ./cmd/natsfan config-markdown\nwhich is:\n%s", markdownBegin, markdownEnd, want.String())
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aaa bbb ccc dddddddddd e", 7)
	want := []string{"aaa bbb", "ccc", "dddddddddd", "e"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}
