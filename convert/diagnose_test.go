package convert

import (
	"strings"
	"testing"
)

func TestDiagnosePip(t *testing.T) {
	// What pip 22.3 printed in a box (no ssl, no sockets).
	const index = `WARNING: pip is configured with locations that require TLS/SSL, however the ssl module in Python is not available.
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'SSLError("Can't connect to HTTPS URL because the SSL module is not available.")': /simple/requests/
ERROR: Could not find a version that satisfies the requirement requests (from versions: none)
ERROR: No matching distribution found for requests
`
	const missingWheel = `Looking in links: /wheels
ERROR: Could not find a version that satisfies the requirement nothere (from versions: none)
ERROR: No matching distribution found for nothere
`
	for _, tc := range []struct {
		name, cmdline, tail, want string
	}{
		{"index", "pip install requests", index, "pip could not download requests: it could not reach a package index"},
		{"index despite --no-index in a later command", "pip install --no-index x && pip install requests", index, "pip could not download requests: it could not reach a package index"},
		{"wheel missing from --find-links", "pip install --no-index --find-links /wheels nothere", missingWheel, ""},
		{"another failure", "pip install x", "ERROR: x-1.0.tar.gz: subprocess-exited-with-error\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diagnosePip(tc.cmdline, tc.tail)
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Errorf("diagnosePip = %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func TestDiagnoseSubprocess(t *testing.T) {
	// What python -m venv and pip 23 printed in a box.
	const venv = "Error: [Errno 58] wasi does not support processes.\n"
	const source = `Processing /proj
  Installing build dependencies: started
  ERROR: Error [Errno 58] wasi does not support processes. while executing command pip subprocess to install build dependencies
  Installing build dependencies: finished with status 'error'
ERROR: Could not install packages due to an OSError: [Errno 58] wasi does not support processes.
`
	for _, tc := range []struct {
		name, cmdline, tail, want string
	}{
		{"venv", "python -m venv /venv", venv, "python -m venv installs pip with ensurepip"},
		{"venv by path", "/usr/local/bin/python3 -m venv /venv && /venv/bin/pip install x", venv, "python -m venv installs pip with ensurepip"},
		{"pip install .", "pip install .", source, "pip builds a package from its sources"},
		{"pip install in a venv without pip", "python -m venv --without-pip /v && /v/bin/python -m pip install /proj", source, "pip builds a package from its sources"},
		{"another program", "python tool.py", "OSError: [Errno 58] wasi does not support processes.\n", "the program started a process"},
		{"another failure", "python -m venv /venv", "Error: [Errno 28] No space left on device\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diagnoseSubprocess(tc.cmdline, tc.tail)
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Errorf("diagnoseSubprocess = %q, want prefix %q", got, tc.want)
			}
			if tc.want != "" && !strings.Contains(got, "WASI has no processes") {
				t.Errorf("diagnoseSubprocess = %q: does not say why", got)
			}
		})
	}
}
