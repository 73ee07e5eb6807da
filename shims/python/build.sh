#!/usr/bin/env bash
# shims/python/build.sh — CPython for wasm32-wasi, built from Debian's own
# source packages with Debian's clang/lld/wasi-libc. See README.md beside it.
#
# Usage: shims/python/build.sh            (prints the output directory last)
#
# The output directory is a cache keyed by this file's contents, which pin the
# exact Debian source versions below, and by the socket layer's sources
# (net/ beside it): a second run on the same machine prints the directory and
# exits at once, without touching apt or the network.
set -Eeuo pipefail

# ---------------------------------------------------------------- inputs ---
# Exact Debian source package versions (bookworm). Changing any of them, or
# anything else in this file, changes the cache key. When Debian drops one
# from the archive (a newer point or security release replaced it), the build
# stops and lists what is available: update the pin here.
PY_PKG=python3.11
PY_VER=3.11.2-6+deb12u8
PINS=(
	"$PY_PKG=$PY_VER"
	"zlib=1:1.2.13.dfsg-1"
	"bzip2=1.0.8-5"
	"xz-utils=5.4.1-1+deb12u2"
	"sqlite3=3.40.1-2+deb12u2"
	"openssl=3.0.20-1~deb12u2"
)
# CPython 3.11 bundles libmpdec (_decimal) and expat (pyexpat, _elementtree);
# the bundled copies are used.

# Debian-integration patches of python3.11 that are NOT applied: they change
# install layouts (dist-packages, multiarch), disable ensurepip, or concern
# Debian's own build. Every other patch in debian/patches/series (upstream
# bug and security fixes) is applied, in series order, to the pristine
# upstream tree (the .orig tarball).
PY_SKIP_PATCHES="deb-setup.diff deb-locations.diff distutils-install-layout.diff
locale-module.diff distutils-link.diff distutils-sysconfig.diff
sysconfig-debian-schemes.diff tkinter-import.diff gdbm-import.diff link-opt.diff
setup-modules.diff profiled-build.diff langpack-gettext.diff disable-sem-check.diff
lib-argparse.diff ctypes-arm.diff multiarch.diff lib2to3-no-pickled-grammar.diff
ext-no-libpython-link.diff test-no-random-order.diff multiarch-extname.diff
tempfile-minimal.diff disable-some-tests.diff ensurepip-disabled.diff
mangle-fstack-protector.diff reproducible-buildinfo.diff pydoc-use-pager.diff
local-doc-references.diff doc-build-texinfo.diff argparse-no-shutil.diff
sysconfigdata-name.diff hurd_kfreebsd_thread_native_id.diff sphinx3.diff
destshared-location.diff fix-py_compile.diff ntpath-import.diff"

# Binary packages the build needs (toolchain versions go into the manifest).
APT_PKGS=(clang lld llvm wasi-libc libclang-rt-14-dev-wasm32 wabt
	dpkg-dev make gcc libc6-dev patch tcl xz-utils bzip2 ca-certificates perl openssl)

# The native "build python" is reused across edits of this file; bump when
# the way it is built changes.
NATIVE_REV=1

# Where the box's Python lives (sys.prefix inside the box).
BOX_PREFIX=/usr/local

# Modules the agents use, checked against what was built (manifest).
WANTED_MODULES="zlib _sqlite3 _bz2 _lzma _decimal _json _md5 _sha1 _sha256
_sha512 _sha3 _blake2 _csv _datetime pyexpat _elementtree unicodedata array
math _struct select binascii _random _bisect _heapq _pickle _socket _ssl _hashlib"

# ----------------------------------------------------------- cache check ---
SELF=$(readlink -f "${BASH_SOURCE[0]}")
# The socket layer (net.c and the headers that complete wasi-libc's).
NETSRC=$(dirname "$SELF")/net
NETINC=$NETSRC/include
[[ -f $NETSRC/net.c && -f $NETINC/netdb.h ]] || { echo "python: $NETSRC is incomplete" >&2; exit 1; }
# Names and contents of the files under dir, in a fixed order.
tree_digest() { (cd "$1" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done) | sha256sum | cut -c1-64; }
KEY=$({ sha256sum <"$SELF"; tree_digest "$NETSRC"; } | sha256sum | cut -c1-16)
ROOT=${WASMBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmbox}/python
OUT=$ROOT/$KEY
if [[ -f $OUT/complete && -f $OUT/python.wasm ]]; then
	echo "$OUT"
	exit 0
fi

mkdir -p "$ROOT"
# One build per key at a time (CI and make demo may race).
exec 9>"$ROOT/$KEY.lock"
flock 9
if [[ -f $OUT/complete && -f $OUT/python.wasm ]]; then
	echo "$OUT"
	exit 0
fi

START=$(date +%s)
STAGE=$ROOT/$KEY.partial # becomes $OUT at the end
WORK=$ROOT/$KEY.work     # build trees; removed on success
SRC=$ROOT/src            # downloaded Debian source packages, shared
NATIVE=$ROOT/native-$PY_VER-r$NATIVE_REV
rm -rf "$STAGE" "$WORK"
mkdir -p "$STAGE" "$WORK" "$SRC"
LOG=$STAGE/build.log
: >"$LOG"
JOBS=$(nproc 2>/dev/null || echo 2)

say() { echo "python: $*" >&2; echo "=== $(date +%T) $*" >>"$LOG"; }
fail() {
	local rc=$?
	# Report once (subshells inherit the trap through set -E).
	[[ -e $WORK/.reported ]] && exit "$rc"
	touch "$WORK/.reported" 2>/dev/null || true
	echo "python: build FAILED (exit $rc); last lines of $LOG:" >&2
	tail -n 40 "$LOG" >&2 || true
	echo "python: full log: $LOG; build trees kept in $WORK" >&2
	exit "$rc"
}
trap fail ERR
die() {
	echo "python: $*" >&2
	echo "ERROR: $*" >>"$LOG"
	touch "$WORK/.reported" 2>/dev/null || true
	exit 1
}
run() { "$@" >>"$LOG" 2>&1; } # run a command with its output in the log

SUDO=
if [[ $(id -u) != 0 ]]; then
	command -v sudo >/dev/null || die "not root and no sudo: install ${APT_PKGS[*]} and add a deb-src entry by hand"
	SUDO=sudo
fi

# ------------------------------------------------------------------ apt ---
APT_UPDATED=
apt_update() {
	[[ -n $APT_UPDATED ]] && return 0
	say "apt-get update"
	run $SUDO apt-get update
	APT_UPDATED=1
}


