"""Writes the slm wheel (pure Python, py3-none-any) from a package folder.

usage: make_wheel.py PACKAGE_DIR OUT_DIR --version VERSION

PACKAGE_DIR holds pyproject.toml and slm/ (at install time:
<prefix>/share/slm/python, whose slm/_install.py records the prefix).
Metadata comes from pyproject.toml's [project] table; the version is
slm/__init__.py's __version__, which must equal VERSION (the CMake project's).
Prints the wheel's path. `cmake --install` runs it so that
`pip install <prefix>/share/slm/slm-<version>-py3-none-any.whl` needs no build
step (pip builds a source folder in place, which fails in a read-only prefix).
Standard library only (Python 3.11+ for tomllib); the archive is reproducible.
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import tomllib
import zipfile

parser = argparse.ArgumentParser()
parser.add_argument("package_dir")
parser.add_argument("out_dir")
parser.add_argument("--version", required=True)
args = parser.parse_args()

with open(os.path.join(args.package_dir, "pyproject.toml"), "rb") as f:
    project = tomllib.load(f)["project"]
name = project["name"]
with open(os.path.join(args.package_dir, name, "__init__.py")) as f:
    found = re.search(r'^__version__ = "([^"]+)"', f.read(), re.MULTILINE)
if not found:
    sys.exit(f"error: no __version__ in {name}/__init__.py")
version = found.group(1)
if version != args.version:
    sys.exit(f"error: python/{name}/__init__.py says __version__ = \"{version}\", "
             f"but the build is {args.version} (project() in CMakeLists.txt): "
             "make them equal")

metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
if "description" in project:
    metadata.append(f"Summary: {project['description']}")
if "requires-python" in project:
    metadata.append(f"Requires-Python: {project['requires-python']}")
metadata += [f"Requires-Dist: {dependency}" for dependency in project.get("dependencies", [])]
dist_info = f"{name}-{version}.dist-info"
files = {}
for file in sorted(os.listdir(os.path.join(args.package_dir, name))):
    if file.endswith(".py"):
        with open(os.path.join(args.package_dir, name, file), "rb") as f:
            files[f"{name}/{file}"] = f.read()
files[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
files[f"{dist_info}/WHEEL"] = (
    "Wheel-Version: 1.0\nGenerator: slm make_wheel.py\n"
    "Root-Is-Purelib: true\nTag: py3-none-any\n").encode()
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    record.append(f"{path},sha256={digest.decode()},{len(data)}")
record.append(f"{dist_info}/RECORD,,")
files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

os.makedirs(args.out_dir, exist_ok=True)
wheel = os.path.join(args.out_dir, f"{name}-{version}-py3-none-any.whl")
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
    for path, data in files.items():
        entry = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, data)
print(wheel)
