#!/usr/bin/env python3
"""Build the training corpus for lastcall-mini-embed (deterministic).

Usage: corpus.py TRANSLATION_EN_TEXT OUT_CORPUS OUT_STATS_JSON

Sources (all from Debian 12 "bookworm" main):
  * WordNet 3.0 data files (/usr/share/wordnet/data.*, package wordnet-base):
    synonym sets + glosses + examples, and synonym + hypernym/similar-to lines.
  * Debian package long descriptions (Translation-en index of bookworm/main),
    paragraph-deduplicated.
  * FOLDOC and the Jargon File (packages dict-foldoc, dict-jargon).

Text is normalised exactly the way the shipped tokenizer does it (BERT basic
tokenizer: NFD, strip accents, lowercase, split on whitespace + punctuation),
and only alphanumeric tokens are kept, so every corpus word is a vocab word.
"""
import gzip
import json
import re
import sys
import unicodedata

WN_DIR = "/usr/share/wordnet"
FOLDOC = "/usr/share/dictd/foldoc.dict.dz"
JARGON = "/usr/share/dictd/jargon.dict.dz"


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def bert_tokens(text):
    """Approximation of HF BertNormalizer(lowercase, strip_accents) + BertPreTokenizer."""
    out = []
    buf = []
    text = unicodedata.normalize("NFD", text.lower())
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn":
            continue
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (cat.startswith("C") and ch not in "\t\n\r"):
            continue
        if ch.isspace() or _is_punct(ch) or _is_cjk(cp):
            if buf:
                out.append("".join(buf))
                buf = []
            if not ch.isspace():
                out.append(ch)
        else:
            buf.append(ch)
    if buf:
        out.append("".join(buf))
    return out


WORD_RE = re.compile(r"^[^\W_]+$")


def norm_line(text):
    return " ".join(t for t in bert_tokens(text) if WORD_RE.match(t))


def wordnet_lines():
    synsets = {}
    order = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(f"{WN_DIR}/data.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition("|")
                parts = head.split()
                offset, ss_type = parts[0], parts[2]
                w_cnt = int(parts[3], 16)
                words = []
                i = 4
                for _ in range(w_cnt):
                    w = re.sub(r"\([a-z]+\)$", "", parts[i]).replace("_", " ")
                    words.append(w)
                    i += 2
                p_cnt = int(parts[i])
                i += 1
                ptrs = []
                for _ in range(p_cnt):
                    sym, off, ppos = parts[i], parts[i + 1], parts[i + 2]
                    ptrs.append((sym, off, "a" if ppos == "s" else ppos))
                    i += 4
                key = (offset, "a" if ss_type == "s" else ss_type)
                synsets[key] = (words, ptrs, gloss.strip())
                order.append(key)
    rel = {"@", "@i", "&", "^", "$", "=", "%p", "#p", "+"}
    for key in order:
        words, ptrs, gloss = synsets[key]
        lem = " ".join(words)
        yield norm_line(f"{lem} {gloss}")
        related = []
        for sym, off, ppos in ptrs:
            if sym in rel and (off, ppos) in synsets:
                related.extend(synsets[(off, ppos)][0][:3])
        if len(words) > 1 or related:
            yield norm_line(" ".join(words + related))


def debian_lines(path):
    seen = set()
    para = []

    def flush():
        if para:
            txt = norm_line(" ".join(para))
            para.clear()
            if txt and txt not in seen:
                seen.add(txt)
                return txt
        return None

    in_desc = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("Description-en:"):
                r = flush()
                if r:
                    yield r
                in_desc = True
                para.append(line[len("Description-en:"):].strip() + " .")
                continue
            if in_desc and line.startswith(" "):
                s = line.strip()
                if s == ".":
                    r = flush()
                    if r:
                        yield r
                else:
                    para.append(s)
                continue
            in_desc = False
            r = flush()
            if r:
                yield r
    r = flush()
    if r:
        yield r


def dict_lines(path):
    text = gzip.open(path).read().decode("utf-8", errors="replace")
    for para in re.split(r"\n\s*\n", text):
        txt = norm_line(para.replace("{", " ").replace("}", " "))
        if len(txt.split()) >= 3:
            yield txt


def main():
    tr, out, stats_path = sys.argv[1:4]
    stats = {}
    with open(out, "w", encoding="utf-8") as f:
        def emit(name, lines, repeat=1):
            lines = [l for l in lines if l]
            n_words = sum(len(l.split()) for l in lines)
            for _ in range(repeat):
                for l in lines:
                    f.write(l + "\n")
            stats[name] = {"lines": len(lines), "words": n_words, "repeat": repeat}
        emit("wordnet", list(wordnet_lines()), repeat=2)
        emit("debian_descriptions", list(debian_lines(tr)))
        emit("foldoc", list(dict_lines(FOLDOC)))
        emit("jargon", list(dict_lines(JARGON)))
    stats["total_words"] = sum(v["words"] * v["repeat"] for k, v in stats.items() if isinstance(v, dict))
    with open(stats_path, "w") as f:
        json.dump(stats, f, indent=2)
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
