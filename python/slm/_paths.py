"""Finding slmc and libslmrt.so."""

import os
import shutil

_REPO_BUILD = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def _candidates(env_var, relative):
    explicit = os.environ.get(env_var)
    if explicit:
        yield explicit
    home = os.environ.get("SLM_HOME")
    if home:
        yield os.path.join(home, relative)
    yield os.path.join(_REPO_BUILD, relative)


def find_slmc():
    for path in _candidates("SLMC", os.path.join("bin", "slmc")):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("slmc")


def find_runtime():
    for path in _candidates("SLM_RUNTIME", os.path.join("lib", "libslmrt.so")):
        if os.path.isfile(path):
            return path
    return None
