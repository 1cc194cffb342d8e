package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFlagsTakesSidecarSettings(t *testing.T) {
	c, err := parseFlags([]string{"--set", " NATSFAN_CONSUMER_MAX_LAG_BYTES=1GiB, NATSFAN_RETENTION_AGE=0 ,"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"NATSFAN_CONSUMER_MAX_LAG_BYTES=1GiB", "NATSFAN_RETENTION_AGE=0"}
	if !slices.Equal(c.settings, want) {
		t.Errorf("settings %q, want %q", c.settings, want)
	}
}

func TestParseFlagsRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "CONSUMER_MAX_LAG_BYTES=1GiB"}, `bad -set: "CONSUMER_MAX_LAG_BYTES=1GiB" is not NATSFAN_NAME=VALUE`},
		{[]string{"--set", "NATSFAN_RETENTION_AGE"}, `"NATSFAN_RETENTION_AGE" is not NATSFAN_NAME=VALUE`},
		{[]string{"--set", "NATSFAN_=1"}, `"NATSFAN_=1" is not NATSFAN_NAME=VALUE`},
		{[]string{"--n", "1,x"}, `bad -n: "x" is not a positive number`},
		{[]string{"--sizes", "8"}, "want sizes of at least 9 bytes"},
		{[]string{"--modes", "direct,nats"}, `unknown mode "nats"`},
		{[]string{"--profile-duration", "500ms"}, "-profile-duration at least 1s"},
		{[]string{"--pub-n", "1,50", "--pub-messages", "10"}, "-pub-messages at least the largest -pub-n"},
		{[]string{"--pub-size", "18"}, "-pub-size of at least 19 bytes"},
		{[]string{"--requests", "-1"}, "-requests 0 or more"},
		{[]string{"--req-inbox", "new,mux"}, `bad -req-inbox: "mux" is neither new nor old`},
	} {
		_, err := parseFlags(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
