package subjects_test

import (
	"errors"
	"fmt"

	"github.com/natsfan/natsfan/subjects"
)

func ExampleMatch() {
	for _, subject := range []string{"orders.eu.created", "orders.eu", "orders.eu.created.v2"} {
		fmt.Printf("%-22s *: %-5v >: %-5v literal: %v\n", subject,
			subjects.Match("orders.*.created", subject),
			subjects.Match("orders.>", subject),
			subjects.Match("orders.eu*", subject), // "eu*" is a literal token, not a wildcard
		)
	}
	// Output:
	// orders.eu.created      *: true  >: true  literal: false
	// orders.eu              *: false >: true  literal: false
	// orders.eu.created.v2   *: false >: true  literal: false
}

func ExampleValidatePattern() {
	for _, p := range []string{"orders.*.>", "orders..created", "orders.>.created", "orders.eu created"} {
		err := subjects.ValidatePattern(p)
		fmt.Println(err, errors.Is(err, subjects.ErrEmptyToken))
	}
	// Output:
	// <nil> false
	// subjects: empty token at offset 7 in "orders..created" true
	// subjects: full wildcard '>' before last token at offset 7 in "orders.>.created" false
	// subjects: invalid character ' ' at offset 9 in "orders.eu created" false
}

func ExampleValidateSubject() {
	err := subjects.ValidateSubject("orders.*")
	var se *subjects.SyntaxError
	if errors.As(err, &se) && errors.Is(err, subjects.ErrWildcard) {
		fmt.Printf("cannot publish to %q: wildcard at byte %d\n", se.Subject, se.Offset)
	}
	// Output:
	// cannot publish to "orders.*": wildcard at byte 7
}

func ExampleOverlap() {
	// Can a message reach both subscriptions?
	fmt.Println(subjects.Overlap("orders.*.created", "orders.eu.*"))
	fmt.Println(subjects.Overlap("orders.*", "orders.*.created"))
	// Output:
	// true
	// false
}

func ExampleCovers() {
	// Does the first subscription make the second redundant?
	fmt.Println(subjects.Covers("orders.>", "orders.*.created"))
	fmt.Println(subjects.Covers("orders.*.created", "orders.>"))
	// Output:
	// true
	// false
}
