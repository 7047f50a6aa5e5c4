# The tests' Python peer server (Tests/LakeTestSupport/PythonPeerServer.swift starts it): runs
# script after script in one interpreter that imported duckdb and pyarrow once. Requests come on
# stdin, a socket, one JSON line each (the script, its arguments, the files for its stdout and
# stderr); the answer is one JSON line with the script's exit status, on the same socket.
import gc, json, os, runpy, sys, tempfile, traceback
_ctl = os.dup(0)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
# Between scripts stdout and stderr go to an unnamed regular file, as a script's do while it
# runs: a library that looks at its stdout once, when imported, sees the same kind of file.
_idle = tempfile.TemporaryFile()
os.dup2(_idle.fileno(), 1)
os.dup2(_idle.fileno(), 2)
# The peers' heavy modules, imported once for every script this server runs.
for _name in ("duckdb", "pyarrow", "pyarrow.parquet"):
    try:
        __import__(_name)
    except Exception:
        pass
_requests = open(_ctl, "rb", closefd=False)
while True:
    _line = _requests.readline()
    if not _line:
        break
    _req = json.loads(_line)
    _out = os.open(_req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _err = os.open(_req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(_out, 1)
    os.dup2(_err, 2)
    os.close(_out)
    os.close(_err)
    _env, _cwd, _path = dict(os.environ), os.getcwd(), list(sys.path)
    sys.argv = [_req["script"]] + _req["args"]
    # `python script.py` puts the script's directory first on the module path.
    sys.path[0] = os.path.dirname(os.path.abspath(_req["script"]))
    _status = 0
    try:
        # As `python script.py` runs it: a module of its own registered as __main__ while it
        # runs (dataclasses, pickle and typing look their module up there).
        runpy.run_path(_req["script"], run_name="__main__")
    except SystemExit as _e:
        if _e.code is None:
            _status = 0
        elif isinstance(_e.code, int):
            _status = _e.code & 0xFF
        else:
            print(_e.code, file=sys.stderr)
            _status = 1
    except BaseException:
        traceback.print_exc()
        _status = 1
    for _stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            _stream.flush()
        except Exception:
            pass
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    gc.collect()
    os.chdir(_cwd)
    os.environ.clear()
    os.environ.update(_env)
    sys.path[:] = _path
    os.dup2(_idle.fileno(), 1)
    os.dup2(_idle.fileno(), 2)
    os.write(_ctl, (json.dumps({"status": _status}) + "\n").encode())
