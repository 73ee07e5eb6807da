#!/usr/bin/env bash
# shims/python/package.sh — the python base's files, made from what
# build.sh compiled: the interpreter as it ships, the stdlib as sourceless
# .pyc, and pip. See README.md beside it.
#
# Usage: shims/python/package.sh          (prints the output directory last)
#
# The output is cached under its own key: this file's contents, the start-up
# hook's (../pysite) plus build.sh's key. Editing them re-packages in
# seconds; it never recompiles CPython.
set -Eeuo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
SELF=$HERE/package.sh
# The start-up hook (what WASI cannot do, said clearly), laid beside the
# stdlib, where every interpreter of the box finds it, one in a virtual
# environment too; build.sh's site imports it.
PYSITE=$HERE/../pysite

# What never goes into the box, by rule (README.md, "What is left out"):
# every test suite (a directory named test, tests or idle_test; the
# conformance box brings its own), ensurepip's bundled wheels (ensurepip
# runs pip in a subprocess, which WASI cannot start, and pip is installed
# already), and the pure-Python half of each C module the build does not
# have (its manifest's builtin-modules), as listed below: without its C half
# the Python half cannot import. Everything else of Lib/ ships, the
# pure-Python fallbacks too (_pydecimal, _pyio, _strptime, ...): CPython's
# own modules and tests import them.
# The CA certificates the box verifies TLS peers with: Debian's
# ca-certificates (the binary package, whose certificates Debian generates
# from Mozilla's list), pinned like the sources of build.sh. The python
# base brings them because the box has no other: an image's own /etc is not
# part of the python base, and ssl.create_default_context() must verify
# against a CA store as it does in Debian's python:3.X images, where
# ca-certificates is installed.
CA_PIN="ca-certificates=20250419~deb12u2"

HALVES=(
	# C half     what imports it, so cannot import without it
	"_tkinter    ./tkinter ./idlelib ./turtle.py ./turtledemo" # Tk: no display, no Tcl/Tk for WASI
	"_ctypes     ./ctypes"                                       # no libffi, no dlopen
	"_curses     ./curses"                                       # no terminal library
	"_msi        ./msilib"                                       # Windows only
	"_winapi     ./asyncio/windows_events.py ./asyncio/windows_utils.py ./multiprocessing/popen_spawn_win32.py"
	"winreg      ./distutils/_msvccompiler.py ./distutils/msvc9compiler.py ./distutils/msvccompiler.py"
	"nt          ./encodings/mbcs.py ./encodings/oem.py" # codecs.mbcs_encode: Windows only
)

# pip's vendored libraries import mmap at module level, only to use it on
# paths a box never takes (caching HTTP responses, typing a progress bar).
# WASI has no mmap (CPython does not build it there: wasi-libc's emulation
# is partial), and no umask. Each edit must match exactly once.
PIP_EDITS=$(
	cat <<-'EOF'
		pip/_vendor/cachecontrol/filewrapper.py
		import mmap
		try:
		    import mmap
		except ImportError:  # WASI (wasmbox): no mmap; only HTTP caching uses it
		    mmap = None
		%%
		pip/_vendor/rich/progress.py
		from mmap import mmap
		try:
		    from mmap import mmap
		except ImportError:  # WASI (wasmbox): no mmap; only a type annotation uses it
		    mmap = bytearray
		%%
		pip/_internal/utils/unpacking.py
		    mask = os.umask(0)
		    if not hasattr(os, "umask"):  # WASI (wasmbox): no umask
		        return 0o022
		    mask = os.umask(0)
	EOF
)

