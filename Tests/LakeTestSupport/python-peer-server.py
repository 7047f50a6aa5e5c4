# The tests' Python peer server (Tests/LakeTestSupport/PythonPeerServer.swift starts it): runs
# script after script in one interpreter that imported duckdb and pyarrow once. Requests come on
# stdin, a socket, one JSON line each (the script, its arguments, the files for its stdout and
# stderr); the answer is one JSON line on the same socket: the script's exit status, and
# "retire" when the script changed something this server cannot put back (then the pool closes it).
import decimal, gc, json, os, runpy, sys, tempfile, threading, traceback
_ctl = os.dup(0)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
# The server's own stderr (the pool's log of it) stays reachable for its own failures.
_log = os.dup(2)
# Between scripts stdout and stderr go to an unnamed regular file, as a script's do while it
# runs: a library that looks at its stdout once, when imported, sees the same kind of file.
_idle = tempfile.TemporaryFile()
os.dup2(_idle.fileno(), 1)
os.dup2(_idle.fileno(), 2)
# The peers' heavy modules, imported once for every script this server runs.
for _name in ("duckdb", "pyarrow", "pyarrow.parquet"):
    try:
        __import__(_name)
    except Exception as _e:
        os.write(_log, f"python peer server: cannot import {_name}: {_e!r}\n".encode())
# What the imports made lives as long as the server: kept out of the collections, so the one
# after each script walks that script's objects only, not every duckdb and pyarrow module object
# again (about 15 CPU-seconds over a test run).
gc.collect()
gc.freeze()
# What each script starts from and gets back: the decimal context is the thread's, not the
# module's, so a script that widened its precision would widen every later script's.
_decimal_context = decimal.getcontext().copy()
_threads = threading.active_count()


def _flush():
    """Flushes Python's standard streams; False when stdout could not be written (the
    interpreter exits 120 then)."""
    ok = True
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            ok = ok and stream not in (sys.stdout, sys.__stdout__)
    return ok


def _run(req):
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    env, cwd, path = dict(os.environ), os.getcwd(), list(sys.path)
    sys.argv = [req["script"]] + req["args"]
    # `python script.py` puts the script's directory first on the module path.
    sys.path[0] = os.path.dirname(os.path.abspath(req["script"]))
    status = 0
    try:
        # As `python script.py` runs it: a module of its own registered as __main__ while it
        # runs (dataclasses, pickle and typing look their module up there).
        runpy.run_path(req["script"], run_name="__main__")
    except SystemExit as e:
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code & 0xFF
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    if not _flush() and status == 0:
        status = 120
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    # Objects in reference cycles (any script that defines a function) are freed only by a
    # collection: a DuckDB connection among them closes, with its attached lake, here.
    gc.collect()
    # What a finaliser printed is still this script's output.
    _flush()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.path[:] = path
    decimal.setcontext(_decimal_context.copy())
    os.dup2(_idle.fileno(), 1)
    os.dup2(_idle.fileno(), 2)
    # Threads still running would write into later scripts' output; closed or reconfigured
    # standard streams would fail them: such a server answers this script and goes.
    retire = threading.active_count() != _threads or any(
        s is None or s.closed for s in (sys.__stdin__, sys.__stdout__, sys.__stderr__))
    return {"status": status, "retire": retire}


_requests = open(_ctl, "rb", closefd=False)
while True:
    _line = _requests.readline()
    if not _line:
        break
    try:
        _answer = _run(json.loads(_line))
    except BaseException:
        os.dup2(_log, 2)
        traceback.print_exc()
        raise
    os.write(_ctl, (json.dumps(_answer) + "\n").encode())
