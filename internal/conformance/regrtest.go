package main

import (
	"bufio"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// result is one module of the suite run in a box.
type result struct {
	module                        string
	run, failed, errors, skipped  int
	expectedFailures, unexpectedS int
	// failing holds the ids of failed and erroring tests, in order.
	failing []string
	// sawSummary: unittest's closing "OK"/"FAILED" line was printed.
	sawSummary bool
	exitCode   int
	timedOut   bool
	dur        time.Duration
	log        string
}

var (
	ranRe     = regexp.MustCompile(`^Ran (\d+) tests? in `)
	summaryRe = regexp.MustCompile(`^(OK|FAILED)(?: \((.*)\))?$`)
	failRe    = regexp.MustCompile(`^(FAIL|ERROR): (\S+) \(([^)\s]+)\)`)
)

// parse reads the output of `python -m test -v MODULE` (regrtest over
// unittest) into r. Counts come from unittest's own summary lines; the
// ids of failing tests from its FAIL:/ERROR: headers.
func parse(out io.Reader, r *result) error {
	seen := map[string]bool{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m := ranRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.run += n
			continue
		}
		if m := summaryRe.FindStringSubmatch(line); m != nil {
			r.sawSummary = true
			for _, kv := range strings.Split(m[2], ", ") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					continue
				}
				n, _ := strconv.Atoi(v)
				switch k {
				case "failures":
					r.failed += n
				case "errors":
					r.errors += n
				case "skipped":
					r.skipped += n
				case "expected failures":
					r.expectedFailures += n
				case "unexpected successes":
					r.unexpectedS += n
				}
			}
			continue
		}
		if m := failRe.FindStringSubmatch(line); m != nil {
			// Python 3.11 prints "name (module.Class.name)"; fixtures
			// such as setUpClass print "setUpClass (module.Class)".
			id := m[3]
			if !strings.HasSuffix(id, "."+m[2]) {
				id += "." + m[2]
			}
			if !seen[id] {
				seen[id] = true
				r.failing = append(r.failing, id)
			}
		}
	}
	return sc.Err()
}

// passed counts the tests that ran and neither failed, errored nor were
// skipped (expected failures count as passed, as unittest says OK).
func (r *result) passed() int {
	return max(0, r.run-r.failed-r.errors-r.skipped)
}

// knownReason returns the reason a failing test id is expected to fail
// in a box, or "".
func knownReason(id string) string {
	for _, k := range known {
		if ok, _ := path.Match(k.id, id); ok {
			return k.reason
		}
	}
	return ""
}

// unknownFailures are the failing ids no known entry explains.
func (r *result) unknownFailures() []string {
	var out []string
	for _, id := range r.failing {
		if knownReason(id) == "" {
			out = append(out, id)
		}
	}
	return out
}

// status sums the module up: ok, known (every failure is a known WASI
// limit), FAIL, CRASH (no unittest summary: an import error, a trap) or
// TIMEOUT.
func (r *result) status() string {
	switch {
	case r.timedOut:
		return "TIMEOUT"
	case !r.sawSummary:
		return "CRASH"
	case r.exitCode == 0 && r.failed == 0 && r.errors == 0:
		return "ok"
	case len(r.failing) > 0 && len(r.unknownFailures()) == 0:
		return "known"
	}
	return "FAIL"
}

// passes reports whether the module meets the bar of make conformance.
func (r *result) passes() bool {
	s := r.status()
	return s == "ok" || s == "known"
}
