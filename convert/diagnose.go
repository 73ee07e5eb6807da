package convert

import (
	"fmt"
	"regexp"
	"strings"
)

// notFound matches the shell's message for a missing command.
var notFound = regexp.MustCompile(`(?m)^(?:/bin/)?sh: ([^\s:]+): not found$`)

// nativeTools explains why well-known programs of Dockerfiles are absent
// from a box.
var nativeTools = map[string]string{
	"apt-get":   "it installs native Debian packages",
	"apt":       "it installs native Debian packages",
	"dpkg":      "it installs native Debian packages",
	"apk":       "it installs native Alpine packages",
	"yum":       "it installs native RPM packages",
	"dnf":       "it installs native RPM packages",
	"microdnf":  "it installs native RPM packages",
	"rpm":       "it installs native RPM packages",
	"git":       "no Wasm stand-in for git exists yet (COPY the sources from the build context instead)",
	"npm":       "no Wasm stand-in for Node.js and npm exists yet",
	"node":      "no Wasm stand-in for Node.js exists yet",
	"make":      "it is a native program; no Wasm stand-in exists",
	"gcc":       "native compilers cannot run in a box and their output could not either",
	"cc":        "native compilers cannot run in a box and their output could not either",
	"useradd":   "it is a native program; add users by writing /etc/passwd, or use USER with a numeric id",
	"adduser":   "it is a native program; add users by writing /etc/passwd, or use USER with a numeric id",
	"addgroup":  "it is a native program; add groups by writing /etc/group",
	"groupadd":  "it is a native program; add groups by writing /etc/group",
	"systemctl": "a box has no service manager",
	"sudo":      "a box has no users to switch between",
}

// diagnose explains a RUN that failed because a command is missing:
// which program, and why a box has none.
func diagnose(stderrTail string) string {
	m := notFound.FindStringSubmatch(stderrTail)
	if m == nil {
		return ""
	}
	prog := m[1]
	if why, ok := nativeTools[prog]; ok {
		return fmt.Sprintf("%s is a native program; no Wasm stand-in exists: %s", prog, why)
	}
	return fmt.Sprintf("%s: command not found in the box (the shell base has the core utilities only; `busybox --list` shows them)", prog)
}

// pipNoMatch matches pip's message for a requirement it found nowhere.
var pipNoMatch = regexp.MustCompile(`(?m)^ERROR: (?:Could not find a version that satisfies the requirement|No matching distribution found for) (\S+)`)

// pipTriedNetwork matches what pip prints when it tried to reach an index.
var pipTriedNetwork = regexp.MustCompile(`ssl module in Python is not available|Failed to establish a new connection|NewConnectionError|Could not fetch URL https?://|Max retries exceeded with url`)

// diagnosePip explains a pip install that failed because it could not
// reach a package index. The same failure with --no-index is a wheel
// missing from the --find-links directories, reported as pip said.
func diagnosePip(cmdline, stderrTail string) string {
	m := pipNoMatch.FindStringSubmatch(stderrTail)
	if m == nil || strings.Contains(cmdline, "--no-index") && !pipTriedNetwork.MatchString(stderrTail) {
		return ""
	}
	return fmt.Sprintf("pip could not download %s: it could not reach a package index (pip's own words below; RUN has the public network unless build --network or RUN --network=none says otherwise, and an index on the host's loopback needs build --network allow=127.0.0.1:PORT); or COPY the wheels into the build context and install them with pip install --no-index --find-links DIR", m[1])
}

// noProcesses is what CPython for WASI says when a program of the box
// wants to start a process.
const noProcesses = "wasi does not support processes"

// pipBuilds matches pip's steps that run a build backend, each in a
// subprocess: a source tree or sdist needs them, a wheel does not.
var pipBuilds = regexp.MustCompile(`Installing build dependencies|Getting requirements to build|Preparing metadata|Building wheel|pip subprocess to install build dependencies|setup\.py`)

// venvCmd matches a command line that makes a virtual environment.
var venvCmd = regexp.MustCompile(`(?:^|[\s;&|(])(?:\S*/)?(?:python3?(?:\.\d+)?\s+(?:-\S+\s+)*-m\s*venv|virtualenv)\b`)

// diagnoseSubprocess explains a RUN that failed because Python wanted a
// process (CPython for WASI has none): pip building a package from its
// sources (pip install ., an sdist), python -m venv installing pip with
// ensurepip, or any other program of the box; and says what to do.
func diagnoseSubprocess(cmdline, stderrTail string) string {
	if !strings.Contains(stderrTail, noProcesses) {
		return ""
	}
	const why = "WASI has no processes, and Python in a box cannot start one"
	switch {
	case venvCmd.MatchString(cmdline) && !strings.Contains(cmdline, "--without-pip"):
		return "python -m venv installs pip with ensurepip, which runs pip in a subprocess: " + why +
			"; make it with python -m venv --without-pip --system-site-packages DIR, and install into it with the base's pip: DIR/bin/python -m pip install --no-index --find-links WHEELS PACKAGE"
	case pipBuilds.MatchString(stderrTail):
		return "pip builds a package from its sources (pip install ., a source archive) with a build backend in a subprocess: " + why +
			"; build the wheels outside the box (pip wheel . -w wheels), COPY them into the build context and pip install --no-index --find-links DIR PACKAGE: a box installs wheels only"
	}
	return "the program started a process (subprocess, os.system, multiprocessing): " + why +
		"; the box's shell can: run those programs from RUN, not from Python"
}
