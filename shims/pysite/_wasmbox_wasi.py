"""What WASI cannot do, said clearly: messages and fixes (see _wasmbox)."""

import sys

_WHERE = "not available in a wasmbox"
_PROCESSES = "WASI has no processes"
_NETWORK = "a wasmbox has TCP sockets only, which the runner connects"
_SIGNALS = "WASI has no signals"
_THREADS = "WASI has no threads"
_USERS = "WASI has no users or groups"
_TERMINALS = "WASI has no terminals"
_NATIVE = "WASI cannot load native code (no dlopen, no libffi)"


def _names(reason, names):
    return dict.fromkeys(names.split(), reason)


# Functions Linux CPython has and CPython for WASI lacks, by reason.
_MISSING = {
    "os": {
        **_names(_PROCESSES, """fork forkpty register_at_fork system spawnl spawnle
            spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp
            execv execve wait wait3 wait4 waitid waitpid waitstatus_to_exitcode
            getppid getpgid getpgrp getsid setsid setpgid setpgrp pipe pipe2 mkfifo
            nice getpriority setpriority sched_getaffinity sched_setaffinity
            getloadavg pidfd_open"""),
        **_names(_SIGNALS, "kill killpg"),
        **_names(_USERS, """getuid geteuid getgid getegid getgroups getgrouplist
            getresuid getresgid setuid seteuid setgid setegid setgroups setreuid
            setregid setresuid setresgid initgroups getlogin chown fchown lchown
            chroot umask"""),
        **_names(_TERMINALS, """get_terminal_size openpty login_tty ttyname
            ctermid tcgetpgrp tcsetpgrp"""),
    },
    "signal": _names(_SIGNALS, """alarm pause setitimer getitimer siginterrupt
        sigwait sigwaitinfo sigtimedwait sigpending pthread_kill pthread_sigmask
        valid_signals"""),
    "socket": _names(_NETWORK, """sethostname if_nameindex if_nametoindex
        if_indextoname CMSG_LEN CMSG_SPACE"""),
}

# C modules CPython for WASI does not have, and why.
_NO_MODULE = {
    "_ctypes": _NATIVE + ": ctypes is " + _WHERE,
    # The python base leaves these packages out: their C parts cannot exist.
    "ctypes": _NATIVE + ": ctypes is " + _WHERE,
    "_curses": _TERMINALS + ": curses is " + _WHERE,
    "curses": _TERMINALS + ": curses is " + _WHERE,
    "_multiprocessing": _PROCESSES + ": multiprocessing is " + _WHERE,
    "termios": _TERMINALS + ": termios, tty and pty are " + _WHERE,
}


def missing(module, name):
    """The AttributeError for module.name, with the reason when WASI is why."""
    msg = f"module {module!r} has no attribute {name!r}"
    reason = _MISSING.get(module, {}).get(name)
    if reason is not None:
        msg += f" ({reason}; {module}.{name} is {_WHERE})"
    return AttributeError(msg)


def hostname():
    """The box's host name: the first line of /etc/hostname, as a
    container's, else "wasmbox"."""
    try:
        with open("/etc/hostname", encoding="utf-8", errors="replace") as f:
            name = f.readline().strip()
    except OSError:
        name = ""
    return name or "wasmbox"


def no_thread(err):
    """The RuntimeError for a thread _thread could not start."""
    return RuntimeError(f"{err} ({_THREADS}; threads are {_WHERE})")


def sleep(secs):
    """time.sleep, waiting in poll(), whose timeout is relative."""
    import _operator
    import select
    import time

    if not isinstance(secs, float):
        secs = _operator.index(secs)  # CPython's TypeError for the rest
    if secs != secs:
        raise ValueError("Invalid value NaN (not a number)")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + secs
    p = select.poll()
    while (left := deadline - time.monotonic()) > 0:
        p.poll(min(left, 3600.0) * 1000)


