package subjects

import (
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		// From nats-server TestSublistMatchLiterals. Its matchLiteral takes
		// (literal, pattern); Match takes (pattern, subject).
		{"foo", "foo", true},
		{"bar", "foo", false},
		{"*", "foo", true},
		{">", "foo", true},
		{">", "foo.bar", true},
		{"foo.>", "foo.bar", true},
		{"bar.>", "foo.bar", false},
		{"stats.>", "stats.test.22", true},
		{"stats.*.*", "stats.test.22", true},
		{"foo", "foo.bar", false},
		{"stats.test.foos", "stats.test.foos", true},
		{"stats.test.foo", "stats.test.foos", false},
		{"stats.test.*", "stats.test", false},
		{"stats.*", "stats.test.foos", false},
		{"stats.*.*.foos", "stats.test.foos", false},
		// Wildcard characters that are not whole tokens are literal
		// (TestSublistMatchLiterals).
		{"*bar", "*bar", true},
		{"foo*", "foo*", true},
		{"foo*bar", "foo*bar", true},
		{"foo.***.bar", "foo.***.bar", true},
		{">bar", ">bar", true},
		{"foo>", "foo>", true},
		{"foo>bar", "foo>bar", true},
		{"foo.>>>.bar", "foo.>>>.bar", true},
		// From nats-server testSublistInsertWithWildcardsAsLiterals.
		{"foo.*-", "foo.bar", false},
		{"foo.>-", "foo.bar", false},
		{"foo.*-", "foo.*-", true},
		{"*bar", "foobar", false},
		{"foo*", "foobar", false},
		// From nats-server testSublistPartialWildcard, ...AtEnd, FullWildcard.
		{"a.b.c", "a.b.c", true},
		{"a.*.c", "a.b.c", true},
		{"a.b.*", "a.b.c", true},
		{"a.>", "a.b.c", true},
		// From nats-server testSublistTwoTokenPubMatchSingleTokenSub (bug #18).
		{"foo", "foo.bar", false},
		// From nats-server TestSublistHasInterest.
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo.bar.baz", false},
		{"foo.>", "foo", false},
		{"foo.>", "foo.bar.baz", true},
		{"*.>", "foo", false},
		{"*.>", "foo.bar", true},
		{"*.bar", "foo.bar", true},
		{"*.bar", "foo.baz", false},
		{"*", "foo.bar", false},
		// Length and prefix edge cases.
		{"foo", "fo", false},
		{"fo", "foo", false},
		{"foo.bar", "foo.ba", false},
		{"foo.ba", "foo.bar", false},
		{"*.*", "a", false},
		{"*.*", "a.b.c", false},
		{"*.*.>", "a.b", false},
		{"*.*.>", "a.b.c", true},
		{">", "a.b.c.d.e.f.g.h", true},
		{"ab.c", "a.bc", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
		if got := refMatch(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v (the reference is wrong)", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		// From nats-server TestSublistSubjectCollide.
		{"foo.*", "foo.*.bar.>", false},
		{"foo.*.bar.>", "foo.*", false},
		{"foo.*", "foo.foo", true},
		{"foo.*", "*.foo", true},
		{"foo.bar.>", "*.bar.foo", true},
		// From nats-server FuzzSubjectsCollide's seed corpus (valid pairs).
		{"a", "a", true},
		{"a.b.c", "a.b.c", true},
		{"$JS.b.c", "$JS.b.c", true},
		{"a.b.c", "a.*.c", true},
		{"a.b.*", "a.*.c", true},
		{"aaa.bbb.ccc", "aaa.bbb.ccc", true},
		{"aaa.*.ccc", "*.bbb.ccc", true},
		{"*", "*", true},
		{"**", "*", true}, // "**" is a literal token, which "*" matches
		{">", ">", true},
		{">>", ">", true},
		{"a", ">", true},
		{"a.b.c", ">", true},
		{"a.b.c.>", "a.b.>", true},
		{"a.b.c.d.*", "a.b.c.*.e", true},
		{"a.*.*.d.>", "a.bbb.ccc.*.e", true},
		{"a.b", "b.a", false},
		{"a.bbbbb.*.d", "a.b.>", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"a.*.*.d.e.>", "a.bbb.ccc.*.e", false},
		// From nats-server TestSublistReverseMatch: which subscriptions
		// could receive a message published to a wildcard subject.
		{"foo", "foo", true},
		{"bar", "foo", false},
		{"*", "foo", true},
		{"*", "foo.bar", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar.baz", false},
		{"*.*", "foo.baz", true},
		{"*.bar", "foo.bar", true},
		{"*.bar", "foo.baz", false},
		{"bar.*", "foo.bar", false},
		{"*.bat", "foo.bar", false},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "foo", false},
		{">", "foo.bar.baz", true},
		// From nats-server TestSublistReverseMatchWider.
		{"uplink.1.*.*.>", "uplink.*.*.>", true},
		{"uplink.1.2.3.>", "uplink.*.*.>", true},
		// Wildcard characters that are not whole tokens are literal.
		// nats-server's SubjectsCollide says true for this pair, because
		// its tokensCanMatch looks only at a token's first byte; no subject
		// matches both, since "*x" matches only the token "*x".
		{"*x.*", "y.*", false},
		{"*x.*", "*x.*", true},
		{"a>.>", "a.>", false},
		// '>' needs at least one token.
		{"a.>", "a", false},
		{"a.>", "*", false},
		{"a.>", "*.*.*", true},
		{"*.>", ">", true},
	}
	for _, tt := range tests {
		if got := Overlap(tt.a, tt.b); got != tt.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Overlap(tt.b, tt.a); got != tt.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
		if got := refOverlap(tt.a, tt.b); got != tt.want {
			t.Errorf("refOverlap(%q, %q) = %v, want %v (the reference is wrong)", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		// From nats-server TestIsSubsetMatch: subjectIsSubsetMatch(subject,
		// test) is Covers(test, subject).
		{"foo.bar", "foo.bar", true},
		{">", "foo.*", true},
		{"*.*", "foo.*", true},
		{"foo.*", "foo.*", true},
		{"foo.bar", "foo.*", false},
		{">", "foo.>", true},
		{"*.>", "foo.>", true},
		{"foo.>", "foo.>", true},
		{"foo.bar", "foo.>", false},
		// From nats-server TestSublistReverseMatch, literal subscriptions.
		{"foo.*", "foo.bar", true},
		{"*.*", "foo.bar", true},
		{"*.baz", "foo.bar", false},
		{"foo.>", "foo.bar.baz", true},
		{">", "foo", true},
		{"foo.>", "foo", false},
		// The wider subscription of TestSublistReverseMatchWider overlaps
		// the narrower pattern but is not covered by it.
		{"uplink.1.*.*.>", "uplink.*.*.>", false},
		{"uplink.*.*.>", "uplink.1.*.*.>", true},
		{"uplink.*.*.>", "uplink.1.2.3.>", true},
		// A '>' is covered only by a '>' at the same or an earlier position.
		{"foo.*", "foo.>", false},
		{"foo.*.>", "foo.>", false},
		{"foo.>", "foo.*.>", true},
		{"*.*.*", "*.>", false},
		{">", ">", true},
		{"*", ">", false},
		// '*' is covered by '*' or '>', never by a literal.
		{"foo", "*", false},
		{"*", "*", true},
		{"*", "foo", true},
		{"*", "*foo", true},
		{"*foo", "*", false},
		// nats-server's SubjectMatchesFilter("foo", "*foo") says true, because
		// its isSubsetMatchTokenized looks only at a token's first byte.
		{"*foo", "foo", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.a, tt.b); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := refCovers(tt.a, tt.b); got != tt.want {
			t.Errorf("refCovers(%q, %q) = %v, want %v (the reference is wrong)", tt.a, tt.b, got, tt.want)
		}
	}
}

// smallPatterns returns every valid pattern of one to three tokens drawn
// from a literal, a second literal that starts with '*', and both
// wildcards: enough to reach every branch of Match, Overlap and Covers.
func smallPatterns() []string {
	inner := []string{"a", "*a", "*"} // '>' may only come last
	var out []string
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		sep := "."
		if prefix == "" {
			sep = ""
		}
		for _, tok := range append(inner, ">", "b") {
			out = append(out, prefix+sep+tok)
		}
		if n > 1 {
			for _, tok := range append(inner, "b") {
				walk(prefix+sep+tok, n-1)
			}
		}
	}
	walk("", 3)
	return out
}

// The properties below are checked exhaustively over smallPatterns, against
// the brute-force references and against each other.

func TestOverlapAndCovers_AgreeWithBruteForceOnSmallPatterns(t *testing.T) {
	ps := smallPatterns()
	for _, a := range ps {
		for _, b := range ps {
			if got, want := Overlap(a, b), refOverlap(a, b); got != want {
				t.Errorf("Overlap(%q, %q) = %v, brute force says %v", a, b, got, want)
			}
			if got, want := Covers(a, b), refCovers(a, b); got != want {
				t.Errorf("Covers(%q, %q) = %v, brute force says %v", a, b, got, want)
			}
		}
	}
}

func TestOverlap_IsSymmetric(t *testing.T) {
	ps := smallPatterns()
	for _, a := range ps {
		for _, b := range ps {
			if Overlap(a, b) != Overlap(b, a) {
				t.Errorf("Overlap(%q, %q) = %v but Overlap(%q, %q) = %v", a, b, Overlap(a, b), b, a, Overlap(b, a))
			}
		}
	}
}

func TestCovers_ImpliesOverlap(t *testing.T) {
	ps := smallPatterns()
	for _, a := range ps {
		for _, b := range ps {
			if Covers(a, b) && !Overlap(a, b) {
				t.Errorf("Covers(%q, %q) but not Overlap", a, b)
			}
		}
	}
}

func TestCovers_IsReflexiveAndTransitive(t *testing.T) {
	ps := smallPatterns()
	for _, a := range ps {
		if !Covers(a, a) {
			t.Errorf("Covers(%q, %q) = false", a, a)
		}
		for _, b := range ps {
			if !Covers(a, b) {
				continue
			}
			for _, c := range ps {
				if Covers(b, c) && !Covers(a, c) {
					t.Errorf("Covers(%q, %q) and Covers(%q, %q) but not Covers(%q, %q)", a, b, b, c, a, c)
				}
			}
		}
	}
}

// For literal patterns the three relations are all string equality.
func TestMatchOverlapCovers_OnLiteralsAreEquality(t *testing.T) {
	ps := smallPatterns()
	for _, a := range ps {
		if !IsLiteral(a) {
			continue
		}
		for _, b := range ps {
			if IsLiteral(b) && Match(a, b) != (a == b) {
				t.Errorf("Match(%q, %q) = %v for literals", a, b, Match(a, b))
			}
			if !IsLiteral(b) {
				continue
			}
			if Overlap(a, b) != (a == b) || Covers(a, b) != (a == b) {
				t.Errorf("Overlap/Covers(%q, %q) = %v/%v for literals", a, b, Overlap(a, b), Covers(a, b))
			}
		}
	}
}

// Match is the special case of Overlap and Covers where one side is literal.
func TestMatch_IsOverlapAndCoversWithALiteral(t *testing.T) {
	ps := smallPatterns()
	for _, p := range ps {
		for _, s := range ps {
			if !IsLiteral(s) {
				continue
			}
			m := Match(p, s)
			if m != Overlap(p, s) || m != Covers(p, s) {
				t.Errorf("Match(%q, %q) = %v, Overlap = %v, Covers = %v", p, s, m, Overlap(p, s), Covers(p, s))
			}
			if m != refMatch(p, s) {
				t.Errorf("Match(%q, %q) = %v, reference says %v", p, s, m, refMatch(p, s))
			}
		}
	}
}

func TestMatchOverlapCovers_DoNotAllocate(t *testing.T) {
	p, q, s := "foo.*.baz.>", "foo.bar.*.qux", "foo.bar.baz.qux"
	for name, f := range map[string]func(){
		"Match":     func() { sinkBool = Match(p, s) },
		"Overlap":   func() { sinkBool = Overlap(p, q) },
		"Covers":    func() { sinkBool = Covers(p, q) },
		"IsLiteral": func() { sinkBool = IsLiteral(s) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call, want 0", name, n)
		}
	}
}

// The matchers never panic, whatever they are given.
func TestMatchOverlapCovers_DoNotPanicOnInvalidInput(t *testing.T) {
	bad := []string{"", ".", "..", ".a", "a.", ">.a", "a..>", "*.", ". ."}
	for _, a := range bad {
		for _, b := range append(bad, "a", "*", ">", "a.b") {
			Match(a, b)
			Match(b, a)
			Overlap(a, b)
			Covers(a, b)
			Covers(b, a)
			IsLiteral(a)
		}
	}
}

var sinkBool bool
