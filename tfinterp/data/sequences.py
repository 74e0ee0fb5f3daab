"""One-hot biological sequences: alphabets, encoding and decoding, FASTA and table readers.

The encoding of DeepBind (Alipanahi et al. 2015) and the Deep Motif Dashboard (Lanchantin et
al. 2016): a sequence of length L over an alphabet of A letters becomes an (L, A) float32
matrix with one 1 per row. Two alphabets are built in:

- ``dna``: ``ACGT``; the wildcard ``N`` encodes as the uniform row (0.25 each).
- ``protein``: the 20 amino acids ``ACDEFGHIKLMNPQRSTVWY``; the wildcard ``X`` encodes as the
  uniform row (0.05 each).

Letters are read case-insensitively (soft-masked FASTA). Padding rows are all zero, so they are
told apart from the wildcard. A string of distinct letters (e.g. ``"ACGU"``) is accepted as a
custom alphabet without wildcard.

Readers: `read_fasta` (``>name [label=K]`` headers), `read_table` (two columns
``sequence,label``, TSV or CSV, header optional; with a header the columns named
``sequence``/``seq`` and ``label``/``bound``/``class``/``y`` are taken, as in DeepBind's
ENCODE files), and `read_sequences` (either, sniffed from the content) returning a
`SequenceData`. Every bad input is a `UserError` that names the record and the letter.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

ALPHABETS = {"dna": "ACGT", "protein": "ACDEFGHIKLMNPQRSTVWY"}
WILDCARDS = {"dna": "N", "protein": "X"}
PAD_MODES = ("right", "left", "center")
_LABEL_IN_HEADER = re.compile(r"(?:^|[\s|;])label=(\S+)")


def alphabet_letters(alphabet: str) -> str:
    """The letters of `alphabet`: ``"dna"`` -> ``"ACGT"``, ``"protein"`` -> the 20 amino acids, or a custom string."""
    return _resolve(alphabet)[1]


def _resolve(alphabet):
    """(name, letters, wildcard or None) of an alphabet name or a string of distinct letters."""
    if not isinstance(alphabet, str) or not alphabet:
        raise UserError(f"alphabet must be 'dna', 'protein' or a string of letters, got {alphabet!r}")
    key = alphabet.lower()
    if key in ALPHABETS:
        return key, ALPHABETS[key], WILDCARDS[key]
    letters = alphabet.upper()
    if len(set(letters)) != len(letters) or not letters.isalpha() or len(letters) < 2:
        raise UserError(f"unknown alphabet '{alphabet}'; use 'dna', 'protein' or a string of "
                        "at least two distinct letters such as 'ACGU'")
    return letters, letters, None


def _table(alphabet):
    """A 256 x A lookup table (byte -> one-hot row) and a mask of the bytes that are valid."""
    _, letters, wild = _resolve(alphabet)
    a = len(letters)
    table = np.zeros((256, a), np.float32)
    valid = np.zeros(256, bool)
    for i, ch in enumerate(letters):
        for c in (ch.upper(), ch.lower()):
            table[ord(c), i] = 1.0
            valid[ord(c)] = True
    if wild:
        for c in (wild.upper(), wild.lower()):
            table[ord(c)] = 1.0 / a
            valid[ord(c)] = True
    return table, valid


def _describe(alphabet):
    name, letters, wild = _resolve(alphabet)
    return f"the {name} alphabet {letters}" + (f" (and {wild} for any)" if wild else "")


def _record_label(i, names):
    if names is not None and i < len(names) and names[i]:
        return f"record {i + 1} ('{names[i]}')"
    return f"record {i + 1}"


def _codes(seq, i, alphabet, valid, names):
    """The bytes of sequence `i`, checked against the alphabet."""
    if not isinstance(seq, str):
        raise UserError(f"{_record_label(i, names)} is a {type(seq).__name__}, not a string of letters")
    if len(seq) == 0:
        raise UserError(f"{_record_label(i, names)} is empty; remove it or give its letters")
    try:
        codes = np.frombuffer(seq.encode("ascii"), np.uint8)
    except UnicodeEncodeError:
        pos = next(k for k, ch in enumerate(seq) if ord(ch) > 127)
        raise UserError(f"{_record_label(i, names)}: letter '{seq[pos]}' at position {pos + 1} "
                        f"is not in {_describe(alphabet)}") from None
    bad = ~valid[codes]
    if bad.any():
        pos = int(np.argmax(bad))
        raise UserError(f"{_record_label(i, names)}: letter '{seq[pos]}' at position {pos + 1} "
                        f"is not in {_describe(alphabet)}")
    return codes


def one_hot(seqs, alphabet: str = "dna", window: int | None = None, pad: str = "right", names=None) -> np.ndarray:
    """One-hot encode sequences to float32 ``(N, length, alphabet_size)`` (Alipanahi et al. 2015).

    `seqs` is a string or a list of strings. Without `window` every sequence must have the same
    length (else a `UserError` says to give one). With `window`, each sequence is cut or padded
    (all-zero rows) to `window` positions: ``pad="right"`` keeps the start (pads or cuts at the
    end), ``"left"`` keeps the end, ``"center"`` keeps the middle. The wildcard (``N`` for
    DNA, ``X`` for protein) is the uniform row. `names` only serve error messages.
    """
    if isinstance(seqs, str):
        seqs = [seqs]
    seqs = list(seqs)
    if pad not in PAD_MODES:
        raise UserError(f"unknown pad '{pad}'; use one of {', '.join(PAD_MODES)}")
    if window is not None and (int(window) != window or window < 1):
        raise UserError(f"window must be a positive integer, got {window!r}")
    table, valid = _table(alphabet)
    if not seqs:
        raise UserError("no sequences to encode")
    codes = [_codes(s, i, alphabet, valid, names) for i, s in enumerate(seqs)]
    lengths = np.array([len(c) for c in codes])
    if window is None:
        if (lengths != lengths[0]).any():
            i = int(np.argmax(lengths != lengths[0]))
            raise UserError(f"sequences have mixed lengths ({lengths.min()} to {lengths.max()}; "
                            f"{_record_label(0, names)} has {lengths[0]}, {_record_label(i, names)} has "
                            f"{lengths[i]}); give a window (e.g. --window {lengths.max()}) to pad or cut them")
        window = int(lengths[0])
    window = int(window)
    out = np.zeros((len(codes), window, table.shape[1]), np.float32)
    for i, c in enumerate(codes):
        n = len(c)
        if n >= window:  # cut
            start = 0 if pad == "right" else n - window if pad == "left" else (n - window) // 2
            out[i] = table[c[start:start + window]]
        else:  # pad with zero rows
            offset = 0 if pad == "right" else window - n if pad == "left" else (window - n) // 2
            out[i, offset:offset + n] = table[c]
    return out


def decode(x, alphabet: str = "dna"):
    """Strings from one-hot (or any score) arrays: the argmax letter of each position.

    ``(N, L, A)`` gives a list of N strings, ``(L, A)`` one string. All-zero rows (padding)
    are dropped and uniform rows give the wildcard, so ``decode(one_hot(s)) == s`` (upper case).
    """
    _, letters, wild = _resolve(alphabet)
    x = np.asarray(x, np.float32)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != len(letters):
        raise UserError(f"decode expects (N, length, {len(letters)}) arrays for {_describe(alphabet)}, "
                        f"got shape {tuple(np.shape(x))}")
    idx = x.argmax(-1)
    top = x.max(-1)
    pad = top <= 0
    uniform = (x.max(-1) - x.min(-1) <= 1e-6) & ~pad
    chars = np.array(list(letters) + [wild or letters[0], ""], dtype=object)
    idx = np.where(uniform, len(letters), idx)
    idx = np.where(pad, len(letters) + 1, idx)
    out = ["".join(chars[row]) for row in idx]
    return out[0] if single else out


# ----------------------------------------------------------------------------------- readers

def _read_text(path) -> str:
    path = Path(path)
    if not path.exists():
        raise UserError(f"sequence file {path} not found")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a FASTA or sequence,label table file")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file (FASTA or sequence,label table)") from None


def read_fasta(path) -> list[tuple[str, str]]:
    """Records ``(name, sequence)`` of a FASTA file (plain or gzip; sequence lines joined).

    The name is the header up to its first space. A record without letters, or letters before
    the first ``>`` header, is a `UserError` naming the record.
    """
    text = _read_text(path)
    records, name, chunks = [], None, []

    def close():
        if name is not None:
            seq = "".join(chunks)
            if not seq:
                short = name.split()[0] if name.split() else name
                raise UserError(f"{path}: record {len(records) + 1} ('{short}') is empty; remove it or give its letters")
            records.append((name, seq))

    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            close()
            name, chunks = line[1:].strip(), []
            if not name:
                name = f"record{len(records) + 1}"
        else:
            if name is None:
                raise UserError(f"{path}: line {lineno} has letters before the first '>' header; "
                                "is this a FASTA file?")
            chunks.append("".join(line.split()))
    close()
    if not records:
        raise UserError(f"{path}: no FASTA records (no line starting with '>')")
    return records


def fasta_labels(headers):
    """Integer labels from ``label=K`` in every FASTA header, or None when no header has one."""
    found = [_LABEL_IN_HEADER.search(h) for h in headers]
    if not any(found):
        return None
    missing = [i for i, m in enumerate(found) if m is None]
    if missing:
        raise UserError(f"record {missing[0] + 1} ('{headers[missing[0]]}') has no label=K in its header "
                        "while others do; label every record or none")
    return [m.group(1) for m in found]


_SEQ_COLS = ("sequence", "seq", "sequences")
_LABEL_COLS = ("label", "bound", "class", "y", "target")


def read_table(path) -> tuple[list[str], list[str], list[str]]:
    """(names, sequences, labels as strings) from a two-column ``sequence,label`` TSV/CSV.

    The delimiter is a tab if the first line has one, else a comma. A first row whose label is
    not a number is a header; with a header, wider tables (DeepBind's ENCODE files: ``FoldID
    EventID seq Bound``) are read from the columns named ``sequence``/``seq`` and
    ``label``/``bound``/``class``/``y``. Names are ``row<k>`` (k the 1-based data row).
    """
    text = _read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise UserError(f"{path}: the table is empty; give one 'sequence,label' row per sequence")
    delim = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
    rows = [[c.strip() for c in r] for r in rows]
    seq_col, label_col, start = 0, 1, 0
    first = rows[0]
    header = [c.lower() for c in first]
    if any(c in _SEQ_COLS for c in header) or (len(first) >= 2 and not _is_number(first[-1])
                                                  and any(c in _LABEL_COLS for c in header)):
        start = 1
        seq_col = next((header.index(c) for c in _SEQ_COLS if c in header), 0)
        label_col = next((header.index(c) for c in _LABEL_COLS if c in header), None)
        if label_col is None:
            if len(first) != 2:
                raise UserError(f"{path}: header {first} has no label column; name it 'label'")
            label_col = 1 - seq_col
    elif len(first) != 2:
        raise UserError(f"{path}: line 1 has {len(first)} columns; a table needs two, 'sequence' and "
                        "'label' (or a header naming them)")
    elif not _is_number(first[1]) and first[1].lower() in _LABEL_COLS:
        start = 1
    width = max(seq_col, label_col) + 1
    names, seqs, labels = [], [], []
    for k, r in enumerate(rows[start:], 1):
        if len(r) < width:
            raise UserError(f"{path}: data row {k} has {len(r)} column(s), needs {width} (sequence and label)")
        if not r[seq_col]:
            raise UserError(f"{path}: data row {k} has an empty sequence; remove it or give its letters")
        if not r[label_col]:
            raise UserError(f"{path}: data row {k} has no label")
        names.append(f"row{k}")
        seqs.append(r[seq_col])
        labels.append(r[label_col])
    if not seqs:
        raise UserError(f"{path}: the table has a header but no rows")
    return names, seqs, labels


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def labels_to_ints(labels, where="labels"):
    """(int64 labels, class names or None): integers stay, other strings map to sorted class indices."""
    try:
        vals = [float(v) for v in labels]
        if all(v == int(v) and v >= 0 for v in vals):
            return np.array([int(v) for v in vals], np.int64), None
        raise UserError(f"{where}: labels must be non-negative integers or class names, got "
                        f"{next(v for v in labels if float(v) != int(float(v)) or float(v) < 0)!r}")
    except ValueError:
        names = sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[v] for v in labels], np.int64), names


@dataclass
class SequenceData:
    """One-hot sequences with their labels and names.

    ``x`` float32 (N, length, alphabet_size); ``y`` int64 (N,) or None; ``names`` N strings;
    ``alphabet`` the alphabet name (``"dna"``, ``"protein"`` or the custom letters);
    ``length`` the window; ``class_names`` when the labels were strings; ``motifs`` for
    planted data (per sequence, a list of ``(name, start, end)``, end exclusive).
    """

    x: np.ndarray
    y: np.ndarray | None
    names: list
    alphabet: str
    length: int
    class_names: list | None = None
    motifs: list | None = None
    meta: dict = field(default_factory=dict)

    @property
    def letters(self) -> str:
        return alphabet_letters(self.alphabet)

    @property
    def num_classes(self) -> int | None:
        if self.class_names:
            return len(self.class_names)
        return None if self.y is None else int(self.y.max()) + 1

    def __len__(self):
        return len(self.x)

    def sequences(self) -> list[str]:
        """The sequences as strings (decoded from ``x``)."""
        return decode(self.x, self.alphabet)

    def subset(self, index) -> "SequenceData":
        """The examples at `index` (an index array or slice), motifs kept."""
        index = np.arange(len(self))[index]
        return SequenceData(self.x[index], None if self.y is None else self.y[index],
                            [self.names[i] for i in index], self.alphabet, self.length,
                            self.class_names, None if self.motifs is None else [self.motifs[i] for i in index],
                            dict(self.meta))


def _is_fasta(text):
    for line in text.splitlines():
        if line.strip() and not line.startswith(";"):
            return line.lstrip().startswith(">")
    return False


def read_sequences(path, alphabet: str = "dna", window: int | None = None, pad: str = "right") -> SequenceData:
    """A `SequenceData` from a FASTA file or a ``sequence,label`` table (sniffed from the content).

    The loader path for real TF-binding data (DeepBind / ENCODE style files, Alipanahi et al.
    2015). FASTA labels come from ``label=K`` in the headers (none: ``y`` is None).
    """
    text = _read_text(path)
    if _is_fasta(text):
        records = read_fasta(path)
        names = [n.split()[0] if n.split() else n for n in (r[0] for r in records)]
        seqs = [r[1] for r in records]
        raw = fasta_labels([r[0] for r in records])
    else:
        names, seqs, raw = read_table(path)
    try:
        x = one_hot(seqs, alphabet, window=window, pad=pad, names=names)
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    y, class_names = (None, None) if raw is None else labels_to_ints(raw, str(path))
    return SequenceData(x=x, y=y, names=names, alphabet=_resolve(alphabet)[0], length=x.shape[1],
                        class_names=class_names, meta={"source": str(path)})
