package subjects

import (
	"errors"
	"testing"
)

// validationCase is one input to the validators: want is the sentinel error
// (nil for valid) and offset the byte offset the error must report.
type validationCase struct {
	in     string
	want   error
	offset int
}

func TestValidatePattern(t *testing.T) {
	tests := []validationCase{
		// From nats-server TestSublistValidSubjects.
		{".", ErrEmptyToken, 0},
		{".foo", ErrEmptyToken, 0},
		{"foo.", ErrEmptyToken, 4},
		{"foo..bar", ErrEmptyToken, 4},
		{">.bar", ErrFullWildcard, 0},
		{"foo.>.bar", ErrFullWildcard, 4},
		{"foo", nil, 0},
		{"foo.bar.*", nil, 0},
		{"foo.bar.>", nil, 0},
		{"*", nil, 0},
		{">", nil, 0},
		// Wildcard characters inside a longer token are literal bytes
		// (TestSublistValidSubjects).
		{"foo*", nil, 0},
		{"foo**", nil, 0},
		{"foo.**", nil, 0},
		{"foo*bar", nil, 0},
		{"foo.*bar", nil, 0},
		{"foo*.bar", nil, 0},
		{"*bar", nil, 0},
		{"foo>", nil, 0},
		{"foo.>>", nil, 0},
		{"foo>bar", nil, 0},
		{"foo.>bar", nil, 0},
		{"foo>.bar", nil, 0},
		{">bar", nil, 0},
		{">>.bar", nil, 0},
		// Embedded NUL: nats-server rejects it only when recovering its file
		// store (isValidSubject with checkRunes); we always reject it.
		{"foo.bar.baz.\x00", ErrInvalidChar, 12},
		// From nats-server testSublistBadSubjectOnRemove.
		{"a.b..d", ErrEmptyToken, 4},
		{"a.>.b", ErrFullWildcard, 2},
		// From nats-server TestSublistMatchWithEmptyTokens.
		{"..foo", ErrEmptyToken, 0},
		{"foo..", ErrEmptyToken, 4},
		{"foo...bar", ErrEmptyToken, 4},
		// From nats-server testSublistInsertWithWildcardsAsLiterals.
		{"foo.*-", nil, 0},
		{"foo.>-", nil, 0},
		// Wildcards in the middle are fine, '>' only at the end.
		{"*.*.*", nil, 0},
		{"foo.*.>", nil, 0},
		{"*.>", nil, 0},
		{">.>", ErrFullWildcard, 0},
		{"foo.>.", ErrFullWildcard, 4},
		// Whitespace nats-server rejects (isValidSubject: "\t\n\f\r ").
		{"foo bar", ErrInvalidChar, 3},
		{" ", ErrInvalidChar, 0},
		{"foo.\tbar", ErrInvalidChar, 4},
		{"foo\n", ErrInvalidChar, 3},
		{"\rfoo", ErrInvalidChar, 0},
		{"foo.\f", ErrInvalidChar, 4},
		{"foo.* ", ErrInvalidChar, 5},
		// Control bytes nats-server accepts and we reject.
		{"foo\v", ErrInvalidChar, 3},
		{"foo.\x1b[31m", ErrInvalidChar, 4},
		{"del\x7f", ErrInvalidChar, 3},
		{"\x00", ErrInvalidChar, 0},
		// Everything else is an ordinary byte, as in nats-server.
		{"$JS.API.CONSUMER.CREATE.>", nil, 0},
		{"_INBOX.abc123", nil, 0},
		{"ünïcödé.日本語", nil, 0},
		{"nbsp\u00a0inside", nil, 0},
		{"invalid.\xff\xfe.utf8", nil, 0},
		{"~!@#$%^&()-_=+[]{}|;:'\",<>/?`", nil, 0},
		// The first problem from the left wins.
		{"a b..c", ErrInvalidChar, 1},
		{"a..b c", ErrEmptyToken, 2},
		{"a.>.b c", ErrFullWildcard, 2},
		{"", ErrEmpty, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidatePattern(tt.in)
			checkCase(t, tt, err)
			checkValidation(t, tt.in, false, err)
		})
	}
}

