#!/usr/bin/env python3
"""The README's zoo raising table: what `slmc --report` raised per family.

    raise_table.py SLMC ZOO_DIR README.md [--update] [--print]

Runs `slmc --report` on each family's opset-17 export (opset 14 when 17 did
not export) in ZOO_DIR (written by export_zoo.py) and renders one row per
family: the position scheme its attention takes as an input, what was raised
and what was not, with the reason the report gives (or why the model does
not import). The table lives in README.md between the zoo-raising markers;
without --update the script exits 1 when README.md differs.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys

BEGIN = "<!-- zoo-raising:begin (generated: test/zoo/Inputs/raise_table.py) -->"
END = "<!-- zoo-raising:end -->"

# How each family encodes positions; raised attention takes the scheme as an
# input (an additive bias for relative/ALiBi, rotated Q and K for rotary).
POSITIONS = {
    "bert": "learned absolute", "roberta": "learned absolute",
    "xlm-roberta": "learned absolute", "distilbert": "learned absolute",
    "albert": "learned absolute", "electra": "learned absolute",
    "deberta-v2": "disentangled relative (c2p/p2c)", "mpnet": "relative bias",
    "gpt2": "learned absolute", "gpt-neo": "learned absolute, local window",
    "opt": "learned absolute (offset 2)", "bloom": "ALiBi", "llama": "rotary",
    "mistral": "rotary", "qwen2": "rotary", "phi": "partial rotary", "gemma": "rotary",
    "t5-encoder": "relative bias", "t5-decoder": "relative bias",
    "bart-encoder": "learned absolute", "bart-decoder": "learned absolute",
    "marian": "sinusoidal", "vit": "learned absolute", "deit": "learned absolute",
    "swin": "relative bias (windows)", "dinov2": "learned absolute (interpolated)",
    "clip-text": "learned absolute", "clip-vision": "learned absolute",
    "whisper-encoder": "sinusoidal", "wav2vec2": "convolutional",
}


def summarize(text):
    """(raised, not raised) cells of one report, or an import failure."""
    raised = re.findall(r"raised: (.*)", text)
    if not raised:
        errors = [l for l in text.splitlines() if "error" in l]
        first = errors[0] if errors else text.strip().splitlines()[0]
        first = re.sub(r"^loc\((?:[^()]|\([^()]*\))*\):\s*", "", first)
        first = re.sub(r"^.*?error: ", "", first)
        ops = re.findall(r"^\s+(\S+) \(node", text, re.M)
        if ops:
            first += " " + ", ".join(sorted(set(ops)))
        return "-", "does not import: " + first.replace("|", "/")
    cell = raised[0].replace("slm.", "")
    lines = text.split("not raised:", 1)[1].strip().splitlines()
    if lines and lines[0].strip() == "none":
        return cell, "none"
    reasons = {}
    for line in lines:
        m = re.match(r"\s*slm\.(\w+) '[^']*': (.*)", line)
        if m:
            key = f"{m.group(1)}: {m.group(2)}"
            reasons[key] = reasons.get(key, 0) + 1
    return cell, "; ".join(f"{n} {k}" for k, n in sorted(reasons.items()))


def render(slmc, zoo):
    manifest = json.load(open(os.path.join(zoo, "zoo.json")))
    plain = {}
    for m in manifest["models"]:
        if m["variant"] == "plain" and "path" in m:
            plain.setdefault(m["family"], {})[m["opset"]] = m["path"]

    def row(fam):
        paths = plain.get(fam, {})
        opset = 17 if 17 in paths else 14 if 14 in paths else None
        if opset is None:
            return f"| {fam} | {POSITIONS.get(fam, '')} | - | - | does not export |"
        r = subprocess.run([slmc, os.path.join(zoo, paths[opset]), "--report", "-o",
                            os.devnull], capture_output=True, text=True)
        raised, left = summarize(r.stdout + r.stderr)
        return f"| {fam} | {POSITIONS.get(fam, '')} | {opset} | {raised} | {left} |"

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(row, manifest["families"]))
    head = ["| family | position scheme | opset | raised | not raised (reason) |",
            "|---|---|---|---|---|"]
    return "\n".join(head + rows) + "\n"


def main():
    slmc, zoo, readme = sys.argv[1:4]
    table = render(slmc, zoo)
    if "--print" in sys.argv[4:]:
        print(table)
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: no zoo-raising markers")
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    if current.strip("\n") != table.strip("\n"):
        if "--update" in sys.argv[4:]:
            open(readme, "w").write(head + BEGIN + "\n" + table + END + tail)
            print("README zoo raising table updated")
            return 0
        old, new = current.strip("\n").splitlines(), table.strip("\n").splitlines()
        for line in sorted(set(old) ^ set(new)):
            print(("- " if line in old else "+ ") + line)
        sys.exit(f"{readme}: the zoo raising table differs from `slmc --report` on the zoo; "
                 "rerun test/zoo/Inputs/raise_table.py with --update")
    print("zoo raising table matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
