"""BERT's uncased WordPiece tokenizer (what all-MiniLM-L6-v2 uses), from its
vocab.txt: lower-case, strip accents, split on whitespace and punctuation,
then greedy longest-match subwords with '##' continuations."""
import unicodedata


class WordPiece:
    def __init__(self, vocab_path, max_chars_per_word=100):
        self.vocab = {}
        with open(vocab_path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                self.vocab[line.rstrip("\n")] = i
        self.unk, self.cls, self.sep = (self.vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]"))
        self.max_chars = max_chars_per_word

    @staticmethod
    def _words(text):
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words, current = [], ""
        for c in text:
            if c.isspace():
                if current:
                    words.append(current)
                current = ""
            elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or \
                    (58 <= ord(c) <= 64) or (91 <= ord(c) <= 96) or (123 <= ord(c) <= 126):
                if current:
                    words.append(current)
                words.append(c)
                current = ""
            else:
                current += c
        if current:
            words.append(current)
        return words

    def _pieces(self, word):
        if len(word) > self.max_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return pieces

    def encode(self, text, max_length=128):
        ids = [self.cls]
        for word in self._words(text):
            ids.extend(self._pieces(word))
        return ids[: max_length - 1] + [self.sep]

    def batch(self, texts, max_length=128):
        """input_ids and attention_mask, padded to the longest text."""
        import numpy as np
        encoded = [self.encode(t, max_length) for t in texts]
        n = max(len(e) for e in encoded)
        ids = np.zeros((len(texts), n), np.int64)
        mask = np.zeros((len(texts), n), np.int64)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = e
            mask[i, : len(e)] = 1
        return ids, mask