def absent(name):
    """The ModuleNotFoundError for a package the python base leaves out."""
    msg = f"No module named {name!r}"
    reason = _NO_MODULE.get(name)
    if reason is not None:
        msg += f" ({reason})"
    return ModuleNotFoundError(msg, name=name)


def _explain(err):
    reason = _NO_MODULE.get(getattr(err, "name", None))
    if reason is not None and isinstance(err.msg, str) and reason not in err.msg:
        err.msg = f"{err.msg} ({reason})"
        err.args = (err.msg,)


def _module_getattr(module):
    def __getattr__(name):
        raise missing(module, name)

    return __getattr__


def _fix_socket(socket):
    socket.__getattr__ = _module_getattr("socket")

    def gethostname():
        """gethostname() -> string

        Return the current host name (the box's: /etc/hostname)."""
        import os

        return os.uname().nodename

    socket.gethostname = socket._socket.gethostname = gethostname


def _fix_signal(signal):
    signal.__getattr__ = _module_getattr("signal")


def _fix_multiprocessing_process(process):
    import errno

    def start(self):
        raise OSError(errno.ENOTSUP, f"multiprocessing cannot start a process: {_PROCESSES}")

    process.BaseProcess.start = start


def _fix_multiprocessing_context(context):
    # allow_connection_pickling() teaches pickle to send connections and
    # sockets to another process, importing multiprocessing.connection,
    # which needs _multiprocessing. uvicorn calls it at import. With no
    # other process to send them to, there is nothing to teach.
    def allow_connection_pickling(self):
        """Nothing to do: a wasmbox has no other process to send
        connections and sockets to."""

    context.BaseContext.allow_connection_pickling = allow_connection_pickling


def _fix_asyncio_unix_events(unix_events):
    # asyncio says NotImplementedError where a loop cannot handle signals
    # (Windows), and servers fall back on it (uvicorn: signal.signal, which
    # a wasmbox accepts and never fires); not valid_signals' AttributeError.
    def add_signal_handler(self, sig, callback, *args):
        raise NotImplementedError(f"add_signal_handler: {_SIGNALS}")

    def remove_signal_handler(self, sig):
        return False

    loop = unix_events._UnixSelectorEventLoop
    loop.add_signal_handler = add_signal_handler
    loop.remove_signal_handler = remove_signal_handler


def _fix_socketserver(socketserver):
    # ThreadingMixIn handles each request in a new thread, which WASI cannot
    # start: python -m http.server (ThreadingHTTPServer) failed every
    # request. Handle each in the server's own thread, one at a time, as
    # the servers without the mixin do.
    socketserver.ThreadingMixIn.process_request = socketserver.BaseServer.process_request


def _fix_asyncio_base_events(base_events):
    # The loop resolves names in its default executor, a thread, which WASI
    # cannot start: open_connection("example.com", 443) and start_server()
    # failed. Resolve in the loop's own thread instead (the runner answers;
    # the loop waits for it as for any blocking call).
    import socket

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        return socket.getaddrinfo(host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return socket.getnameinfo(sockaddr, flags)

    loop = base_events.BaseEventLoop
    getaddrinfo.__doc__ = loop.getaddrinfo.__doc__
    getnameinfo.__doc__ = loop.getnameinfo.__doc__
    loop.getaddrinfo = getaddrinfo
    loop.getnameinfo = getnameinfo


_FIXES = {
    "socket": _fix_socket,
    "signal": _fix_signal,
    "multiprocessing.process": _fix_multiprocessing_process,
    "multiprocessing.context": _fix_multiprocessing_context,
    "asyncio.unix_events": _fix_asyncio_unix_events,
    "socketserver": _fix_socketserver,
    "asyncio.base_events": _fix_asyncio_base_events,
}


def fix(name, module):
    """Applies the fix for module name, if it has one."""
    f = _FIXES.get(name)
    if f is not None:
        f(module)


class Loader:
    """Runs a module's own loader, then its fix; an ImportError for a C
    module WASI cannot have gets the reason in its message."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            self._loader.exec_module(module)
        except ImportError as err:
            _explain(err)
            raise
        fix(self._name, module)
