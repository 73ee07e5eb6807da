# The Python interpreter of a session (serve/pysession.go): it lasts across
# the session's code runs, so their globals do. Each run arrives on stdin as
# one JSON line {"nonce", "code", "env", "dir", "stdin"} and runs as
# `python3 -c CODE` would, in one __main__ namespace kept from run to run:
# its output on stdout and stderr, a traceback and status 1 for an
# exception, sys.exit's status. The end of a run is a line on stdout that
# starts with NUL, "wasmbox-end:" and the run's nonce, then its status.
# It runs as <wasmbox-session>, so a traceback shows the code's frames only.
import base64, io, json, os, sys, traceback

_ns = {"__name__": "__main__", "__builtins__": __builtins__, "__doc__": None}


def _status(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _flush():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _stdio(f, fd):
    # The run's output goes to the run: a stream an earlier run replaced
    # or closed is made again (the descriptor stays open).
    if f is not None and not f.closed:
        return f
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace")


def _main():
    control = sys.stdin.buffer
    out, err = sys.stdout, sys.stderr
    while True:
        line = control.readline()
        if not line:
            return
        req = json.loads(line)
        os.environ.clear()
        for kv in req["env"]:
            k, _, v = kv.partition("=")
            os.environ[k] = v
        sys.stdout = out = _stdio(out, 1)
        sys.stderr = err = _stdio(err, 2)
        status = 0
        try:
            os.chdir(req["dir"])
            sys.stdin = io.TextIOWrapper(io.BytesIO(base64.b64decode(req["stdin"])))
            sys.argv = ["-c"]
            exec(compile(req["code"], "<string>", "exec"), _ns)
        except SystemExit as e:
            status = _status(e)
        except BaseException as e:
            tb = e.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != "<string>":
                tb = tb.tb_next
            traceback.print_exception(type(e), e, tb)
            status = 1
        _flush()
        os.write(1, b"\0wasmbox-end:" + req["nonce"].encode() + b":" + str(status).encode() + b"\n")


_main()
