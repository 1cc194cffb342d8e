package subjects

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// subjectOf returns a literal subject of n tokens like "tok0.tok1.tok2".
func subjectOf(n int) string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = "tok" + strconv.Itoa(i)
	}
	return strings.Join(toks, ".")
}

// BenchmarkMatch matches literal subjects of 1, 3 and 8 tokens against a
// literal pattern, one with '*' in every position but the first, and one
// ending in '>', plus a miss on the last token.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, 3, 8} {
		subject := subjectOf(n)
		pwc := strings.Repeat("*.", n-1) + "*"
		if n > 1 {
			pwc = "tok0." + strings.Repeat("*.", n-2) + "*"
		}
		miss := subject[:len(subject)-1] + "X"
		for _, bc := range []struct{ name, pattern string }{
			{"literal", subject},
			{"pwc", pwc},
			{"fwc", "tok0.>"},
			{"miss", miss},
		} {
			if bc.name == "fwc" && n == 1 {
				bc.pattern = ">"
			}
			b.Run(fmt.Sprintf("%s/%dtokens", bc.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					sinkBool = Match(bc.pattern, subject)
				}
			})
		}
	}
}

func BenchmarkValidatePattern(b *testing.B) {
	for _, p := range []string{"foo", "orders.eu.*.created", "$JS.API.CONSUMER.CREATE.ORDERS.*.>", subjectOf(8)} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				sinkErr = ValidatePattern(p)
			}
		})
	}
}

func BenchmarkValidateSubject(b *testing.B) {
	s := "orders.eu.customer-42.created"
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = ValidateSubject(s)
	}
}

// BenchmarkValidatePattern_Invalid measures the error path, which allocates
// the *SyntaxError.
func BenchmarkValidatePattern_Invalid(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = ValidatePattern("orders..created")
	}
}

func BenchmarkOverlap(b *testing.B) {
	for _, bc := range []struct{ name, a, b string }{
		{"literal", "orders.eu.created", "orders.eu.created"},
		{"pwc", "orders.*.created", "orders.eu.*"},
		{"fwc", "orders.>", "*.eu.created.v2"},
		{"disjoint", "orders.eu.*.created", "orders.eu.*.deleted"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = Overlap(bc.a, bc.b)
			}
		})
	}
}

func BenchmarkCovers(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = Covers("orders.*.>", "orders.eu.created.*")
	}
}
