"""Finding slmc and libslmrt.so.

Each is searched in this order; the first that exists wins:
1. $SLMC (the compiler) / $SLM_RUNTIME (the runtime library): the file itself.
2. $SLM_HOME: a prefix or build folder, with bin/slmc and lib/libslmrt.so.
3. The install prefix that `cmake --install` recorded in slm/_install.py (a
   package installed from <prefix>/share/slm/python has it).
4. The repository's build/ folder, when this package runs from the source
   tree (python/slm, e.g. PYTHONPATH=python or `pip install -e python`).
5. `slmc` on PATH, and libslmrt.so beside it in ../lib.
`search_locations()` lists them, for error messages and bug reports.
"""

import os
import shutil

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.normpath(os.path.join(_HERE, "..", ".."))

try:
    from . import _install
except ImportError:  # Not installed by cmake --install.
    _install = None

_SLMC = "slmc"
_RUNTIME = "libslmrt.so"


def _from_source_tree():
    """The repository's build folder when this file is python/slm/_paths.py
    of a checkout, else None."""
    if not (os.path.isfile(os.path.join(_REPO, "python", "pyproject.toml"))
            and os.path.isfile(os.path.join(_REPO, "CMakeLists.txt"))):
        return None
    return os.path.join(_REPO, "build")


def _places():
    """(description, bindir, libdir) for steps 2-5, as far as they apply."""
    home = os.environ.get("SLM_HOME")
    if home:
        yield "$SLM_HOME", os.path.join(home, "bin"), os.path.join(home, "lib")
    if _install is not None:
        prefix = _install.PREFIX
        yield ("install prefix", os.path.join(prefix, _install.BINDIR),
               os.path.join(prefix, _install.LIBDIR))
    build = _from_source_tree()
    if build is not None:
        yield "source tree", os.path.join(build, "bin"), os.path.join(build, "lib")
    slmc = shutil.which(_SLMC)
    if slmc:
        bindir = os.path.dirname(os.path.realpath(slmc))
        yield "PATH", bindir, os.path.join(bindir, "..", "lib")


def _candidates(env_var, name, in_bindir):
    explicit = os.environ.get(env_var)
    if explicit:
        yield explicit
    for _, bindir, libdir in _places():
        yield os.path.join(bindir if in_bindir else libdir, name)


def find_slmc():
    """The slmc executable's path, or None."""
    for path in _candidates("SLMC", _SLMC, in_bindir=True):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.normpath(path)
    return None


def find_runtime():
    """libslmrt.so's path, or None."""
    for path in _candidates("SLM_RUNTIME", _RUNTIME, in_bindir=False):
        if os.path.isfile(path):
            return os.path.normpath(path)
    return None


def search_locations():
    """Where find_slmc and find_runtime look, in order: a list of
    (description, slmc path, libslmrt path); None where unset."""
    where = [("$SLMC / $SLM_RUNTIME", os.environ.get("SLMC"), os.environ.get("SLM_RUNTIME"))]
    for name, bindir, libdir in _places():
        where.append((name, os.path.normpath(os.path.join(bindir, _SLMC)),
                      os.path.normpath(os.path.join(libdir, _RUNTIME))))
    return where
