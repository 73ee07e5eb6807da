// Package debwheel makes Python wheels from Debian's packages, for tests
// that install real libraries (requests, httpx, fastapi, ...) into a box
// without reaching PyPI: this machine and CI reach Debian's archive only.
//
// It owns three steps, each usable alone:
//
//   - Fetch: the pinned Debian packages (Bookworm, one list) through apt's
//     own client (apt-get download), cached outside the repository under
//     the user's cache directory (wasmbox/debs).
//   - Convert: a python3-* .deb's /usr/lib/python3/dist-packages becomes a
//     NAME-VERSION-py3-none-any.whl: its files, plus a .dist-info with
//     the METADATA of the package's own egg-info or dist-info, WHEEL and
//     RECORD. Requires-Dist comes from the package's Debian Depends (the
//     set Debian installs and tests together), less what a Pin drops.
//     Compiled extension modules are refused unless a Pin omits them as
//     optional speedups.
//   - NewIndex: a directory of wheels served as a PEP 503 "simple" index
//     (with PEP 658 metadata), for pip, uv or poetry on 127.0.0.1.
//
// A .deb is outside input: the converter never writes its paths to disk
// (a wheel is built in memory from the data archive's entries), and an
// entry that is absolute, climbs with "..", links out of the package's
// tree, or is a device is an error.
//
// It must not: fetch from anywhere but apt's configured sources, write
// anywhere but the cache and the directory it is given, or print.
package debwheel
