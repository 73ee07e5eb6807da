"""What WASI cannot do, said clearly: the part loaded at every start-up.

wasmbox's python base has site import this module first thing (its
site module is patched to, shims/python/build.sh), in a virtual environment
too.

WASI preview 1 has no processes, threads, signals, users or native
libraries (sockets the runner adds: shims/ABI.md, "The network ABI");
CPython for WASI leaves those functions out, or fails
with a bare errno deep inside the standard library. wasmbox keeps the
exception type CPython raises (so `hasattr`, `except ImportError` and
`except OSError` decide as they do elsewhere) and puts the reason in the
message.

Start-up cost matters: this part only hooks in; the messages and fixes
live in _wasmbox_wasi, imported when one is needed. Both ship as
sourceless .pyc (shims/python/package.sh compiles them with the stdlib);
neither writes one: a RUN at build time would leave it in the box's layer.
"""

import sys

# Modules fixed after their own code runs, and packages whose modules
# import a C module WASI cannot have.
_FIX = {"socket", "signal", "socketserver", "multiprocessing.process", "multiprocessing.context",
        "asyncio.base_events", "asyncio.unix_events"}
_EXPLAIN = {"ctypes", "multiprocessing", "tty", "pty", "curses"}
# Packages the python base leaves out (their C parts cannot exist on WASI):
# importing them says why.
_ABSENT = {"ctypes", "curses"}


def _wasi():
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        import _wasmbox_wasi
    finally:
        sys.dont_write_bytecode = dont_write
    return _wasmbox_wasi


class _Finder:
    """Finds what the other finders find, for the modules of _FIX and
    _EXPLAIN, and wraps their loader (see _wasmbox_wasi.Loader)."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in _FIX and name.partition(".")[0] not in _EXPLAIN:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is cls or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            if name in _ABSENT:
                raise _wasi().absent(name)
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _wasi().Loader(spec.loader, name)
        return spec


def _install():
    import _thread
    import os

    def __getattr__(name):
        raise _wasi().missing("os", name)

    os.__getattr__ = __getattr__

    start_new_thread = _thread.start_new_thread

    def start(function, args, kwargs=None):
        try:
            if kwargs is None:
                return start_new_thread(function, args)
            return start_new_thread(function, args, kwargs)
        except RuntimeError as err:
            raise _wasi().no_thread(err) from None

    _thread.start_new_thread = _thread.start_new = start

    # WASI has no host name: uname's nodename was "(none)". The box's is
    # in /etc/hostname, as in a container (platform.node() and
    # socket.gethostname() ask os.uname too).
    uname = os.uname

    def _uname():
        u = uname()
        return os.uname_result((u.sysname, _wasi().hostname(), u.release, u.version, u.machine))

    _uname.__doc__ = uname.__doc__
    os.uname = _uname
    if "threading" in sys.modules:
        sys.modules["threading"]._start_new_thread = start
    # CPython looks for a bare argv[0] on PATH for an executable file,
    # and WASI reports no permission bits: sys.executable would stay
    # empty. Take the first file on PATH, as the search would.
    argv0 = sys.orig_argv[0] if sys.orig_argv else ""
    if not sys.executable and argv0 and "/" not in argv0:
        for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
            candidate = os.path.join(d or ".", argv0)
            if os.path.isfile(candidate):
                sys.executable = os.path.abspath(candidate)
                if not sys._base_executable:
                    sys._base_executable = sys.executable
                break

    # time.sleep waits with an absolute-time clock_nanosleep, which the
    # runner's poll_oneoff (wazero's) refuses with ENOTSUP: every sleep
    # raised OSError. Sleep with a relative poll instead, while it fails.
    import time

    try:
        time.sleep(0)
    except OSError:
        native_sleep = time.sleep

        def sleep(secs):
            return _wasi().sleep(secs)

        sleep.__doc__ = native_sleep.__doc__
        time.sleep = sleep

    for name in _FIX:
        if name in sys.modules:
            _wasi().fix(name, sys.modules[name])
    sys.meta_path.insert(0, _Finder)


if sys.platform == "wasi":
    _install()
