package subjects

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [*SyntaxError]. Branch on them with [errors.Is].
var (
	// ErrEmpty means the subject or pattern is the empty string.
	ErrEmpty = errors.New("subjects: empty subject")
	// ErrEmptyToken means a leading, trailing or doubled dot.
	ErrEmptyToken = errors.New("subjects: empty token")
	// ErrInvalidChar means an ASCII whitespace or control byte
	// (0x00-0x20 or 0x7f).
	ErrInvalidChar = errors.New("subjects: invalid character")
	// ErrFullWildcard means a ">" token that is not the last token.
	ErrFullWildcard = errors.New("subjects: full wildcard '>' before last token")
	// ErrWildcard means a "*" or ">" token in a subject that must be literal.
	ErrWildcard = errors.New("subjects: wildcard in literal subject")
)

// A SyntaxError describes why a subject or pattern is invalid and where.
type SyntaxError struct {
	// Subject is the rejected input.
	Subject string
	// Offset is the byte offset in Subject of the offending character, or
	// of the start of the offending token. For an empty token it is where
	// that token would start, so a trailing dot gives len(Subject).
	Offset int
	// Err is one of the package's sentinel errors.
	Err error
}

// Error returns a message naming the problem and where it is, for example
//
//	subjects: empty token at offset 4 in "foo..bar"
func (e *SyntaxError) Error() string {
	switch {
	case e.Subject == "":
		return e.Err.Error()
	case e.Err == ErrInvalidChar && e.Offset < len(e.Subject):
		return fmt.Sprintf("%v %q at offset %d in %q", e.Err, rune(e.Subject[e.Offset]), e.Offset, e.Subject)
	default:
		return fmt.Sprintf("%v at offset %d in %q", e.Err, e.Offset, e.Subject)
	}
}

// Unwrap returns the sentinel error, so that errors.Is(err, ErrEmptyToken)
// and friends work.
func (e *SyntaxError) Unwrap() error { return e.Err }
