"""Checks that the README, slm.compile() and slmc agree on the options.

    options_drift.py SLMC README.md [--update]

- README.md's options table (between the options-table markers) must be
  exactly `slmc --describe-options=markdown`; --update rewrites it.
- slm.compile() must take its keywords from slmc's declarations (no
  keyword of its own besides `timeout`), every keyword its docstring names
  must be declared, and every declared keyword must map to a flag slmc
  accepts (`slmc --help`).
"""

import inspect
import json
import os
import re
import subprocess
import sys

BEGIN = "<!-- options-table:begin (generated: slmc --describe-options=markdown) -->"
END = "<!-- options-table:end -->"


def main():
    slmc, readme = sys.argv[1], sys.argv[2]
    update = "--update" in sys.argv[3:]
    table = subprocess.run([slmc, "--describe-options=markdown"], check=True,
                           capture_output=True, text=True).stdout
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: no options-table markers")
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    if current.strip("\n") != table.strip("\n"):
        if update:
            open(readme, "w").write(head + BEGIN + "\n" + table + END + tail)
            print("README options table updated")
        else:
            sys.exit(f"{readme}: the options table differs from "
                     "`slmc --describe-options=markdown`; rerun this script with --update")
    print("readme table matches")

    sys.path.insert(0, os.path.join(os.path.dirname(readme), "python"))
    os.environ["SLMC"] = slmc
    import slm
    declared = slm.compile_options()
    raw = json.loads(subprocess.run([slmc, "--describe-options=json"], check=True,
                                    capture_output=True, text=True).stdout)
    assert set(declared) == {o["python"] for o in raw}
    params = inspect.signature(slm.compile).parameters
    own = {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY}
    if own != {"timeout"}:
        sys.exit(f"slm.compile declares keywords of its own: {sorted(own - {'timeout'})}")
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        sys.exit("slm.compile takes no **options")
    doc = inspect.getdoc(slm.compile)
    section = doc.split("Keywords are", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+|mcpu|emit|quantize|calibration)\b(?!\()",
                           section))
    stale = sorted(n for n in named if n not in declared)
    if stale:
        sys.exit(f"slm.compile's docstring names keywords slmc does not declare: {stale}")
    help_text = subprocess.run([slmc, "--help"], check=True, capture_output=True,
                               text=True).stdout
    for name, o in declared.items():
        if f"--{o['flag']}" not in help_text:
            sys.exit(f"keyword {name}: slmc --help has no --{o['flag']}")
    print(f"python keywords match: {len(declared)} options, {len(named)} named in the docstring")


if __name__ == "__main__":
    main()
