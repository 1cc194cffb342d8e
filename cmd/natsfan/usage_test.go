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

// TestDocs_sayWhatSlowAndRestartingConsumersGet pins what the help and the
// README promise consumers: a slow socket consumer is closed without an
// -ERR, as nats-server closes one, and reconnects by itself; under skip it
// is told nothing; a socket SUB starts at new messages, so only in-process
// consumers catch up from the buffer.
func TestDocs_sayWhatSlowAndRestartingConsumersGet(t *testing.T) {
	help := func(name string) string {
		s, ok := settingByName(name)
		if !ok {
			t.Fatalf("no setting %s", name)
		}
		return s.Help
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	paragraph := func(start string) string {
		_, p, ok := strings.Cut(string(readme), start)
		if !ok {
			t.Fatalf("README.md has no paragraph starting %q", start)
		}
		p, _, _ = strings.Cut(p, "\n\n")
		return strings.Join(strings.Fields(p), " ")
	}
	for _, tt := range []struct {
		where, text string
		want, not   []string
	}{
		{"NATSFAN_CONSUMER_LAG_POLICY's help", help("CONSUMER_LAG_POLICY"),
			[]string{"closed without an -ERR", "reconnect by themselves", "is told nothing", `natsfan_messages_dropped_total{reason="consumer_skipped"}`, "only the in-process Go API returns a *fanout.GapError"},
			[]string{"-ERR 'Slow Consumer'", "told how many"}},
		{"NATSFAN_SOCKET_WRITE_DEADLINE's help", help("SOCKET_WRITE_DEADLINE"),
			[]string{"without taking a byte", "without an -ERR"},
			[]string{"does not read"}},
		{"README's Slow consumers paragraph", paragraph("**Slow consumers.**"),
			[]string{"closed without an `-ERR`", "reconnect by themselves", "no `ClosedHandler` is needed", "told nothing"},
			[]string{"'Slow Consumer'", "give it a `ClosedHandler`"}},
		{"README's opening paragraph", paragraph("# natsfan\n\n"),
			[]string{"An in-process consumer (the Go API) that restarts can catch up from the buffer", "receives what arrives after its `SUB`"},
			[]string{"and a consumer that restarts can catch up"}},
	} {
		for _, w := range tt.want {
			if !strings.Contains(tt.text, w) {
				t.Errorf("%s does not say %q:\n%s", tt.where, w, tt.text)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(tt.text, n) {
				t.Errorf("%s still says %q:\n%s", tt.where, n, tt.text)
			}
		}
	}
}
