#!/usr/bin/env python3
"""Checks that docs/Passes.md and the ODS pass declarations agree.

Every pass declared in a Passes.td (`def X : Pass<"flag", ...>` under
include/slm, lib or dialects) must
  - have a line in docs/Passes.md that names `--flag`,
  - be registered in slm-opt (listed by `slm-opt --help`),
  - have a lit test named after its flag (`test/**/flag.mlir`),
  - show IR before and after in its ODS description, in the convention the
    descriptions use: a label `Before...:` (up to three lines long) followed
    by a ```mlir block of IR, then a label `After...:` followed by a ```mlir
    block of other IR. A pass that does not change the IR (an analysis that
    prints) says so with `After (IR unchanged)...:` followed by a ```text
    block of what it prints.
Every `--slm-...` or `--convert-...` flag that docs/Passes.md names must be an
ODS pass or an option that `slm-opt --help` lists (registered pipelines such
as --slm-raise are not passes).

Usage: check_passes_doc.py SRC_ROOT HELP_FILE [--docs FILE] [--ods FILE...]
HELP_FILE is the output of `slm-opt --help`. --docs and --ods replace
docs/Passes.md and the Passes.td files found under SRC_ROOT (for testing this
script). Prints one `error:` line per disagreement and exits 1 when there is
any; else prints a summary and exits 0.
"""

import argparse
import glob
import os
import re
import sys

# Passes whose ODS description does not yet show IR before and after, listed
# so that the suite stays green while their owner fixes them. A pass listed
# here that does show them is an error too: the list only shrinks.
KNOWN_MISSING_BEFORE_AFTER = {
    # include/slm/Conversion/Passes.td: "After:" is a sentence, not IR.
    "slm-fuse-elementwise",
    "slm-approximate-math",
}

PASS_DEF = re.compile(r'^def\s+(\w+)\s*:\s*(?:Interface)?Pass<\s*"([^"]+)"',
                      re.MULTILINE | re.DOTALL)
DESCRIPTION = re.compile(r"let\s+description\s*=\s*\[\{(.*?)\}\];", re.DOTALL)
# A pass flag as docs/Passes.md writes it: `--slm-...` or `--convert-...`.
DOC_FLAG = re.compile(r"(?<![\w-])--((?:slm|convert)-[a-z0-9-]*[a-z0-9])")
HELP_FLAG = re.compile(r"^\s+--([a-zA-Z0-9][\w-]*)", re.MULTILINE)
# An IR line: an SSA definition, or an op of some dialect (`scf.for`, ...).
IR_LINE = re.compile(r"%[\w.]+\s*=|\b[a-z_]+\.[a-z_]+\b")


class Pass:
    def __init__(self, record, flag, path, body):
        self.record = record
        self.flag = flag
        self.path = path
        match = DESCRIPTION.search(body)
        self.description = match.group(1) if match else ""


def read_passes(paths, root):
    passes = []
    for path in paths:
        text = open(path, encoding="utf-8").read()
        matches = list(PASS_DEF.finditer(text))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            passes.append(Pass(match.group(1), match.group(2),
                               os.path.relpath(path, root),
                               text[match.start():end]))
    return passes


def label_block(lines, i):
    """When line i starts a label (`Before` or `After`, up to a `:` that ends
    it or one of the next two lines), the label's text, the info string and
    the content of the fenced block right after it; else None."""
    if not re.match(r"^\s*(Before|After)\b", lines[i]):
        return None
    j = i
    while not lines[j].rstrip().endswith(":"):
        j += 1
        if j == len(lines) or j > i + 2 or not lines[j].strip() or \
                lines[j].strip().startswith("```"):
            return None
    text = " ".join(l.strip() for l in lines[i:j + 1])
    j += 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j == len(lines) or not lines[j].strip().startswith("```"):
        return None
    info = lines[j].strip()[3:].strip()
    content = []
    for line in lines[j + 1:]:
        if line.strip().startswith("```"):
            return text, info, content
        content.append(line)
    return None  # not closed