func TestValidateSubject(t *testing.T) {
	tests := []validationCase{
		// From nats-server TestSublistValidLiteralSubjects.
		{"foo", nil, 0},
		{".foo", ErrEmptyToken, 0},
		{"foo.", ErrEmptyToken, 4},
		{"foo..bar", ErrEmptyToken, 4},
		{"foo.bar.*", ErrWildcard, 8},
		{"foo.bar.>", ErrWildcard, 8},
		{"*", ErrWildcard, 0},
		{">", ErrWildcard, 0},
		{"foo*", nil, 0},
		{"foo**", nil, 0},
		{"foo.**", nil, 0},
		{"foo*bar", nil, 0},
		{"foo.*bar", nil, 0},
		{"foo*.bar", nil, 0},
		{"*bar", nil, 0},
		{"foo>", nil, 0},
		{"foo>>", nil, 0},
		{"foo.>>", nil, 0},
		{"foo>bar", nil, 0},
		{"foo.>bar", nil, 0},
		{"foo>.bar", nil, 0},
		{">bar", nil, 0},
		// A misplaced '>' is a wildcard first: a literal subject has none.
		{"foo.>.bar", ErrWildcard, 4},
		{"foo.*.bar", ErrWildcard, 4},
		// nats-server's IsValidLiteralSubject does not look for whitespace;
		// its IsValidPublishSubject does, and so do we.
		{"foo bar", ErrInvalidChar, 3},
		{"foo.bar\r\n", ErrInvalidChar, 7},
		{"a\x00b", ErrInvalidChar, 1},
		{"ünïcödé.日本語", nil, 0},
		{"", ErrEmpty, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateSubject(tt.in)
			checkCase(t, tt, err)
			checkValidation(t, tt.in, true, err)
		})
	}
}

func checkCase(t *testing.T, tt validationCase, err error) {
	t.Helper()
	if tt.want == nil {
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, tt.want) {
		t.Fatalf("got %v, want errors.Is(err, %v)", err, tt.want)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %T, want *SyntaxError", err)
	}
	if se.Offset != tt.offset {
		t.Fatalf("got offset %d (%v), want %d", se.Offset, err, tt.offset)
	}
}

func TestSyntaxError_MessageSaysWhatAndWhere(t *testing.T) {
	tests := []struct {
		in      string
		literal bool
		want    string
	}{
		{"", false, `subjects: empty subject`},
		{"foo..bar", false, `subjects: empty token at offset 4 in "foo..bar"`},
		{".foo", false, `subjects: empty token at offset 0 in ".foo"`},
		{"foo.", false, `subjects: empty token at offset 4 in "foo."`},
		{"foo\tbar", false, `subjects: invalid character '\t' at offset 3 in "foo\tbar"`},
		{"foo bar", false, `subjects: invalid character ' ' at offset 3 in "foo bar"`},
		{"a\x00", false, `subjects: invalid character '\x00' at offset 1 in "a\x00"`},
		{"a\x7f", false, `subjects: invalid character '\x7f' at offset 1 in "a\x7f"`},
		{"foo.>.bar", false, `subjects: full wildcard '>' before last token at offset 4 in "foo.>.bar"`},
		{"foo.*", true, `subjects: wildcard in literal subject at offset 4 in "foo.*"`},
	}
	for _, tt := range tests {
		err := validate(tt.in, tt.literal)
		if err == nil {
			t.Fatalf("validate(%q, %v) = nil, want error", tt.in, tt.literal)
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("validate(%q, %v):\n got %s\nwant %s", tt.in, tt.literal, got, tt.want)
		}
	}
}

func TestIsLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		// From nats-server TestSubjectIsLiteral.
		{"foo", true},
		{"foo.bar", true},
		{"foo*.bar", true},
		{"*", false},
		{">", false},
		{"foo.*", false},
		{"foo.>", false},
		{"foo.*.>", false},
		{"foo.*.bar", false},
		{"foo.bar.>", false},
		// Wildcard characters inside longer tokens do not count.
		{"*foo.>bar.**.>>", true},
		{"*.foo", false},
	}
	for _, tt := range tests {
		if got := IsLiteral(tt.in); got != tt.want {
			t.Errorf("IsLiteral(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// A literal subject is exactly a valid pattern that IsLiteral accepts.
func TestValidateSubject_IsValidPatternThatIsLiteral(t *testing.T) {
	for _, p := range append(smallPatterns(), "foo.>.bar", "a..b", "a b", "") {
		want := ValidatePattern(p) == nil && IsLiteral(p)
		if got := ValidateSubject(p) == nil; got != want {
			t.Errorf("ValidateSubject(%q) ok = %v, want %v", p, got, want)
		}
	}
}

func TestValidatePattern_DoesNotAllocateWhenValid(t *testing.T) {
	p := "foo.bar.*.baz.>"
	if n := testing.AllocsPerRun(100, func() { sinkErr = ValidatePattern(p) }); n != 0 {
		t.Errorf("ValidatePattern allocates %v times, want 0", n)
	}
}

var sinkErr error