BUILD=$(bash "$HERE/build.sh" | tail -n 1)
SECONDS=0 # packaging time, not the compile
CKEY=$(cat "$BUILD/complete")
KEY=$({ sha256sum <"$SELF"; echo "$CKEY"; sha256sum "$PYSITE"/*.py | cut -c1-64; } | sha256sum | cut -c1-16)
ROOT=$(dirname "$BUILD")
OUT=$ROOT/box-$KEY
if [[ -f $OUT/complete ]]; then
	echo "$OUT"
	exit 0
fi
exec 9>"$ROOT/box-$KEY.lock"
flock 9
if [[ -f $OUT/complete ]]; then
	echo "$OUT"
	exit 0
fi

STAGE=$ROOT/box-$KEY.partial
WORK=$ROOT/box-$KEY.work
rm -rf "$STAGE" "$WORK"
mkdir -p "$STAGE" "$WORK"
LOG=$STAGE/package.log
: >"$LOG"
say() { echo "python: $*" >&2; echo "=== $(date +%T) $*" >>"$LOG"; }
die() {
	echo "python: $*" >&2
	exit 1
}
trap 'echo "python: packaging FAILED; log: $LOG" >&2; tail -n 20 "$LOG" >&2' ERR
run() { "$@" >>"$LOG" 2>&1; }

BUILD_PY=$(sed -n 's/^build-python: //p' "$BUILD/manifest.txt")
[[ -x $BUILD_PY ]] || die "the native build python ($BUILD_PY) is gone: remove $BUILD and run again"
PYXY=$("$BUILD_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
BOX_PREFIX=$(sed -n 's/^box-prefix: //p' "$BUILD/manifest.txt")
# A clean environment: nothing of the host's PIP_* or PYTHON* settings.
py() { env -i PATH=/usr/bin:/bin HOME="$WORK" LC_ALL=C.UTF-8 "$BUILD_PY" "$@"; }

say "interpreter"
# Without debug info and names. (binaryen's wasm-opt -O2 makes it 12 %
# smaller but no faster to compile, start or run, and no smaller gzipped:
# measured, see README.md.)
run wasm-strip -o "$STAGE/python.wasm" "$BUILD/python.wasm"

say "stdlib"
LIB=$STAGE/lib/python$PYXY
mkdir -p "$LIB"
BUILTIN=" $(sed -n 's/^builtin-modules: //p' "$BUILD/manifest.txt") "
[[ $BUILTIN == *" _io "* ]] || die "$BUILD/manifest.txt lists no builtin-modules"
EXCLUDE=(./ensurepip/_bundled ./site-packages/README.txt)
while read -r d; do EXCLUDE+=("$d"); done < <(cd "$BUILD/lib/python$PYXY" && find . -type d \( -name test -o -name tests -o -name idle_test \) -prune | sort)
for h in "${HALVES[@]}"; do
	read -r c paths <<<"$h"
	if [[ $BUILTIN != *" $c "* ]]; then
		read -r -a p <<<"$paths"
		EXCLUDE+=("${p[@]}")
	fi
done
excl=()
for e in "${EXCLUDE[@]}"; do excl+=(--exclude="$e"); done
printf 'left out: %s\n' "${EXCLUDE[@]}" >>"$LOG"
(cd "$BUILD/lib/python$PYXY" && tar -cf - "${excl[@]}" .) | tar -xf - -C "$LIB"
mkdir -p "$LIB/lib-dynload" "$LIB/site-packages"
# The hook, compiled below with the stdlib: every start-up imports it, and
# compiling it from source cost each one ~6 ms (it and the messages module,
# which site's first hasattr(os, ...) loads).
cp "$PYSITE"/*.py "$LIB/"

say "pip"
# pip from the wheel ensurepip bundles, installed as pip installs a wheel
# (files, then the dist-info's INSTALLER and RECORD, then the scripts), for
# the box's prefix. RECORD is written once the files are final, below.
WHEELS=$BUILD/lib/python$PYXY/ensurepip/_bundled
PIP_WHL=$(ls "$WHEELS"/pip-*.whl)
SP=$LIB/site-packages
py - "$PIP_WHL" "$SP" "$STAGE/bin" "$BOX_PREFIX/bin/python$PYXY" "$PYXY" "$PIP_EDITS" <<-'EOF' >>"$LOG" 2>&1
	import configparser, os, sys, zipfile
	whl, sp, bindir, python, xy, edits = sys.argv[1:]
	with zipfile.ZipFile(whl) as z:
	    names = z.namelist()
	    if any(n.startswith("/") or ".." in n.split("/") for n in names):
	        sys.exit(f"{whl}: a path leaves site-packages")
	    z.extractall(sp)
	info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
	# Data a box cannot use: distlib's Windows launchers (.exe), for the
	# scripts pip writes on Windows. (pip's vendored certifi keeps its CA
	# bundle: pip verifies an index with it, as on Debian's python images.)
	for n in names:
	    if n.startswith("pip/_vendor/distlib/") and n.endswith(".exe"):
	        os.unlink(os.path.join(sp, n))
	open(os.path.join(sp, info, "INSTALLER"), "w").write("wasmbox\n")
	# WASI edits (see PIP_EDITS).
	for block in edits.split("%%\n"):
	    path, old, *new = block.strip("\n").split("\n")
	    f = os.path.join(sp, path)
	    lines = open(f, encoding="utf-8").read().split("\n")
	    if lines.count(old) != 1:
	        sys.exit(f"{path}: {old!r} found {lines.count(old)} times, not once (a new pip?)")
	    i = lines.index(old)
	    lines[i:i + 1] = new
	    open(f, "w", encoding="utf-8").write("\n".join(lines))
	    print("edited", path)
	# pip, pip3 and pip3.X, as pip names its own scripts.
	ep = configparser.ConfigParser(delimiters=("=",))
	ep.read(os.path.join(sp, info, "entry_points.txt"))
	module, func = ep["console_scripts"]["pip"].replace(" ", "").split(":")
	os.makedirs(bindir, exist_ok=True)
	for name in ("pip", "pip3", "pip" + xy):
	    f = os.path.join(bindir, name)
	    with open(f, "w") as out:
	        out.write(f"#!{python}\nimport sys\nfrom {module} import {func}\n\nif __name__ == \"__main__\":\n    sys.exit({func}())\n")
	    os.chmod(f, 0o755)
EOF
[[ -x $STAGE/bin/pip3 ]] || die "no pip3 script"
# pip's site configuration (sys.prefix/pip.conf): a box never reaches an
# index, so the check for a newer pip only ever prints network warnings.
printf '[global]\ndisable-pip-version-check = true\n' >"$STAGE/pip.conf"

say "CA certificates (${CA_PIN#*=})"
# As update-ca-certificates lays them out on Debian: each certificate as
# /etc/ssl/certs/NAME.pem (a file here, a link into /usr/share there), their
# concatenation ca-certificates.crt in the order of ca-certificates.conf
# (sorted names), and openssl rehash's HASH.N links; OpenSSL's directory
# /usr/lib/ssl (OPENSSLDIR, build.sh) leads there with cert.pem and certs/.
SRC=$ROOT/src
CA_DEB=$SRC/${CA_PIN%%=*}_${CA_PIN#*=}_all.deb
if [[ ! -f $CA_DEB ]]; then
	mkdir -p "$SRC"
	if ! (cd "$SRC" && run apt-get download "$CA_PIN"); then
		echo "Versions of ${CA_PIN%%=*} that apt knows:" >>"$LOG"
		apt-cache policy "${CA_PIN%%=*}" >>"$LOG" 2>&1 || true
		die "cannot download $CA_PIN (see $LOG): run apt-get update, or update CA_PIN in $SELF"
	fi
fi
[[ -f $CA_DEB ]] || die "apt-get download $CA_PIN gave no $CA_DEB"
run dpkg-deb -x "$CA_DEB" "$WORK/ca"
CERTS=$STAGE/root/etc/ssl/certs
mkdir -p "$CERTS" "$STAGE/root/usr/lib/ssl"
: >"$CERTS/ca-certificates.crt"
ncerts=0
while read -r crt; do
	name=$(basename "$crt" .crt)
	install -m 0644 "$WORK/ca/usr/share/ca-certificates/$crt" "$CERTS/$name.pem"
	cat "$CERTS/$name.pem" >>"$CERTS/ca-certificates.crt"
	[[ -z $(tail -c 1 "$CERTS/$name.pem") ]] || echo >>"$CERTS/ca-certificates.crt"
	hash=$(openssl x509 -hash -noout -in "$CERTS/$name.pem")
	i=0
	while [[ -L $CERTS/$hash.$i ]]; do i=$((i + 1)); done
	ln -s "$name.pem" "$CERTS/$hash.$i"
	ncerts=$((ncerts + 1))
done < <(cd "$WORK/ca/usr/share/ca-certificates" && find . -name '*.crt' -printf '%P\n' | LC_ALL=C sort)
((ncerts > 100)) || die "$CA_DEB: only $ncerts certificates"
chmod 0644 "$CERTS/ca-certificates.crt"
ln -s /etc/ssl/certs "$STAGE/root/usr/lib/ssl/certs"
ln -s /etc/ssl/certs/ca-certificates.crt "$STAGE/root/usr/lib/ssl/cert.pem"
echo "ca-certificates: $ncerts from $(basename "$CA_DEB")" >>"$LOG"

say "bytecode"
# Sourceless: each module's .pyc in the legacy location (foo.pyc beside
# where foo.py was), which CPython imports; the .py files are dropped.
# Hash-based (unchecked) so file times never matter, file names as in the
# box, and no column tables (-X no_debug_ranges): they only serve the ^^^
# markers under source lines, which sourceless tracebacks cannot show.
run py -X no_debug_ranges -m compileall -q -b -f -j"$(nproc 2>/dev/null || echo 2)" \
	--invalidation-mode unchecked-hash -s "$STAGE" -p "$BOX_PREFIX" "$LIB"
py - "$LIB" <<-'EOF' >>"$LOG" 2>&1
	import base64, csv, hashlib, io, os, sys
	lib = sys.argv[1]
	kept = 0
	for d, _, files in os.walk(lib):
	    for f in files:
	        if f.endswith(".py") and os.path.exists(os.path.join(d, f + "c")):
	            os.unlink(os.path.join(d, f))
	        elif f.endswith(".py"):
	            kept += 1
	            print("kept (did not compile):", os.path.join(d, f))
	# pip's RECORD lists what is installed: the .pyc now, with their hashes.
	sp = os.path.join(lib, "site-packages")
	for dist in sorted(os.listdir(sp)):
	    if not dist.endswith(".dist-info"):
	        continue
	    rec = os.path.join(sp, dist, "RECORD")
	    pkgs = {line.split("/", 1)[0] for line in open(rec) if "/" in line and not line.startswith("..")}
	    rows = []
	    for top in sorted(pkgs):
	        for d, _, files in os.walk(os.path.join(sp, top)):
	            for f in files:
	                p = os.path.join(d, f)
	                rel = os.path.relpath(p, sp)
	                if rel == os.path.join(dist, "RECORD"):
	                    continue
	                data = open(p, "rb").read()
	                h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
	                rows.append((rel, "sha256=" + h, str(len(data))))
	    for name in sorted(os.listdir(os.path.join(lib, "..", "..", "bin"))):
	        data = open(os.path.join(lib, "..", "..", "bin", name), "rb").read()
	        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
	        rows.append(("../../../bin/" + name, "sha256=" + h, str(len(data))))
	    rows.append((os.path.join(dist, "RECORD"), "", ""))
	    rows.sort()
	    out = io.StringIO()
	    csv.writer(out, lineterminator="\n").writerows(rows)
	    open(rec, "w").write(out.getvalue())
	print("sources kept:", kept)
EOF

{
	echo "key: $KEY"
	echo "compiled: $BUILD"
	echo "python.wasm-bytes: $(stat -c %s "$STAGE/python.wasm")"
	echo "pip: $(basename "$PIP_WHL")"
	echo "ca-certificates: ${CA_PIN#*=} ($ncerts)"
	echo "lib-bytes: $(du -sb "$LIB" | cut -f1)"
} >"$STAGE/manifest.txt"
echo "$KEY" >"$STAGE/complete"
rm -rf "$OUT"
mv "$STAGE" "$OUT"
LOG=$OUT/package.log
rm -rf "$WORK"
trap - ERR
say "packaged in $SECONDS s"
echo "$OUT"