def before_after_problem(description):
    """Why `description` does not show IR before and after ("" when it
    does)."""
    lines = description.split("\n")
    before = after = None
    for i in range(len(lines)):
        found = label_block(lines, i)
        if not found:
            continue
        text, info, content = found
        is_ir = info == "mlir" and any(IR_LINE.search(l) for l in content)
        if text.startswith("Before") and before is None:
            if is_ir:
                before = content
        elif text.startswith("After") and before is not None and after is None:
            printed = ("IR unchanged" in text and info == "text" and
                       any(l.strip() for l in content))
            if is_ir or printed:
                after = content
    if before is None:
        return "no 'Before...:' line followed by a ```mlir block of IR"
    if after is None:
        return ("no 'After...:' line after it followed by a ```mlir block of "
                "IR (or 'After (IR unchanged)...:' and a ```text block)")
    if [l.strip() for l in before] == [l.strip() for l in after]:
        return "the IR before and after are the same"
    return ""


def find_ods_files(root):
    paths = []
    for pattern in ("include/slm/**/Passes.td", "lib/**/Passes.td",
                    "dialects/**/Passes.td"):
        paths += glob.glob(os.path.join(root, pattern), recursive=True)
    return sorted(set(paths))


def lit_tests_by_name(root):
    names = set()
    for path in glob.glob(os.path.join(root, "test", "**", "*.mlir"),
                          recursive=True):
        names.add(os.path.splitext(os.path.basename(path))[0])
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src_root")
    parser.add_argument("help_file", help="output of `slm-opt --help`")
    parser.add_argument("--docs", help="instead of docs/Passes.md")
    parser.add_argument("--ods", nargs="+", help="instead of the Passes.td "
                        "files under SRC_ROOT")
    args = parser.parse_args()
    root = args.src_root

    ods_files = args.ods or find_ods_files(root)
    docs_path = args.docs or os.path.join(root, "docs", "Passes.md")
    docs_name = os.path.relpath(docs_path, root) if not args.docs else \
        os.path.basename(docs_path)
    passes = read_passes(ods_files, root)
    docs = open(docs_path, encoding="utf-8").read()
    help_flags = set(HELP_FLAG.findall(open(args.help_file).read()))
    tests = lit_tests_by_name(root)

    errors = []
    if not passes:
        errors.append("no pass declarations found in %s" %
                      ", ".join(ods_files) if ods_files else
                      "no Passes.td found")
    ods_flags = {}
    for p in passes:
        if p.flag in ods_flags:
            errors.append("--%s is declared twice (%s, %s)" %
                          (p.flag, ods_flags[p.flag].path, p.path))
        ods_flags[p.flag] = p

    doc_flags = set(DOC_FLAG.findall(docs))
    for p in passes:
        where = "%s (%s)" % (p.record, p.path)
        if p.flag not in doc_flags:
            errors.append("--%s, declared by %s, has no line in %s" %
                          (p.flag, where, docs_name))
        if p.flag not in help_flags:
            errors.append("--%s, declared by %s, is not registered in "
                          "slm-opt (not in `slm-opt --help`)" % (p.flag, where))
        if p.flag not in tests:
            errors.append("--%s, declared by %s, has no lit test named after "
                          "it (test/**/%s.mlir)" % (p.flag, where, p.flag))
        problem = before_after_problem(p.description)
        if problem and p.flag not in KNOWN_MISSING_BEFORE_AFTER:
            errors.append("--%s: the description of %s does not show IR "
                          "before and after: %s" % (p.flag, where, problem))
        elif not problem and p.flag in KNOWN_MISSING_BEFORE_AFTER:
            errors.append("--%s now shows IR before and after: remove it from "
                          "KNOWN_MISSING_BEFORE_AFTER in %s" %
                          (p.flag, os.path.basename(__file__)))
    for flag in sorted(doc_flags):
        if flag not in ods_flags and flag not in help_flags:
            errors.append("%s names --%s, which is neither an ODS pass nor "
                          "an option of slm-opt" % (docs_name, flag))

    for error in errors:
        print("error: " + error)
    if errors:
        return 1
    gaps = sorted(f for f in KNOWN_MISSING_BEFORE_AFTER if f in ods_flags)
    print("checked %d passes in %d Passes.td files against %s: they agree" %
          (len(passes), len(ods_files), docs_name))
    for flag in gaps:
        print("note: --%s (%s) still lacks IR before and after in its "
              "description" % (flag, ods_flags[flag].path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
