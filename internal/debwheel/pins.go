package debwheel

// Pin is one Debian binary package at one version, and what its wheel
// leaves out.
type Pin struct {
	// Package is the Debian binary package (python3-requests).
	Package string
	// Version is its Debian version (2.28.1+dfsg-1).
	Version string
	// Drop names Debian Depends the wheel does not require, each with the
	// reason (a command-line tool's needs that upstream makes an extra).
	Drop map[string]string
	// Omit names compiled modules (path.Match patterns on the path in
	// dist-packages) the wheel leaves out, each with the reason they are
	// optional; any other compiled module is an error.
	Omit map[string]string
}

// Bookworm is the dependency closure, in Debian 12, of requests, httpx,
// uvicorn and fastapi: every python3-* package their Depends name, at the
// version bookworm (and bookworm-security) serves. All are Architecture:
// all: charset-normalizer ships no mypyc module and pydantic 1.10 is built
// without Cython, so no compiled module is left out. Convert checks that
// the list is closed under Depends.
//
// When a version is gone from the archive, Fetch lists the versions apt
// knows: update the pin here.
var Bookworm = []Pin{
	{Package: "python3-anyio", Version: "3.6.2-1"},
	{Package: "python3-asgiref", Version: "3.6.0-1"},
	{Package: "python3-certifi", Version: "2022.9.24-1"},
	{Package: "python3-chardet", Version: "5.1.0+dfsg-2", Drop: map[string]string{
		"python3-pkg-resources": "no module of chardet imports pkg_resources (a leftover of Debian's older chardetect script)",
	}},
	{Package: "python3-charset-normalizer", Version: "3.0.1-2"},
	{Package: "python3-click", Version: "8.1.3-2"},
	{Package: "python3-colorama", Version: "0.4.6-2"},
	{Package: "python3-fastapi", Version: "0.92.0-1"},
	{Package: "python3-h11", Version: "0.14.0-1.1~deb12u1"},
	{Package: "python3-httpcore", Version: "0.16.3-1"},
	{Package: "python3-httpx", Version: "0.23.3-1", Drop: map[string]string{
		"python3-click":    "Debian's /usr/bin/httpx needs it; upstream's cli extra",
		"python3-pygments": "Debian's /usr/bin/httpx needs it; upstream's cli extra",
		"python3-rich":     "Debian's /usr/bin/httpx needs it; upstream's cli extra",
	}},
	{Package: "python3-idna", Version: "3.3-1+deb12u1"},
	{Package: "python3-pydantic", Version: "1.10.4-1+deb12u1"},
	{Package: "python3-requests", Version: "2.28.1+dfsg-1"},
	{Package: "python3-rfc3986", Version: "1.5.0-2"},
	{Package: "python3-six", Version: "1.16.0-4"},
	{Package: "python3-sniffio", Version: "1.2.0-1"},
	{Package: "python3-starlette", Version: "0.26.1-1+deb12u2"},
	{Package: "python3-typing-extensions", Version: "4.4.0-1"},
	{Package: "python3-urllib3", Version: "1.26.12-1+deb12u4"},
	{Package: "python3-uvicorn", Version: "0.17.6-1"},
	{Package: "python3-wsproto", Version: "1.2.0-1"},
}
