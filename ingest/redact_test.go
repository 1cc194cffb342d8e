package ingest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedactURLs_HidesUserInformation(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"nats://user:pass@host:4222"}, []string{"nats://redacted@host:4222"}},
		{[]string{"nats://sometoken@host"}, []string{"nats://redacted@host"}},
		{[]string{"tls://host:4443"}, []string{"tls://host:4443"}},
		{[]string{"host:4222"}, []string{"nats://host:4222"}},
		{[]string{"nats://a:b@h1, nats://h2", "h3"}, []string{"nats://redacted@h1", "nats://h2", "nats://h3"}},
		{[]string{"nats://user:pass@[::1"}, []string{"nats://redacted@[::1"}},
		{[]string{"tok@host:4222", "u:p@[::1]:4222"}, []string{"nats://redacted@host:4222", "nats://redacted@[::1]:4222"}},
		{nil, nil},
	} {
		got := redactURLs(tc.in)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitize_DropsTheURLFromAURLError(t *testing.T) {
	for _, malformed := range []string{"nats://user:pass@host:notaport", "nats://user:pass@[::1", "nats://user:pass/x@host:4222"} {
		_, err := url.Parse(malformed)
		if err == nil || !strings.Contains(err.Error(), "pass") {
			t.Fatalf("url.Parse(%q) error %v: the premise of sanitize changed", malformed, err)
		}
		if got := sanitize(err).Error(); strings.Contains(got, "pass") {
			t.Errorf("sanitize(%v) = %q", err, got)
		}
	}
	other := errors.New("nats: authorization violation")
	if sanitize(other) != other {
		t.Error("sanitize changed an error without a URL")
	}
}

// secretURLs are upstream URLs, each with the secrets it holds in every
// spelling that must not be shown (as written, and percent-decoded).
var secretURLs = []struct {
	url     string
	secrets []string
}{
	{"nats://user:s3cr3t@host:4222", []string{"s3cr3t"}},
	{"nats://s3cr3t@host:4222", []string{"s3cr3t"}},
	{"s3cr3t@host:4222", []string{"s3cr3t"}},
	{"user:s3cr3t@host:4222", []string{"s3cr3t"}},
	{"user:s3cr3t@[::1]:4222", []string{"s3cr3t"}},
	{"tls://user:s3cr3t@[2001:db8::1]:4443", []string{"s3cr3t"}},
	{"nats://us%65r:s3%63r3t%40x@host:4222", []string{"s3%63r3t", "s3cr3t"}},
	{"nats://user:s3cr3t%zz@host:4222", []string{"s3cr3t"}},
	{"nats://user:s3cr3t/x@host:4222", []string{"s3cr3t"}},
	{"nats://s3cr3t/x@host:4222", []string{"s3cr3t"}},
	{"nats://user:s3cr3t#x@host:4222", []string{"s3cr3t"}},
	{"nats://user:s3cr3t?x@host:4222", []string{"s3cr3t"}},
	{"nats://user:s3cr3t@[::1", []string{"s3cr3t"}},
	{"nats://user:s3cr3t@host:notaport", []string{"s3cr3t"}},
	{"s3cr3t@nats://host:4222", []string{"s3cr3t"}},
	{"user:s3 cr3t@host:4222", []string{"s3 cr3t", "cr3t"}},
}

func TestRedactURLs_AndCheckURLs_NeverShowASecret(t *testing.T) {
	for _, tc := range secretURLs {
		shown := redactURLs([]string{tc.url, "nats://other:4222"})
		_, err := checkURLs([]string{"nats://other:4222", tc.url})
		if err != nil {
			shown = append(shown, err.Error())
		}
		for _, secret := range tc.secrets {
			for _, s := range shown {
				if strings.Contains(s, secret) {
					t.Errorf("%q: %q shows %q", tc.url, s, secret)
				}
			}
		}
	}
}

func TestParseURL_ReadsURLsAsNatsGoDoesAndNeverQuotesASecret(t *testing.T) {
	for _, tc := range secretURLs {
		u, err := ParseURL(tc.url)
		if err == nil {
			if u.User == nil || u.Scheme == "" {
				t.Errorf("ParseURL(%q) = %v: no user information or no scheme", tc.url, u)
			}
			continue
		}
		for _, secret := range tc.secrets {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ParseURL(%q) error %q shows %q", tc.url, err, secret)
			}
		}
	}
	for in, want := range map[string]string{
		"tok@host:4222":        "nats://tok@host:4222",
		"u:p@[::1]:4222":       "nats://u:p@[::1]:4222",
		"host:4222":            "nats://host:4222",
		"tls://a%40b@h":        "tls://a%40b@h",
		"nats://u:p%2Fq@h:1":   "nats://u:p%2Fq@h:1",
		"wss://h/path?q=1":     "wss://h/path?q=1",
		"nats://tok@en@h:4222": "nats://tok%40en@h:4222",
	} {
		u, err := ParseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for in, want := range map[string]error{
		"nats://u:50%off@h:4222": ErrURLUserinfo,
		"nats://tok/en@h:4222":   errAtOutsideUserinfo,
		"nats://h:4222/x@y":      errAtOutsideUserinfo,
	} {
		if _, err := ParseURL(in); !errors.Is(err, want) {
			t.Errorf("ParseURL(%q) error %v, want %v", in, err, want)
		}
	}
	if _, err := ParseURL("nats://h:notaport"); err == nil || !strings.Contains(err.Error(), `invalid port ":notaport"`) {
		t.Errorf("ParseURL of a bad port: error %v, want the reason", err)
	}
}

func TestThrottle_LetsTheFirstThroughThenOnePerInterval(t *testing.T) {
	th := throttle{every: time.Minute}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {time.Second, false}, {59 * time.Second, false},
		{time.Minute, true}, {time.Minute + time.Second, false}, {5 * time.Minute, true},
	} {
		if got := th.allow(t0.Add(tc.at)); got != tc.want {
			t.Errorf("allow at +%s = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestMentionsSubscription_MatchesThePatternExactly(t *testing.T) {
	text := `nats: permissions violation: Permissions Violation for Subscription to "orders.>"`
	for pattern, want := range map[string]bool{"orders.>": true, "orders": false, "orders.>.x": false, "rders.>": false} {
		if got := mentionsSubscription(text, pattern); got != want {
			t.Errorf("mentionsSubscription(%q) = %v, want %v", pattern, got, want)
		}
	}
}
