"""Checks that every place of an installed slm states one version.

usage: check_version.py PREFIX BUILD_DIR

Compares SLM_VERSION of the build's slm/Support/Version.h (project() in the
top-level CMakeLists.txt) with the CMake package's version, libslmrt's file
name and SONAME, the installed Python package's __version__ (python/slm/
__init__.py, which pyproject.toml reads), its recorded install version and
the wheel's name.
"""
import glob
import os
import re
import sys

prefix, build = sys.argv[1], sys.argv[2]


def grab(path, pattern):
    with open(path) as f:
        match = re.search(pattern, f.read(), re.MULTILINE)
    if not match:
        sys.exit(f"error: no match for {pattern!r} in {path}")
    return match.group(1)


header = os.path.join(build, "include", "slm", "Support", "Version.h")
version = grab(header, r'^#define SLM_VERSION "([^"]+)"')
commit = grab(header, r'^#define SLM_GIT_COMMIT "([^"]+)"')
major, minor, patch = version.split(".")
places = {
    "slmConfigVersion.cmake": grab(
        os.path.join(prefix, "lib", "cmake", "slm", "slmConfigVersion.cmake"),
        r'^set\(PACKAGE_VERSION "([^"]+)"\)'),
    "slm.__version__": grab(
        os.path.join(prefix, "share", "slm", "python", "slm", "__init__.py"),
        r'^__version__ = "([^"]+)"'),
    "slm._install.VERSION": grab(
        os.path.join(prefix, "share", "slm", "python", "slm", "_install.py"),
        r'^VERSION = "([^"]+)"'),
}
library = os.path.join(prefix, "lib", f"libslmrt.so.{version}")
if not os.path.isfile(library):
    sys.exit(f"error: {library} does not exist")
soname = os.path.basename(os.readlink(os.path.join(prefix, "lib", "libslmrt.so")))
if soname != f"libslmrt.so.{major}.{minor}" and soname != f"libslmrt.so.{major}":
    sys.exit(f"error: libslmrt.so points to {soname}")
wheels = glob.glob(os.path.join(prefix, "share", "slm", "*.whl"))
if wheels:
    places["wheel"] = os.path.basename(wheels[0]).split("-")[1]
wrong = {name: v for name, v in places.items() if v != version}
if wrong:
    sys.exit(f"error: Version.h says {version}, but " +
             ", ".join(f"{name} says {v}" for name, v in wrong.items()))
print(f"version {version} everywhere ({', '.join(places)}, {os.path.basename(library)})")
print(f"commit {commit}")