# Adds deb-src entries mirroring the Debian binary entries (deb822 .sources
# files and one-line sources.list), unless some deb-src entry exists.
ensure_deb_src() {
	if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
		return 1
	fi
	say "adding deb-src entries"
	local tmp
	tmp=$(mktemp)
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		# Keep stanzas of type deb whose URIs are Debian's; retype them.
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
			/(^|\n)Types:[^\n]*deb/ && /(^|\n)URIs:[^\n]*debian/ {
				sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp"
	done
	if [[ -s $tmp ]]; then
		$SUDO install -m 0644 "$tmp" /etc/apt/sources.list.d/wasmbox-deb-src.sources
	elif [[ -f /etc/apt/sources.list ]]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]\(.*debian.*\)$/deb-src \1/p' /etc/apt/sources.list >"$tmp"
		[[ -s $tmp ]] || { rm -f "$tmp"; die "no Debian entry in apt sources to mirror as deb-src"; }
		$SUDO install -m 0644 "$tmp" /etc/apt/sources.list.d/wasmbox-deb-src.list
	else
		rm -f "$tmp"
		die "no apt sources found to mirror as deb-src"
	fi
	rm -f "$tmp"
	APT_UPDATED= # the new entries need an update
	return 0
}

# dsc file name of a pin: zlib=1:1.2.13.dfsg-1 -> zlib_1.2.13.dfsg-1.dsc
dsc_of() { local pkg=${1%%=*} ver=${1#*=}; echo "${pkg}_${ver#*:}.dsc"; }

# Pinned source packages not downloaded yet.
need=()
for pin in "${PINS[@]}"; do
	[[ -f $SRC/$(dsc_of "$pin") ]] || need+=("$pin")
done
# deb-src first, so that one apt-get update serves the install and the fetch.
if ((${#need[@]})); then
	ensure_deb_src || true
fi

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if ((${#missing[@]})); then
	apt_update
	say "apt-get install ${missing[*]}"
	run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

fetch_sources() {
	local pin
	((${#need[@]})) || return 0
	say "fetching Debian sources: ${need[*]}"
	apt_update
	for pin in "${need[@]}"; do
		if ! (cd "$SRC" && run apt-get source --download-only "$pin"); then
			echo "Versions of ${pin%%=*} that apt knows:" >>"$LOG"
			apt-cache showsrc "${pin%%=*}" 2>/dev/null | sed -n 's/^Version: /  /p' >>"$LOG" || true
			die "cannot download $pin (see $LOG); update PINS in $SELF"
		fi
	done
}
fetch_sources

# Unpacks a Debian source package (Debian's patches applied) into $2.
unpack() {
	local dsc=$SRC/$(dsc_of "$1")
	rm -rf "$2"
	run dpkg-source --no-check -x "$dsc" "$2"
}

# Prepares the CPython tree in $1: the pristine upstream tarball plus the
# Debian patches not in PY_SKIP_PATCHES.
prepare_cpython() {
	local dest=$1 deb=$WORK/python-debian orig
	unpack "$PY_PKG=$PY_VER" "$deb"
	orig=$(ls "$SRC/${PY_PKG}_${PY_VER%%-*}".orig.tar.* | head -n1)
	rm -rf "$dest"
	mkdir -p "$dest"
	run tar -xf "$orig" -C "$dest" --strip-components=1
	local p n=0
	while read -r p; do
		[[ -z $p || $p == \#* ]] && continue
		[[ " $(echo $PY_SKIP_PATCHES) " == *" $p "* ]] && continue
		echo "applying $p" >>"$LOG"
		run patch -d "$dest" -p1 -N --no-backup-if-mismatch -i "$deb/debian/patches/$p"
		n=$((n + 1))
	done <"$deb/debian/patches/series"
	echo "$n" >"$WORK/patches-applied"
	cp "$deb/debian/changelog" "$WORK/python-changelog"
	rm -rf "$deb"
	wasi_pwd "$dest"
	wasi_isxfile "$dest"
	wasi_chmod_decl "$dest"
	wasi_stat_modes "$dest"
	wasi_site_hook "$dest"
}

# WASI has no working directory: wasi-libc starts in "/", and CPython
# makes the script path absolute before site runs, so a sitecustomize is
# too late for `python app.py`. The runner passes the box's working
# directory as PWD; the interpreter's main chdirs there first (WASI only).
wasi_pwd() {
	local f=$1/Programs/python.c
	grep -q 'return Py_BytesMain(argc, argv);' "$f" || die "$f: Py_BytesMain call not found"
	perl -0pi -e 's|#include "Python.h"\n|#include "Python.h"\n#ifdef __wasi__\n#include <stdlib.h>\n#include <unistd.h>\n#endif\n|; s|(\n\{\n)(    return Py_BytesMain\(argc, argv\);)|$1#ifdef __wasi__\n    const char *pwd = getenv("PWD");\n    if (pwd != NULL \&\& pwd[0] == \x27/\x27) {\n        (void)chdir(pwd);\n    }\n#endif\n$2|' "$f"
	grep -q 'chdir(pwd)' "$f" || die "$f: the PWD patch did not apply"
}

# WASI has no permission bits (a stat's mode is the file type only), so
# getpath's isxfile() found no file executable and `python` run through
# PATH got an empty sys.executable (and pip wrote scripts with an empty
# #! line). On WASI a regular file counts as executable (WASI only).
wasi_isxfile() {
	local f=$1/Modules/getpath.c
	[[ $(grep -c '            (st.st_mode & 0111)$' "$f") == 1 ]] || die "$f: isxfile's mode test not found once"
	perl -0pi -e 's|\n            \(st.st_mode & 0111\)\n|\n#ifdef __wasi__\n            1 /* WASI has no permission bits */\n#else\n            (st.st_mode & 0111)\n#endif\n|' "$f"
	grep -q 'WASI has no permission bits' "$f" || die "$f: the isxfile patch did not apply"
}

# wasi-libc declares no chmod(); the WASI build links one (below).
wasi_chmod_decl() {
	local f=$1/Modules/posixmodule.c
	[[ $(grep -c '^os_chmod_impl(' "$f") == 1 ]] || die "$f: os_chmod_impl not found once"
	perl -0pi -e 's|\nstatic PyObject \*\nos_chmod_impl\(|\n#ifdef __wasi__\n/* wasmbox: chmod() through the box (build.sh); wasi-libc declares none. */\nint chmod(const char *, mode_t);\n#endif\n\nstatic PyObject *\nos_chmod_impl(|' "$f"
	grep -q 'wasmbox: chmod() through the box' "$f" || die "$f: the chmod declaration did not apply"
}

# WASI's filestat has no permission bits and no owner: os.stat reported
# mode 0o000 for every file, so shutil.copy/copy2 (and venv, which copies
# its scripts with copymode) chmod-ed their copies to 000. os.stat, os.lstat
# and DirEntry.stat ask the box for both (box.c below; WASI only). os.fstat
# keeps WASI's answer: the box is asked by path, and a descriptor has none.
wasi_stat_modes() {
	local f=$1/Modules/posixmodule.c
	[[ $(grep -c '^#  define FSTAT fstat$' "$f") == 1 ]] || die "$f: the STAT macros not found once"
	perl -0pi -e 's|\n#  define FSTAT fstat\n|\n#  define FSTAT fstat\n#  ifdef __wasi__\n/* wasmbox: modes and owners from the box (build.sh); WASI has none. */\nint wasmbox_stat(const char *, struct stat *);\nint wasmbox_lstat(const char *, struct stat *);\nint wasmbox_fstatat(int, const char *, struct stat *, int);\n#    undef STAT\n#    undef LSTAT\n#    define STAT wasmbox_stat\n#    define LSTAT wasmbox_lstat\n#    define fstatat wasmbox_fstatat\n#  endif\n|' "$f"
	grep -q 'wasmbox: modes and owners from the box' "$f" || die "$f: the stat patch did not apply"
}

# site imports the python base's start-up hook (_wasmbox, which the base
# lays beside the stdlib: shims/pysite) first thing, so that every
# interpreter of the box loads it: one in a virtual environment, which sees
# the stdlib but not the base's site-packages (where a .pth was not seen),
# too, whatever sitecustomize a user has. site is a frozen module, built
# from Lib/site.py: hence here, not in package.sh. WASI only.
wasi_site_hook() {
	local f=$1/Lib/site.py
	[[ $(grep -c '^    global ENABLE_USER_SITE$' "$f") == 1 ]] || die "$f: main's global ENABLE_USER_SITE not found once"
	perl -0pi -e 's|\n    global ENABLE_USER_SITE\n|\n    global ENABLE_USER_SITE\n\n    if sys.platform == "wasi":\n        # wasmbox: what WASI cannot do, said clearly (shims/pysite). The\n        # hook writes no .pyc: a RUN would leave it in the box\x27s layer.\n        dont_write = sys.dont_write_bytecode\n        sys.dont_write_bytecode = True\n        try:\n            import _wasmbox\n        except ModuleNotFoundError as err:\n            if err.name != "_wasmbox":\n                raise\n        finally:\n            sys.dont_write_bytecode = dont_write\n|' "$f"
	grep -q 'wasmbox: what WASI cannot do' "$f" || die "$f: the site patch did not apply"
}

# Snapshots (issue 11; RATIONALE.md, "Snapshots"): two exports beside _start.
# wasmbox_snapshot_init initializes the interpreter (site and the modules
# named by WASMBOX_SNAPSHOT_IMPORTS) and returns, for the host to save
# memory and globals; wasmbox_resume, called on a copy of that state, takes
# the run's argv, environment and working directory and runs as main would,
# or returns when the run needs a fresh start. pymain_run_python (static in
# Modules/main.c) runs what the configuration says, as Py_RunMain does. WASI
# build only.
wasi_snapshot() {
	local f=$1/Programs/python.c m=$1/Modules/main.c
	[[ $(grep -c '^pymain_run_python(int \*exitcode)$' "$m") == 1 ]] || die "$m: pymain_run_python not found once"
	perl -0pi -e 's|\nstatic void\npymain_run_python\(int \*exitcode\)|\nvoid pymain_run_python(int *exitcode);\nvoid\npymain_run_python(int *exitcode)|' "$m"
	grep -q '^void pymain_run_python(int \*exitcode);$' "$m" || die "$m: the snapshot patch did not apply"
	cat >>"$f" <<-'EOF'
	#ifdef __wasi__
	/* wasmbox: snapshots (issue 11). The host instantiates python.wasm, calls
	   wasmbox_snapshot_init, and saves linear memory and globals: the
	   interpreter initialized (site, the configured imports) with nothing of
	   a run in it. A run instantiates the saved state and calls
	   wasmbox_resume, which takes the run's argv, environment and working
	   directory from WASI, re-seeds what the snapshot froze, and runs as
	   Py_RunMain would. wasmbox_resume returns (0) only when the run cannot
	   start from this snapshot, having changed nothing Python sees: the host
	   then runs _start on a fresh instance instead. Otherwise it ends with
	   exit(), as _start does. */
	#include <limits.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <unistd.h>
	#include <string.h>
	#include <wasi/api.h>
	#include <wasi/libc-environ.h>
	#include "pycore_pylifecycle.h" /* _PyAtExit_Call */

	extern char **environ;
	void pymain_run_python(int *exitcode); /* Modules/main.c, made non-static */
	void wasmbox_new_process(void); /* box.c */

	static int wasmbox_state; /* 0 fresh, 1 snapshot taken, 2 resumed */
	static char *wasmbox_argv0; /* argv[0] the snapshot was initialized with */
	static char *wasmbox_env; /* the environment that shaped initialization */
	static int wasmbox_ttys; /* which of fds 0, 1, 2 were terminals */

	/* The run's argv from WASI, NULL-terminated; NULL if it cannot be read. */
	static char **wasmbox_args(int *argc) {
	    __wasi_size_t n, size;
	    if (__wasi_args_sizes_get(&n, &size) != 0 || n == 0) {
	        return NULL;
	    }
	    char **argv = calloc(n + 1, sizeof(char *));
	    char *buf = malloc(size);
	    if (argv == NULL || buf == NULL || __wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0) {
	        free(argv);
	        free(buf);
	        return NULL;
	    }
	    *argc = (int)n;
	    return argv;
	}

	/* Environment variables that initialization reads (CPython's PYTHON*
	   variables, the locale, HOME for the user site, PATH for
	   sys.executable, TZ for time), sorted, one string: a run whose values
	   differ cannot start from the snapshot. */
	static int wasmbox_env_cmp(const void *a, const void *b) {
	    return strcmp(*(char *const *)a, *(char *const *)b);
	}

	static char *wasmbox_shaping_env(void) {
	    size_t n = 0, size = 1;
	    for (char **e = environ; e != NULL && *e != NULL; e++) {
	        n++;
	    }
	    char **keep = calloc(n + 1, sizeof(char *));
	    if (keep == NULL) {
	        return NULL;
	    }
	    size_t k = 0;
	    for (char **e = environ; e != NULL && *e != NULL; e++) {
	        const char *s = *e;
	        if (strncmp(s, "PYTHON", 6) == 0 || strncmp(s, "LC_", 3) == 0 || strncmp(s, "LANG=", 5) == 0 ||
	            strncmp(s, "HOME=", 5) == 0 || strncmp(s, "PATH=", 5) == 0 || strncmp(s, "TZ=", 3) == 0) {
	            keep[k++] = (char *)s;
	            size += strlen(s) + 1;
	        }
	    }
	    qsort(keep, k, sizeof(char *), wasmbox_env_cmp);
	    char *out = malloc(size);
	    if (out != NULL) {
	        char *p = out;
	        for (size_t i = 0; i < k; i++) {
	            size_t l = strlen(keep[i]);
	            memcpy(p, keep[i], l);
	            p[l] = '\n';
	            p += l + 1;
	        }
	        *p = '\0';
	    }
	    free(keep);
	    return out;
	}

	/* What CPython's stdio objects learned of fds 0-2 at initialization:
	   whether each is a terminal (line buffering) and seekable. */
	static int wasmbox_tty_mask(void) {
	    int mask = 0;
	    for (int fd = 0; fd < 3; fd++) {
	        mask |= (isatty(fd) ? 1 : 0) << fd;
	        mask |= (lseek(fd, 0, SEEK_CUR) >= 0 ? 8 : 0) << fd;
	    }
	    return mask;
	}

	/* What the snapshot froze and a run must not share: random's seed,
	   tempfile's name sequence (its re-seed checks a pid, which never
	   changes on WASI). The hash secret cannot change: every str in the
	   snapshot caches its hash (a PYTHONHASHSEED set differently starts
	   afresh). */
	static int wasmbox_reseed(void) {
	    /* A resumed run is a new process of the box, with a new id (box.c):
	       what keeps the id to notice a fork, such as OpenSSL's random
	       generators, reseeds instead of repeating the snapshot's state. */
	    wasmbox_new_process();
	    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
	    PyObject *m = PyDict_GetItemString(modules, "random"); /* borrowed */
	    if (m != NULL) {
	        PyObject *r = PyObject_CallMethod(m, "seed", NULL);
	        if (r == NULL) {
	            return -1;
	        }
	        Py_DECREF(r);
	    }
	    m = PyDict_GetItemString(modules, "tempfile");
	    if (m != NULL && PyObject_SetAttrString(m, "_name_sequence", Py_None) < 0) {
	        return -1;
	    }
	    return 0;
	}

	/* Flushes sys.stdout and sys.stderr, then C's stdio. */
	static void wasmbox_flush(void) {
	    const char *names[] = {"stdout", "stderr"};
	    for (int i = 0; i < 2; i++) {
	        PyObject *f = PySys_GetObject(names[i]); /* borrowed */
	        if (f != NULL && f != Py_None) {
	            PyObject *r = PyObject_CallMethod(f, "flush", NULL);
	            if (r == NULL) {
	                PyErr_Clear();
	            }
	            Py_XDECREF(r);
	        }
	    }
	    fflush(NULL);
	}

	__attribute__((export_name("wasmbox_snapshot_init"))) int wasmbox_snapshot_init(void) {
	    if (wasmbox_state != 0) {
	        return 1;
	    }
	    int argc;
	    char **argv = wasmbox_args(&argc);
	    if (argv == NULL) {
	        return 1;
	    }
	    /* As `python` with no arguments would start, but for running anything:
	       the run's arguments come at resume. */
	    PyConfig config;
	    PyConfig_InitPythonConfig(&config);
	    PyStatus status = PyConfig_SetBytesArgv(&config, 1, argv);
	    if (!PyStatus_Exception(status)) {
	        status = Py_InitializeFromConfig(&config);
	    }
	    PyConfig_Clear(&config);
	    if (PyStatus_Exception(status)) {
	        Py_ExitStatusException(status);
	    }
	    /* WASMBOX_SNAPSHOT_IMPORTS: modules to import into the snapshot,
	       separated by commas or spaces. */
	    const char *imports = getenv("WASMBOX_SNAPSHOT_IMPORTS");
	    if (imports != NULL) {
	        char *list = strdup(imports);
	        for (char *save = NULL, *name = strtok_r(list, ", ", &save); name != NULL;
	             name = strtok_r(NULL, ", ", &save)) {
	            PyObject *m = PyImport_ImportModule(name);
	            if (m == NULL) {
	                PyErr_Print();
	                wasmbox_flush();
	                return 2;
	            }
	            Py_DECREF(m);
	        }
	        free(list);
	    }
	    PyGC_Collect();
	    /* Nothing buffered may stay in the snapshot: every run would print it. */
	    wasmbox_flush();
	    wasmbox_argv0 = strdup(argv[0]);
	    wasmbox_env = wasmbox_shaping_env();
	    wasmbox_ttys = wasmbox_tty_mask();
	    if (wasmbox_argv0 == NULL || wasmbox_env == NULL) {
	        return 1;
	    }
	    wasmbox_state = 1;
	    return 0;
	}

	/* Refills posix.environ (os.environ's data, the same dict) from C's
	   environ, which wasi-libc re-read from WASI. */
	static int wasmbox_refresh_environ(void) {
	    PyObject *posix = PyImport_ImportModule("posix");
	    if (posix == NULL) {
	        return -1;
	    }
	    PyObject *d = PyObject_GetAttrString(posix, "environ");
	    Py_DECREF(posix);
	    if (d == NULL || !PyDict_Check(d)) {
	        Py_XDECREF(d);
	        return -1;
	    }
	    PyDict_Clear(d);
	    for (char **e = environ; e != NULL && *e != NULL; e++) {
	        const char *eq = strchr(*e, '=');
	        if (eq == NULL) {
	            continue;
	        }
	        PyObject *k = PyBytes_FromStringAndSize(*e, eq - *e);
	        PyObject *v = PyBytes_FromString(eq + 1);
	        if (k == NULL || v == NULL || PyDict_SetDefault(d, k, v) == NULL) {
	            Py_XDECREF(k);
	            Py_XDECREF(v);
	            Py_DECREF(d);
	            return -1;
	        }
	        Py_DECREF(k);
	        Py_DECREF(v);
	    }
	    Py_DECREF(d);
	    return 0;
	}

	static PyObject *wasmbox_str_list(int n, char **items) {
	    PyObject *l = PyList_New(n);
	    for (int i = 0; l != NULL && i < n; i++) {
	        PyObject *s = PyUnicode_DecodeLocale(items[i], "surrogateescape");
	        if (s == NULL) {
	            Py_CLEAR(l);
	            break;
	        }
	        PyList_SET_ITEM(l, i, s);
	    }
	    return l;
	}

	__attribute__((export_name("wasmbox_resume"))) int wasmbox_resume(void) {
	    if (wasmbox_state != 1) {
	        return 0;
	    }
	    int argc;
	    char **argv = wasmbox_args(&argc);
	    if (argv == NULL || strcmp(argv[0], wasmbox_argv0) != 0) {
	        return 0;
	    }
	    /* The run's environment (wasi-libc's constructors read it when an
	       export is called; again here in case they did not). */
	    __wasilibc_initialize_environ();
	    char *env = wasmbox_shaping_env();
	    if (env == NULL || strcmp(env, wasmbox_env) != 0 || wasmbox_tty_mask() != wasmbox_ttys) {
	        return 0;
	    }
	    free(env);
	    /* The command lines a snapshot serves: python [-c CMD | -m MOD | FILE | -] [ARG...].
	       Any other option shapes initialization: start afresh. */
	    PyObject *orig_argv = wasmbox_str_list(argc, argv);
	    if (orig_argv == NULL) {
	        PyErr_Clear();
	        return 0;
	    }
	    const char *command = NULL, *module = NULL, *file = NULL;
	    int first = 1; /* argv index of sys.argv[0] */
	    if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
	        command = argv[2];
	        first = 2;
	        argv[2] = "-c";
	    } else if (argc >= 3 && strcmp(argv[1], "-m") == 0) {
	        module = argv[2];
	        first = 2;
	        argv[2] = "-m";
	    } else if (argc >= 2 && strcmp(argv[1], "-") == 0) {
	        first = 1;
	    } else if (argc >= 2 && argv[1][0] != '-' && argv[1][0] != '\0') {
	        file = argv[1];
	    } else if (argc == 1) {
	        argv[0] = ""; /* sys.argv == [''] */
	        first = 0;
	    } else {
	        Py_DECREF(orig_argv);
	        return 0;
	    }
	    wasmbox_state = 2;

	    /* From here on the run is this run: nothing returns to the host. */
	    const char *pwd = getenv("PWD");
	    if (pwd != NULL && pwd[0] == '/') {
	        (void)chdir(pwd);
	    }
	    PyInterpreterState *interp = PyInterpreterState_Get();
	    PyConfig *config = (PyConfig *)_PyInterpreterState_GetConfig(interp);
	    PyStatus status = PyConfig_SetBytesString(config, &config->run_command, NULL);
	    if (!PyStatus_Exception(status) && command != NULL) {
	        size_t l = strlen(command);
	        char *c = malloc(l + 2);
	        if (c == NULL) {
	            status = PyStatus_NoMemory();
	        } else {
	            memcpy(c, command, l);
	            c[l] = '\n';
	            c[l + 1] = '\0';
	            status = PyConfig_SetBytesString(config, &config->run_command, c);
	            free(c);
	        }
	    }
	    if (!PyStatus_Exception(status)) {
	        status = PyConfig_SetBytesString(config, &config->run_module, module);
	    }
	    if (!PyStatus_Exception(status)) {
	        char abs[PATH_MAX];
	        if (file != NULL && file[0] != '/' && getcwd(abs, sizeof abs) != NULL &&
	            strlen(abs) + 1 + strlen(file) < sizeof abs) {
	            if (strcmp(abs, "/") != 0) {
	                strcat(abs, "/");
	            }
	            strcat(abs, file);
	            file = abs;
	        }
	        status = PyConfig_SetBytesString(config, &config->run_filename, file);
	    }
	    if (!PyStatus_Exception(status)) {
	        status = PyConfig_SetBytesArgv(config, argc - first, argv + first);
	    }
	    if (PyStatus_Exception(status)) {
	        Py_ExitStatusException(status);
	    }
	    PyObject *sys_argv = wasmbox_str_list(argc - first, argv + first);
	    if (sys_argv == NULL || PySys_SetObject("argv", sys_argv) < 0 ||
	        PySys_SetObject("orig_argv", orig_argv) < 0 || wasmbox_refresh_environ() < 0) {
	        PyErr_Print();
	        exit(1);
	    }
	    Py_DECREF(sys_argv);
	    Py_DECREF(orig_argv);
	    /* What the snapshot froze and a run must not share: random's seed,
	       tempfile's name sequence (its re-seed checks a pid, which never
	       changes on WASI). The hash secret cannot change: every str in the
	       snapshot caches its hash (PYTHONHASHSEED set differently starts
	       afresh, above). */
	    if (wasmbox_reseed() < 0) {
	        PyErr_Print();
	        exit(1);
	    }
	    int exitcode = 0;
	    pymain_run_python(&exitcode);
	    /* The instance is thrown away after the run: no finalization, but what
	       a program expects at exit (atexit functions, flushed output). */
	    _PyAtExit_Call(interp);
	    wasmbox_flush();
	    exit(exitcode);
	}
	#endif
EOF
	grep -q 'export_name("wasmbox_resume")' "$f" || die "$f: the snapshot code was not added"
}

# A socket call refused by the runner fails with the runner's reason (its
# wasmbox_net.last_error: which network rule is missing, say), not only
# strerror's: socketmodule's set_error asks the socket layer (net/net.c) for
# the message of the call that just failed. The exception's type still
# comes from errno (PermissionError, ConnectionRefusedError, ...). WASI only.
wasi_socket_errors() {
	local f=$1/Modules/socketmodule.c
	[[ $(grep -c '^set_error(void)$' "$f") == 1 ]] || die "$f: set_error not found once"
	perl -0pi -e 's|(\nset_error\(void\)\n\{\n#ifdef MS_WINDOWS\n(?:.*\n)*?#endif\n)\n    return PyErr_SetFromErrno\(PyExc_OSError\);\n\}|$1#ifdef __wasi__\n    /* wasmbox: the runner\x27s reason for the failed call, when it gave one. */\n    {\n        char msg[512];\n        int err = errno;\n        int n = wasmbox_net_message(err, msg, sizeof msg);\n        if (n > 0) {\n            PyObject *v = Py_BuildValue("(iN)", err, PyUnicode_DecodeUTF8(msg, n, "replace"));\n            if (v != NULL) {\n                PyErr_SetObject(PyExc_OSError, v);\n                Py_DECREF(v);\n            }\n            errno = err;\n            return NULL;\n        }\n    }\n#endif\n\n    return PyErr_SetFromErrno(PyExc_OSError);\n}|' "$f"
	grep -q "wasmbox: the runner's reason for the failed call" "$f" || die "$f: the socket error patch did not apply"
}

# _ssl and _hashlib refuse an OpenSSL built without threads, which
# wasm32-wasi has not; neither has CPython for WASI (no threads at all), so
# nothing calls OpenSSL from two threads. WASI only.
wasi_openssl_threads() {
	local f
	for f in "$1/Modules/_ssl.c" "$1/Modules/_hashopenssl.c"; do
		[[ $(grep -c '^#ifndef OPENSSL_THREADS$' "$f") == 1 ]] || die "$f: the OPENSSL_THREADS check not found once"
		sed -i 's|^#ifndef OPENSSL_THREADS$|#if !defined(OPENSSL_THREADS) \&\& !defined(__wasi__) /* wasmbox: no threads on WASI */|' "$f"
		grep -q 'wasmbox: no threads on WASI' "$f" || die "$f: the OPENSSL_THREADS patch did not apply"
	done
}

# ------------------------------------------------------ native python ---
if [[ ! -f $NATIVE/complete ]]; then
	say "native build python ($PY_PKG $PY_VER; a few minutes)"
	rm -rf "$NATIVE"
	prepare_cpython "$NATIVE/src"
	(
		cd "$NATIVE/src"
		run ./configure --prefix="$NATIVE/install" --without-ensurepip --disable-test-modules
		run make -j"$JOBS"
	)
	"$NATIVE/src/python" -c 'import sys; assert sys.version_info[:2] >= (3, 11)' >>"$LOG" 2>&1
	touch "$NATIVE/complete"
fi
BUILD_PY=$NATIVE/src/python

# ------------------------------------------------ libraries for wasi ---
export WCC="clang --target=wasm32-wasi"
DEPS=$WORK/deps
mkdir -p "$DEPS/include" "$DEPS/lib"
LIBCFLAGS="-O2 -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS"

say "zlib, bzip2, xz (liblzma), sqlite3 for wasm32-wasi"
unpack "${PINS[1]}" "$WORK/zlib"
(
	cd "$WORK/zlib"
	run env CC="$WCC" AR=llvm-ar RANLIB=llvm-ranlib CFLAGS="$LIBCFLAGS" \
		./configure --static --prefix="$DEPS"
	run make -j"$JOBS" libz.a AR=llvm-ar ARFLAGS=rc RANLIB=llvm-ranlib
	cp libz.a "$DEPS/lib/"
	cp zlib.h zconf.h "$DEPS/include/"
)

unpack "${PINS[2]}" "$WORK/bzip2"
(
	cd "$WORK/bzip2"
	run make -j"$JOBS" libbz2.a CC="$WCC" AR=llvm-ar RANLIB=llvm-ranlib \
		CFLAGS="$LIBCFLAGS -D_FILE_OFFSET_BITS=64"
	cp libbz2.a "$DEPS/lib/"
	cp bzlib.h "$DEPS/include/"
)

unpack "${PINS[3]}" "$WORK/xz"
(
	cd "$WORK/xz"
	# mythread.h declares a sigprocmask() helper (for the xz tool, not the
	# library) that WASI cannot provide; newer xz skips it on wasm.
	sed -i 's|^#if !(defined(_WIN32) \&\& !defined(__CYGWIN__))$|& \&\& !defined(__wasi__)|' \
		src/common/mythread.h
	grep -q '!defined(__wasi__)' src/common/mythread.h
	run env CC="$WCC" AR=llvm-ar RANLIB=llvm-ranlib CFLAGS="$LIBCFLAGS" \
		./configure --host=wasm32-unknown-wasi --build="$(./build-aux/config.guess)" \
		--prefix="$DEPS" --disable-shared --enable-static --disable-threads \
		--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
		--disable-lzma-links --disable-scripts --disable-doc --disable-nls
	run make -j"$JOBS" -C src/liblzma
	run make -C src/liblzma install
)

unpack "${PINS[4]}" "$WORK/sqlite3"
(
	# The amalgamation (sqlite3.c) is generated by a native configure + tclsh.
	cd "$WORK/sqlite3"
	mkdir -p bld
	cd bld
	run ../configure --disable-tcl
	run make sqlite3.c
	# What SQLite >= 3.41 does itself under __wasi__ (SQLITE_WASI), for 3.40:
	# lock constants, and no-op owner/permission calls (WASI has neither).
	cat >wasi_compat.h <<-'EOF'
		#include <fcntl.h>
		#include <sys/types.h>
		#include <sys/stat.h>
		#ifndef F_RDLCK
		# define F_RDLCK 0
		# define F_WRLCK 1
		# define F_UNLCK 2
		# define F_GETLK 5
		# define F_SETLK 6
		# define F_SETLKW 7
		#endif
		static int fchmod(int fd, mode_t m) { (void)fd; (void)m; return 0; }
		static int fchown(int fd, uid_t u, gid_t g) { (void)fd; (void)u; (void)g; return 0; }
		static uid_t geteuid(void) { return 0; }
	EOF
	# No threads, no mmap, no WAL (needs shared memory), no extension
	# loading; the "unix-none" VFS takes no file locks (WASI has none).
	# (Not SQLITE_OMIT_SHARED_CACHE: CPython's configure requires
	# sqlite3_enable_shared_cache.)
	run $WCC $LIBCFLAGS -D_WASI_EMULATED_MMAN -include wasi_compat.h \
		-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_WAL \
		-DSQLITE_MAX_MMAP_SIZE=0 \
		-DSQLITE_DEFAULT_UNIX_VFS='"unix-none"' -DSQLITE_ENABLE_FTS5 \
		-DSQLITE_ENABLE_MATH_FUNCTIONS -c sqlite3.c -o sqlite3.o
	run llvm-ar rcs libsqlite3.a sqlite3.o
	cp libsqlite3.a "$DEPS/lib/"
	cp sqlite3.h "$DEPS/include/"
)

# OpenSSL (for _ssl and _hashlib), from Debian's source package with its
# patches, as static libraries: no assembly, threads, shared objects, DSO,
# engines or modules (the legacy provider is built in, loaded on request as
# on Debian); sockets on (_ssl's SSL_set_fd is a socket BIO over net.c);
# no datagrams (a box has TCP only); no atexit cleanup: a command module's
# other exports run the atexit handlers when they return (wasm-ld's
# command model), so the snapshot export freed OpenSSL before the snapshot
# was saved, and runs from it had a stopped OpenSSL (a process's memory
# goes with it anyway). OPENSSLDIR is Debian's, /usr/lib/ssl,
# whose cert.pem and certs/ lead to /etc/ssl/certs in the box (package.sh),
# so the default verify paths, SSL_CERT_FILE and SSL_CERT_DIR behave as on
# Debian. Cached apart from the rest, under the key of its own inputs (this
# function, the pin, the socket headers): an edit of CPython's recipe or of
# net.c does not rebuild it.
# build_openssl SRC OUT: libssl.a, libcrypto.a and their headers, from the
# unpacked source tree SRC, into OUT.
build_openssl() {
	local src=$1 out=$2
	cd "$src"
	# The box's socket declarations (net/include), and what OpenSSL's Unix
	# code calls that WASI has not: no users (OPENSSL_issetugid compares
	# ids; 0 lets SSL_CERT_FILE and SSL_CERT_DIR count, as for root).
	# Inside the tree and named relatively, so that no path of this machine
	# reaches the library (OpenSSL records its compile flags).
	mkdir -p wasmbox
	cp -r "$NETINC" wasmbox/include
	cat >wasmbox/compat.h <<-'EOC'
		#include <sys/types.h>
		static inline uid_t getuid(void) { return 0; }
		static inline uid_t geteuid(void) { return 0; }
		static inline gid_t getgid(void) { return 0; }
		static inline gid_t getegid(void) { return 0; }
	EOC
	# Entropy: WASI's random_get, through wasi-libc's getentropy (256 bytes
	# a call at most). OpenSSL finds getentropy only through an ELF weak
	# symbol or dlsym, neither of which wasm has.
	local f=providers/implementations/rands/seeding/rand_unix.c
	[[ $(grep -c '^static ssize_t syscall_random(void \*buf, size_t buflen)$' "$f") == 1 ]] ||
		die "$f: syscall_random not found once"
	perl -0pi -e 's|\nstatic ssize_t syscall_random\(void \*buf, size_t buflen\)\n\{\n|\nstatic ssize_t syscall_random(void *buf, size_t buflen)\n{\n#ifdef __wasi__\n    /* wasmbox: WASI random_get through getentropy (at most 256 bytes a call). */\n    {\n        size_t done = 0;\n\n        while (done < buflen) {\n            size_t n = buflen - done > 256 ? 256 : buflen - done;\n\n            if (getentropy((char *)buf + done, n) != 0)\n                return -1;\n            done += n;\n        }\n        return (ssize_t)buflen;\n    }\n#endif\n|' "$f"
	grep -q 'wasmbox: WASI random_get' "$f" || die "$f: the entropy patch did not apply"
	# No AF_UNIX sockets in WASI (wasi-libc's sockaddr_un has no path):
	# what OpenSSL does for Windows and VMS.
	f=crypto/bio/bio_local.h
	[[ $(grep -c '^#if defined(OPENSSL_SYS_WINDOWS) || defined(OPENSSL_SYS_VMS)$' "$f") == 1 ]] ||
		die "$f: the AF_UNIX condition not found once"
	sed -i 's/^#if defined(OPENSSL_SYS_WINDOWS) || defined(OPENSSL_SYS_VMS)$/& || defined(__wasi__)/' "$f"
	run env CC="$WCC" AR=llvm-ar RANLIB=llvm-ranlib \
		CFLAGS="-O2" \
		CPPFLAGS="-DNO_SYSLOG -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS -Iwasmbox/include -include wasmbox/compat.h" \
		./Configure linux-generic32 --prefix=/usr --libdir=lib --openssldir=/usr/lib/ssl \
		--with-rand-seed=getrandom \
		no-asm no-threads no-shared no-dso no-module no-engine no-async no-afalgeng no-ktls \
		no-ui-console no-secure-memory no-dgram no-tests no-pic no-atexit
	run make -j"$JOBS" build_generated
	run make -j"$JOBS" libcrypto.a libssl.a
	mkdir -p "$out/lib" "$out/include"
	cp libssl.a libcrypto.a "$out/lib/"
	cp -r include/openssl "$out/include/"
}

OSSL_PIN=${PINS[5]}
OSSL_KEY=$({ declare -f build_openssl; echo "$OSSL_PIN"; tree_digest "$NETINC"; } | sha256sum | cut -c1-16)
OSSL=$ROOT/openssl-$OSSL_KEY
exec 8>"$ROOT/openssl-$OSSL_KEY.lock"
flock 8
if [[ ! -f $OSSL/complete ]]; then
	say "OpenSSL ${OSSL_PIN#*=} for wasm32-wasi (a few minutes)"
	OSSL_START=$(date +%s)
	unpack "$OSSL_PIN" "$WORK/openssl"
	rm -rf "$OSSL.partial"
	(
		# Reproducible: OpenSSL records a build date (the Debian revision's).
		export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(dpkg-parsechangelog -l "$WORK/openssl/debian/changelog" -S Timestamp)}
		build_openssl "$WORK/openssl" "$OSSL.partial"
	)
	echo "${OSSL_PIN#*=} built in $(($(date +%s) - OSSL_START)) s" >"$OSSL.partial/complete"
	rm -rf "$OSSL" "$WORK/openssl"
	mv "$OSSL.partial" "$OSSL"
fi
exec 8>&-
echo "openssl: $OSSL ($(cat "$OSSL/complete"))" >>"$LOG"

say "chmod and stat through the box's process ABI"
# WASI has no permission bits, and CPython on WASI makes os.chmod a silent
# no-op: pip's console scripts stayed non-executable. The box keeps modes
# (the shell's chmod sets them through wasmbox_proc.chmod, shims/ABI.md);
# this chmod() does the same for CPython, linked in with HAVE_CHMOD. The
# wasmbox_*stat() functions complete WASI's stat with the box's permission
# bits and owners (wasmbox_proc.stat), for posixmodule (wasi_stat_modes).
mkdir -p "$WORK/wasmbox"
cat >"$WORK/wasmbox/box.c" <<-'EOF'
	#include <errno.h>
	#include <fcntl.h>
	#include <limits.h>
	#include <stdint.h>
	#include <string.h>
	#include <sys/stat.h>
	#include <unistd.h>

	__attribute__((import_module("wasmbox_proc"), import_name("chmod")))
	int wasmbox_proc_chmod(const char *path, size_t len, unsigned mode);
	__attribute__((import_module("wasmbox_proc"), import_name("stat")))
	int wasmbox_proc_stat(const char *path, size_t len, unsigned follow, uint32_t *out);

	/* path as an absolute box path (the ABI takes no other), in buf if it
	   needs the working directory; NULL with errno set if it cannot be. */
	static const char *box_path(const char *path, char *buf, size_t size) {
	    if (path[0] == '\0') {
	        errno = ENOENT;
	        return NULL;
	    }
	    if (path[0] == '/') {
	        return path;
	    }
	    if (getcwd(buf, size) == NULL) {
	        return NULL;
	    }
	    size_t c = strlen(buf), n = strlen(path);
	    if (c + 1 + n + 1 > size) {
	        errno = ENAMETOOLONG;
	        return NULL;
	    }
	    if (buf[c - 1] != '/') {
	        buf[c++] = '/';
	    }
	    memcpy(buf + c, path, n + 1);
	    return buf;
	}

	int chmod(const char *path, mode_t mode) {
	    char buf[PATH_MAX];
	    const char *p = box_path(path, buf, sizeof buf);
	    if (p == NULL) {
	        return -1;
	    }
	    int e = wasmbox_proc_chmod(p, strlen(p), (unsigned)mode);
	    if (e != 0) {
	        errno = e; /* WASI errno numbers, as wasi-libc's */
	        return -1;
	    }
	    return 0;
	}

	/* Sets the permission bits and owner of st, which WASI stat filled in
	   for path, from the box; keeps st as it is if the box cannot say, or
	   says a file of another type (the path changed in between). */
	static void box_meta(const char *path, unsigned follow, struct stat *st) {
	    char buf[PATH_MAX];
	    uint32_t m[4]; /* mode, uid, gid, nlink */
	    int saved = errno;
	    const char *p = box_path(path, buf, sizeof buf);
	    if (p != NULL && wasmbox_proc_stat(p, strlen(p), follow, m) == 0 &&
	        (m[0] & S_IFMT) == (st->st_mode & S_IFMT)) {
	        st->st_mode = (st->st_mode & S_IFMT) | (m[0] & 07777);
	        st->st_uid = m[1];
	        st->st_gid = m[2];
	    }
	    errno = saved;
	}

	/* The process id. WASI has none (wasi-libc's emulation answers 42, to
	   every process). A run resumed from a snapshot is a new process and
	   gets the next id (wasmbox_new_process, called by python.c's resume):
	   what keeps the id to notice a fork, such as OpenSSL's random
	   generators, which then reseed, does not carry the snapshot's state
	   into the run. */
	static pid_t box_pid = 42;

	pid_t getpid(void) {
	    return box_pid;
	}

	void wasmbox_new_process(void) {
	    box_pid++;
	}

	int wasmbox_stat(const char *path, struct stat *st) {
	    int r = stat(path, st);
	    if (r == 0) {
	        box_meta(path, 1, st);
	    }
	    return r;
	}

	int wasmbox_lstat(const char *path, struct stat *st) {
	    int r = lstat(path, st);
	    if (r == 0) {
	        box_meta(path, 0, st);
	    }
	    return r;
	}

	/* Relative to a directory descriptor the box cannot be asked (it is
	   asked by path): WASI's answer stays. */
	int wasmbox_fstatat(int fd, const char *path, struct stat *st, int flag) {
	    int r = fstatat(fd, path, st, flag);
	    if (r == 0 && (fd == AT_FDCWD || path[0] == '/')) {
	        box_meta(path, (flag & AT_SYMLINK_NOFOLLOW) ? 0 : 1, st);
	    }
	    return r;
	}
EOF
run $WCC $LIBCFLAGS -c "$WORK/wasmbox/box.c" -o "$WORK/wasmbox/box.o"
# The socket layer (net/net.c): sockets, options and the resolver over the
# runner's wasmbox_net (shims/ABI.md, "The network ABI").
run $WCC $LIBCFLAGS -Wall -Wextra -Werror -I"$NETINC" -c "$NETSRC/net.c" -o "$WORK/wasmbox/net.o"
run llvm-ar rcs "$DEPS/lib/libwasmbox.a" "$WORK/wasmbox/box.o" "$WORK/wasmbox/net.o"

# ------------------------------------------------------- wasi cpython ---
say "CPython $PY_VER for wasm32-wasi (a few minutes)"
CPY=$WORK/cpython
prepare_cpython "$CPY"
wasi_snapshot "$CPY"
wasi_socket_errors "$CPY"
wasi_openssl_threads "$CPY"
# Reproducible: the build date in sys.version is SOURCE_DATE_EPOCH, else the
# date of the pinned Debian revision, never the clock.
EPOCH=${SOURCE_DATE_EPOCH:-$(dpkg-parsechangelog -l "$WORK/python-changelog" -S Timestamp)}
sed -i "1i #define DATE \"$(LC_ALL=C date -u -d "@$EPOCH" '+%b %e %Y')\"\n#define TIME \"$(date -u -d "@$EPOCH" +%T)\"" \
	"$CPY/Modules/getbuildinfo.c"
# The socket headers and OpenSSL as build inputs under $WORK, whose path
# the sysconfig data loses (below): no path of this machine reaches the box.
cp -r "$NETINC" "$DEPS/net-include"
cp -r "$OSSL" "$DEPS/openssl"
(
	mkdir -p "$CPY/builddir/wasi"
	cd "$CPY/builddir/wasi"
	I="-I$DEPS/include" L="-L$DEPS/lib"
	run env CONFIG_SITE="$CPY/Tools/wasm/config.site-wasm32-wasi" \
		PKG_CONFIG_LIBDIR=/nonexistent \
		CC="$WCC" CPP="$WCC -E" LDSHARED=wasm-ld AR=llvm-ar RANLIB=llvm-ranlib \
		ZLIB_CFLAGS="$I" ZLIB_LIBS="$L -lz" \
		BZIP2_CFLAGS="$I" BZIP2_LIBS="$L -lbz2" \
		LIBLZMA_CFLAGS="$I" LIBLZMA_LIBS="$L -llzma" \
		LIBSQLITE3_CFLAGS="$I" LIBSQLITE3_LIBS="$L -lsqlite3 -lwasi-emulated-mman" \
		ac_cv_func_chmod=yes LIBS="$L -lwasmbox" CPPFLAGS="-I$DEPS/net-include" \
		../../configure --host=wasm32-unknown-wasi --build="$(../../config.guess)" \
		--with-build-python="$BUILD_PY" --prefix="$BOX_PREFIX" \
		--disable-test-modules --without-ensurepip \
		--enable-ipv6 --with-openssl="$DEPS/openssl"
	run make -j"$JOBS"
)
WB=$CPY/builddir/wasi
[[ -f $WB/python.wasm ]] || die "no python.wasm produced"

# ------------------------------------------------------------ output ---
# What the compile produced, unpruned: the interpreter as linked and the
# whole Lib/ tree (.py only). What goes into the box (pruning, .pyc, pip,
# stripping) is package.sh's business, cached under its own key, so that
# changing it never recompiles CPython.
say "stdlib"
PYXY=$("$BUILD_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LIB=$STAGE/lib/python$PYXY
mkdir -p "$LIB"
(cd "$CPY/Lib" && tar -cf - --exclude=__pycache__ .) | tar -xf - -C "$LIB"
# The build's sysconfig data (sysconfig and pip read it).
cp "$WB"/build/lib.*/_sysconfigdata_*.py "$LIB/"
# ... without the paths of this machine's build trees (rewritten as sysconfig
# writes it, so that line wrapping does not depend on the paths either).
run "$BUILD_PY" - "$NATIVE" "$WORK" "$LIB"/_sysconfigdata_*.py <<-'EOF'
	import pprint, sys
	native, work, path = sys.argv[1:]
	ns = {}
	exec(open(path).read(), ns)
	def fix(v):
	    return v.replace(native, "/build/native").replace(work, "/build") if isinstance(v, str) else v
	vars = {k: fix(v) for k, v in ns["build_time_vars"].items()}
	with open(path, "w", encoding="utf8") as f:
	    f.write("# system configuration generated and used by the sysconfig module\n")
	    f.write("build_time_vars = ")
	    pprint.pprint(vars, stream=f)
EOF
cp "$WB/python.wasm" "$STAGE/python.wasm"

# Builtin modules: the _PyImport_Inittab of the build.
BUILTIN=$(sed -n 's/^ *{"\([A-Za-z0-9_.]*\)", PyInit_.*/\1/p' "$WB/Modules/config.c" | sort | tr '\n' ' ')
MISSING=
for m in $WANTED_MODULES; do
	[[ " $BUILTIN " == *" $m "* ]] || MISSING+="$m "
done
toolver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
{
	echo "key: $KEY"
	echo "python: $("$BUILD_PY" -c 'import platform; print(platform.python_version())')"
	echo "box-prefix: $BOX_PREFIX"
	echo "stdlib: lib/python$PYXY"
	echo "build-python: $BUILD_PY"
	echo "debian-sources: ${PINS[*]}"
	echo "python-patches-applied: $(cat "$WORK/patches-applied")"
	echo "toolchain: clang $(toolver clang) lld $(toolver lld) wasi-libc $(toolver wasi-libc) libclang-rt-14-dev-wasm32 $(toolver libclang-rt-14-dev-wasm32)"
	echo "python.wasm-bytes: $(stat -c %s "$STAGE/python.wasm")"
	echo "build-seconds: $(($(date +%s) - START))"
	echo "builtin-modules: $BUILTIN"
	echo "wanted-but-missing: $MISSING"
} >"$STAGE/manifest.txt"

echo "$KEY" >"$STAGE/complete"
rm -rf "$OUT"
mv "$STAGE" "$OUT"
LOG=$OUT/build.log
trap - ERR
rm -rf "$WORK"
say "done in $(($(date +%s) - START)) s${MISSING:+ (missing: $MISSING)}"
echo "$OUT"
