# The driver of run_python_code (serve/mcp.go): it runs the code given on
# stdin as JSON {"code": ..., "globals": {...}} as a __main__ module, with
# the globals set, top-level await allowed, and writes the value of the last
# expression, as JSON, to the file named by argv[1] (on a tmpfs of its own).
# Errors are the program's: a traceback on stderr and exit status 1.
import ast, io, json, linecache, sys, traceback


def _main():
    req = json.load(sys.stdin)
    sys.stdin = io.StringIO()
    src, out = req["code"], sys.argv[1]
    linecache.cache["<code>"] = (len(src), None, src.splitlines(True), "<code>")
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    ns.update(req.get("globals") or {})
    try:
        tree = ast.parse(src, "<code>", "exec")
        last = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
        if last:
            expr = tree.body[-1]
            tree.body[-1] = ast.copy_location(
                ast.Assign(targets=[ast.Name("__wasmbox_last__", ast.Store())], value=expr.value), expr)
            ast.fix_missing_locations(tree)
        code = compile(tree, "<code>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        r = eval(code, ns)
        if code.co_flags & 0x80:  # CO_COROUTINE: the code awaits at top level
            import asyncio
            asyncio.run(r)
    except SystemExit:
        raise
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<code>":
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        sys.exit(1)
    if last:
        value = ns.pop("__wasmbox_last__", None)
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = json.dumps(repr(value))
        with open(out, "w") as f:
            f.write(text)


_main()
