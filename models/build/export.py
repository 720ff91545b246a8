#!/usr/bin/env python3
"""Export fastText vectors as a transformers.js-loadable "bert" feature-extraction model.

Usage: export.py FT_VEC CORPUS OUT_DIR [--vocab 50000] [--sif-a 1e-3]

Output (transformers.js layout):
  OUT_DIR/config.json, tokenizer.json, tokenizer_config.json,
  OUT_DIR/onnx/model_quantized.onnx   (dtype "q8": int8 rows + per-row float scale)
  --info PATH                         (numbers for PROVENANCE.md)

Graph: last_hidden_state[b,s,:] = float(Q[input_ids[b,s]]) * scale[input_ids[b,s]] * attention_mask[b,s]
where row_i = SIF(i) * (v_i / |v_i|) with the common component removed, SIF(i) = a / (a + p(i)).
[PAD]/[UNK]/[SEP]/[MASK] rows are zero; [CLS] is a tiny constant (avoids a 0/0 after pooling when a
sentence has no known word); mean pooling + L2 normalise then gives the SIF sentence vector.
"""
import argparse
import collections
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def load_vec(path, limit):
    words, vecs = [], []
    with open(path, encoding="utf-8") as f:
        n, d = map(int, f.readline().split())
        for line in f:
            parts = line.rstrip().split(" ")
            w = parts[0]
            if w == "</s>" or w in SPECIALS or w.startswith("##") or len(w) > 100:
                continue
            words.append(w)
            vecs.append(np.asarray(parts[1:], dtype=np.float32))
            if len(words) >= limit:
                break
    return words, np.stack(vecs), d


def count_words(corpus):
    c = collections.Counter()
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            c.update(line.split())
    return c


def sentence_matrix(lines, index, rows):
    out = np.zeros((len(lines), rows.shape[1]), dtype=np.float64)
    for k, l in enumerate(lines):
        ids = [index[w] for w in l.split() if w in index]
        if ids:
            out[k] = rows[ids].sum(0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vec")
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=50000)
    ap.add_argument("--sif-a", type=float, default=1e-3)
    ap.add_argument("--pc-sample", type=int, default=20000)
    ap.add_argument("--info", default="build-info.json")
    args = ap.parse_args()

    words, vecs, dim = load_vec(args.vec, args.vocab)
    counts = count_words(args.corpus)
    total = sum(counts.values())
    p = np.array([counts.get(w, 1) / total for w in words], dtype=np.float64)
    sif = args.sif_a / (args.sif_a + p)
    unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-8)
    rows = unit.astype(np.float64) * sif[:, None]

    # Common-component removal (SIF): first singular vector of sentence vectors over a
    # deterministic sample of corpus lines (every k-th line), folded into the word rows.
    index = {w: i for i, w in enumerate(words)}
    with open(args.corpus, encoding="utf-8") as f:
        all_lines = f.readlines()
    step = max(1, len(all_lines) // args.pc_sample)
    sample = all_lines[::step][: args.pc_sample]
    S = sentence_matrix(sample, index, rows)
    S /= np.maximum(np.linalg.norm(S, axis=1, keepdims=True), 1e-12)
    _, _, vt = np.linalg.svd(S, full_matrices=False)
    u = vt[0]
    if u.sum() < 0:  # sign convention, for determinism
        u = -u
    rows = rows - np.outer(rows @ u, u)

    # Full table with specials first.
    V = len(SPECIALS) + len(words)
    table = np.zeros((V, dim), dtype=np.float64)
    table[len(SPECIALS):] = rows
    table[SPECIALS.index("[CLS]"), 0] = 1e-6

    # int8 per-row symmetric quantisation.
    amax = np.abs(table).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 0.0).astype(np.float32)
    q = np.where(amax[:, None] > 0, np.round(table / np.where(amax > 0, amax, 1.0)[:, None] * 127.0), 0)
    q = np.clip(q, -127, 127).astype(np.int8)
    deq = q.astype(np.float32) * scale[:, None]
    cos = (deq * table).sum(1) / np.maximum(np.linalg.norm(deq, axis=1) * np.linalg.norm(table, axis=1), 1e-30)
    quant_cos_min = float(cos[len(SPECIALS):].min())

    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)

    # ---- ONNX graph (opset 13) ----
    nodes = [
        helper.make_node("Gather", ["embeddings_q", "input_ids"], ["emb_q"], axis=0, name="gather_rows"),
        helper.make_node("Gather", ["embeddings_scale", "input_ids"], ["emb_scale"], axis=0, name="gather_scale"),
        helper.make_node("Cast", ["emb_q"], ["emb_f"], to=TensorProto.FLOAT, name="dequant_cast"),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT, name="mask_cast"),
        helper.make_node("Mul", ["emb_scale", "mask_f"], ["tok_w"], name="token_weight"),
        helper.make_node("Unsqueeze", ["tok_w", "axis_last"], ["tok_w3"], name="unsqueeze"),
        helper.make_node("Mul", ["emb_f", "tok_w3"], ["last_hidden_state"], name="apply_weight"),
    ]
    inits = [
        numpy_helper.from_array(q, "embeddings_q"),
        numpy_helper.from_array(scale, "embeddings_scale"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last"),
    ]
    graph = helper.make_graph(
        nodes,
        "lastcall_mini_embed",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", dim])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="lastcall-mini-embed-build",
        producer_version="1.0.0",
    )
    model.ir_version = 7
    onnx.checker.check_model(model)
    with open(os.path.join(args.out, "onnx", "model_quantized.onnx"), "wb") as f:
        f.write(model.SerializeToString())

    # ---- tokenizer ----
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in words:
        vocab[w] = len(vocab)
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, t in enumerate(SPECIALS)
    ]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    tok_cfg = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": 8192,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "unk_token": "[UNK]", "mask_token": "[MASK]",
        "clean_up_tokenization_spaces": True,
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
        f.write("\n")
    config = {
        "model_type": "bert",
        "architectures": ["BertModel"],
        "hidden_size": dim,
        "vocab_size": V,
        "num_hidden_layers": 0,
        "num_attention_heads": 1,
        "intermediate_size": dim,
        "max_position_embeddings": 8192,
        "type_vocab_size": 1,
        "pad_token_id": 0,
        "transformers.js_config": {"dtype": "q8"},
        "lastcall": {
            "kind": "SIF-weighted fastText skipgram bag-of-words; use pooling=mean, normalize=true",
            "sif_a": args.sif_a,
        },
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    info = {"vocab_words": len(words), "vocab_size": V, "dims": dim, "sif_a": args.sif_a,
            "corpus_tokens": total, "pc_sample_lines": len(sample),
            "quant_row_cos_min": quant_cos_min}
    with open(args.info, "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
