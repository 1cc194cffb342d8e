package subjects

import (
	"strings"
	"testing"
)

// seedPatterns seed the fuzz corpora: nats-server's own test subjects, the
// wildcard-lookalike tokens, and the invalid shapes.
var seedPatterns = []string{
	"foo", "foo.bar", "foo.bar.baz", "foo.*", "foo.>", "*", ">", "*.*", "*.>",
	"foo.*.baz", "foo.*.>", "stats.test.22", "stats.*.*.foos", "$JS.API.>",
	"foo*", "*bar", "foo.**", ">bar", "foo>", "foo.>>>.bar", "foo.*-", "foo.>-",
	"a.b.c.d.*", "a.b.c.*.e", "a.*.*.d.>", "a.bbb.ccc.*.e", "uplink.*.*.>",
	"", ".", ".foo", "foo.", "foo..bar", "foo.>.bar", ">.>", "foo bar",
	"foo\tbar", "a\x00", "a\x7f", "ünï.日本", "\xff",
}

// FuzzValidate checks both validators against the split-based reference,
// including the offset each error reports, and checks that a literal
// subject is exactly a valid pattern with no wildcard tokens.
func FuzzValidate(f *testing.F) {
	for _, s := range seedPatterns {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		perr, serr := ValidatePattern(s), ValidateSubject(s)
		checkValidation(t, s, false, perr)
		checkValidation(t, s, true, serr)
		if want := perr == nil && IsLiteral(s); (serr == nil) != want {
			t.Fatalf("ValidateSubject(%q) = %v, but ValidatePattern = %v and IsLiteral = %v", s, serr, perr, IsLiteral(s))
		}
	})
}

// FuzzMatch checks Match against refMatch, which splits both arguments and
// compares token by token. Only valid inputs are compared.
func FuzzMatch(f *testing.F) {
	for _, p := range seedPatterns {
		for _, s := range []string{"foo", "foo.bar", "foo.bar.baz", "stats.test.22", "foo*", "foo.>>>.bar", "a.b.c.d.e"} {
			f.Add(p, s)
		}
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if ValidatePattern(pattern) != nil || ValidateSubject(subject) != nil {
			return
		}
		if got, want := Match(pattern, subject), refMatch(pattern, subject); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, subject, got, want)
		}
		if IsLiteral(pattern) && Match(pattern, subject) != (pattern == subject) {
			t.Fatalf("Match(%q, %q) = %v for a literal pattern", pattern, subject, Match(pattern, subject))
		}
		// Random pairs rarely match, so also try a subject built to match.
		if s := instantiate(pattern, subject); !Match(pattern, s) || !refMatch(pattern, s) {
			t.Fatalf("Match(%q, %q) = %v, reference says %v, want true", pattern, s, Match(pattern, s), refMatch(pattern, s))
		}
	})
}

// instantiate returns a literal subject that pattern matches: each '*' is
// replaced by the first token of subject and a '>' by all of subject.
func instantiate(pattern, subject string) string {
	first, _, _ := strings.Cut(subject, ".")
	toks := strings.Split(pattern, ".")
	for i, tok := range toks {
		switch tok {
		case "*":
			toks[i] = first
		case ">":
			toks[i] = subject
		}
	}
	return strings.Join(toks, ".")
}

// FuzzOverlapCovers checks Overlap and Covers against brute force over
// candidate subjects (see candidates), and the properties that tie them
// together. Patterns are capped at six tokens to keep brute force cheap.
func FuzzOverlapCovers(f *testing.F) {
	for i, a := range seedPatterns {
		for _, b := range seedPatterns[i:] {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if ValidatePattern(a) != nil || ValidatePattern(b) != nil ||
			strings.Count(a, ".") >= 6 || strings.Count(b, ".") >= 6 {
			return
		}
		overlap, covers := Overlap(a, b), Covers(a, b)
		if want := refOverlap(a, b); overlap != want {
			t.Fatalf("Overlap(%q, %q) = %v, brute force says %v", a, b, overlap, want)
		}
		if want := refCovers(a, b); covers != want {
			t.Fatalf("Covers(%q, %q) = %v, brute force says %v", a, b, covers, want)
		}
		if overlap != Overlap(b, a) {
			t.Fatalf("Overlap(%q, %q) is not symmetric", a, b)
		}
		if covers && !overlap {
			t.Fatalf("Covers(%q, %q) without Overlap", a, b)
		}
	})
}
