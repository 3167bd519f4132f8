"""Data for the compression models, read from Debian packages.

- fortunes (`/usr/share/games/fortunes`): quotes in category files; the
  classifier predicts a quote's category from its words.
- bible-kjv (`bible` command): the King James text; the byte-level LM is
  trained on every book but the held-out ones and evaluated on those.

Both splits are deterministic (fixed seeds, fixed book list), so the
committed evaluation sets can be rebuilt bit for bit.
"""
import collections
import json
import os
import random
import re
import subprocess

import numpy as np

FORTUNES = "/usr/share/games/fortunes"
CATEGORIES = ["computers", "definitions", "politics", "science",
              "songs-poems", "startrek", "work", "zippy"]
MAX_WORDS = 64
VOCAB_SIZE = 8000
PAD, UNK = 0, 1

HELD_OUT_BOOKS = ["Ruth", "Esther", "Jonah", "Galatians", "James", "Jude"]


def fortunes():
    """[(text, label)] for CATEGORIES, shuffled with a fixed seed."""
    items = []
    for label, cat in enumerate(CATEGORIES):
        with open(os.path.join(FORTUNES, cat), encoding="utf-8", errors="replace") as f:
            for quote in f.read().split("\n%\n"):
                quote = quote.strip()
                if len(quote) >= 10:
                    items.append((quote, label))
    random.Random(0).shuffle(items)
    return items


def words(text):
    return re.findall(r"[a-z0-9']+|[^\sa-z0-9']", text.lower())


def build_vocab(texts):
    counts = collections.Counter(w for t in texts for w in words(t))
    vocab = ["<pad>", "<unk>"] + [w for w, _ in counts.most_common(VOCAB_SIZE - 2)]
    return {w: i for i, w in enumerate(vocab)}


def encode(texts, vocab):
    """(ids, mask) int64 [n, MAX_WORDS]: right-padded word ids."""
    ids = np.zeros((len(texts), MAX_WORDS), np.int64)
    mask = np.zeros((len(texts), MAX_WORDS), np.int64)
    for i, t in enumerate(texts):
        w = [vocab.get(x, UNK) for x in words(t)][:MAX_WORDS]
        ids[i, :len(w)] = w
        mask[i, :len(w)] = 1
    return ids, mask


def kjv_books():
    """{book name: text} from the `bible` command (verse numbers removed)."""
    out = subprocess.run(["bible", "gen1:1-rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    books = collections.OrderedDict()
    book = None
    for line in out.split("\n"):
        m = re.match(r"^((?:[1-3] )?[A-Z][A-Za-z ]+?) (\d+)$", line)
        if m:
            book = m.group(1)
            books.setdefault(book, [])
            continue
        if book is None or not line.strip():
            continue
        books[book].append(re.sub(r"^\s*\d+ ", "", line).strip())
    return {b: " ".join(lines) + "\n" for b, lines in books.items()}


def kjv_split():
    """(train bytes, held-out bytes)."""
    books = kjv_books()
    missing = [b for b in HELD_OUT_BOOKS if b not in books]
    if missing:
        raise SystemExit(f"bible-kjv: books not found: {missing}")
    train = "".join(t for b, t in books.items() if b not in HELD_OUT_BOOKS)
    held = "".join(books[b] for b in HELD_OUT_BOOKS)
    return train.encode("ascii", "replace"), held.encode("ascii", "replace")


def save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
