package main

// The help text and the README's configuration table are both generated
// from Config's struct tags (see settings), so neither can list a variable
// that does not exist, miss one that does, or show a stale default.

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// usageIntro is the part of natsfan -h that is not about variables.
const usageIntro = `natsfan is a NATS sidecar, the pod's one NATS connection: local clients
speak the NATS client protocol to it over a Unix socket (or loopback TCP);
the subjects in NATSFAN_SUBJECTS are buffered from one upstream subscription
each and fanned out, and everything else (publishes, requests, other
subscriptions) is passed through over the same connection.

Usage:
  natsfan            run the sidecar
  natsfan version    print the version and exit
  natsfan sub SUBJECT
                     print the messages natsfan serves on SUBJECT, for
                     debugging (natsfan sub -h)
  natsfan top        the consumer connections, the furthest behind first,
                     refreshed until interrupted (natsfan top -h)
  natsfan help       print this help and exit (also -h, --help)

natsfan is configured by environment variables only. Unknown NATSFAN_
variables are an error, and every problem is reported at once.

HTTP (NATSFAN_HTTP_ADDR): GET /livez, GET /readyz, GET /metrics,
GET /loglevel, and PUT /loglevel from loopback; GET /connz and GET /subsz
from loopback unless NATSFAN_HTTP_MONITOR_REMOTE=true.

Exit status: 0 after a clean shutdown on SIGTERM or SIGINT, 2 for a
configuration error, 1 for any other failure.
`

// usageWidth is the column help text is wrapped at.
const usageWidth = 80

// writeUsage writes natsfan -h: the introduction, then every variable,
// grouped, with its default and meaning.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(usageIntro)
	group := ""
	for _, s := range settings() {
		if s.Group != group {
			group = s.Group
			fmt.Fprintf(&b, "\n%s:\n", group)
		}
		b.WriteString("  " + s.Name)
		if s.Default != "" {
			fmt.Fprintf(&b, " (default %s)", s.Default)
		}
		b.WriteString("\n")
		for _, line := range wrap(s.Help, usageWidth-6) {
			b.WriteString("      " + line + "\n")
		}
	}
	io.WriteString(w, b.String())
}

// wrap splits text into lines of at most width bytes, breaking at spaces
// (a single word longer than width gets a line of its own).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// Markers around the generated table in README.md.
const (
	markdownBegin = "<!-- config:begin -->"
	markdownEnd   = "<!-- config:end -->"
)

// writeMarkdown writes the configuration as a Markdown table, with a bold
// row for each group. It is what natsfan config-markdown prints and what
// README.md holds between markdownBegin and markdownEnd.
func writeMarkdown(w io.Writer) {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n")
	b.WriteString("|---|---|---|\n")
	group := ""
	for _, s := range settings() {
		if s.Group != group {
			group = s.Group
			fmt.Fprintf(&b, "| **%s** | | |\n", markdownText(group))
		}
		def := ""
		if s.Default != "" {
			def = markdownCode(s.Default)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", markdownCode(s.Name), def, markdownText(s.Help))
	}
	io.WriteString(w, b.String())
}

// markdownCode writes s as a code span in a table cell.
func markdownCode(s string) string {
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// varName matches a variable name in help text.
var varName = regexp.MustCompile(`NATSFAN_[A-Z0-9_]*[A-Z0-9]`)

// loneWildcard matches a help-text word that is a wildcard on its own,
// possibly followed by punctuation.
var loneWildcard = regexp.MustCompile(`^([*>])([,;.:)]?)$`)

// markdownText renders plain help text for a table cell: variable names and
// lone wildcards become code, and whatever Markdown would take as markup is
// escaped.
func markdownText(s string) string {
	words := strings.Split(s, " ")
	for i, word := range words {
		if m := loneWildcard.FindStringSubmatch(word); m != nil {
			words[i] = "`" + m[1] + "`" + m[2]
			continue
		}
		var b strings.Builder
		last := 0
		for _, loc := range varName.FindAllStringIndex(word, -1) {
			b.WriteString(markdownEscape(word[last:loc[0]]))
			b.WriteString("`" + word[loc[0]:loc[1]] + "`")
			last = loc[1]
		}
		b.WriteString(markdownEscape(word[last:]))
		words[i] = b.String()
	}
	return strings.Join(words, " ")
}

// markdownEscape escapes the characters of plain text that Markdown or a
// table would otherwise interpret.
var markdownEscape = strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", "`", "\\`").Replace
