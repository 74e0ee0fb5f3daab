"""One-hot sequences: encode/decode round trips, padding, readers and their errors."""

import gzip

import numpy as np
import pytest

from tfinterp.data import sequences as S
from tfinterp.data.seqsets import load_sequences, split_sequences
from tfinterp.errors import UserError


def test_dna_one_hot_by_hand_and_round_trip():
    x = S.one_hot(["ACGT", "TTGA"])
    assert x.shape == (2, 4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.eye(4))
    np.testing.assert_array_equal(x[1].argmax(1), [3, 3, 2, 0])
    assert S.decode(x) == ["ACGT", "TTGA"]
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), 37)) for _ in range(20)]
    assert S.decode(S.one_hot(seqs)) == seqs
    assert S.decode(S.one_hot("acgtn")[0]) == "ACGTN"  # lower case (soft-masked) reads as upper


def test_n_is_uniform_and_padding_is_zero():
    x = S.one_hot(["ANA"], window=5, pad="right")
    np.testing.assert_allclose(x[0, 1], [0.25] * 4)
    np.testing.assert_array_equal(x[0, 3:], 0)
    assert x.sum() == pytest.approx(3.0)
    assert S.decode(x) == ["ANA"]


def test_protein_round_trip_and_x_uniform():
    letters = "ACDEFGHIKLMNPQRSTVWY"
    assert S.alphabet_letters("protein") == letters
    x = S.one_hot([letters, letters[::-1]], alphabet="protein")
    assert x.shape == (2, 20, 20)
    np.testing.assert_array_equal(x[0], np.eye(20))
    assert S.decode(x, "protein") == [letters, letters[::-1]]
    xx = S.one_hot("MKX", alphabet="protein")
    np.testing.assert_allclose(xx[0, 2], np.full(20, 0.05))
    assert S.decode(xx, "protein") == ["MKX"]


def test_window_pad_and_cut_modes():
    assert S.decode(S.one_hot(["ACGTAC"], window=4, pad="right")) == ["ACGT"]
    assert S.decode(S.one_hot(["ACGTAC"], window=4, pad="left")) == ["GTAC"]
    assert S.decode(S.one_hot(["ACGTAC"], window=4, pad="center")) == ["CGTA"]
    left = S.one_hot(["AC"], window=4, pad="left")
    np.testing.assert_array_equal(left[0, :2], 0)
    assert S.decode(left) == ["AC"]
    center = S.one_hot(["AC"], window=4, pad="center")
    np.testing.assert_array_equal(center[0, [0, 3]], 0)
    assert S.one_hot(["A", "ACGTACGT"], window=6).shape == (2, 6, 4)


def test_custom_alphabet():
    x = S.one_hot("ACGU", alphabet="ACGU")
    np.testing.assert_array_equal(x[0], np.eye(4))
    assert S.decode(x, "ACGU") == ["ACGU"]


@pytest.mark.parametrize("seqs, kwargs, match", [
    (["ACGZ"], {"names": ["chr1"]}, r"record 1 \('chr1'\): letter 'Z' at position 4 is not in the dna alphabet"),
    (["ACGT", "AC-T"], {}, r"record 2: letter '-' at position 3"),
    (["MKB"], {"alphabet": "protein"}, r"letter 'B' at position 3 is not in the protein alphabet"),
    (["ACGé"], {}, r"letter 'é' at position 4"),
    (["ACGT", ""], {}, r"record 2 is empty"),
    (["ACGT", "ACG"], {}, r"mixed lengths \(3 to 4.*give a window"),
    (["ACGT"], {"alphabet": "rna?"}, r"unknown alphabet"),
    (["ACGT"], {"pad": "both"}, r"unknown pad 'both'"),
    (["ACGT"], {"window": 0}, r"window must be a positive integer"),
])
def test_bad_sequences(seqs, kwargs, match):
    with pytest.raises(UserError, match=match):
        S.one_hot(seqs, **kwargs)


def test_read_fasta_multiline_gzip_and_labels(tmp_path):
    text = ">s1 label=1\nACGT\nAC\n\n>s2 some text label=0\nggtt\nAA\n"
    p = tmp_path / "a.fa"
    p.write_text(text)
    assert S.read_fasta(p) == [("s1 label=1", "ACGTAC"), ("s2 some text label=0", "ggttAA")]
    pz = tmp_path / "a.fa.gz"
    pz.write_bytes(gzip.compress(text.encode()))
    d = S.read_sequences(pz)
    assert d.names == ["s1", "s2"] and d.y.tolist() == [1, 0] and d.length == 6
    assert d.sequences() == ["ACGTAC", "GGTTAA"] and d.alphabet == "dna" and d.letters == "ACGT"


def test_read_fasta_without_labels_and_window(tmp_path):
    p = tmp_path / "b.fasta"
    p.write_text(">a\nACGTACGT\n>b\nACG\n")
    d = S.read_sequences(p, window=5)
    assert d.y is None and d.x.shape == (2, 5, 4) and d.sequences() == ["ACGTA", "ACG"]
    with pytest.raises(UserError, match=r"b.fasta: sequences have mixed lengths.*record 2 \('b'\) has 3"):
        S.read_sequences(p)


@pytest.mark.parametrize("name, content", [
    ("t.tsv", "ACGT\t1\nTTTT\t0\n"),
    ("t.csv", "sequence,label\nACGT,1\nTTTT,0\n"),
    ("t.txt", "label,sequence\n1,ACGT\n0,TTTT\n"),
    ("encode.seq", "FoldID\tEventID\tseq\tBound\nA\tx1\tACGT\t1\nA\tx2\tTTTT\t0\n"),  # DeepBind's layout
])
def test_read_table_formats(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content)
    d = S.read_sequences(p)
    assert d.sequences() == ["ACGT", "TTTT"] and d.y.tolist() == [1, 0] and d.names == ["row1", "row2"]


def test_read_table_string_labels(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("MKV,kinase\nMKA,other\nMKK,kinase\n")
    d = S.read_sequences(p, alphabet="protein")
    assert d.class_names == ["kinase", "other"] and d.y.tolist() == [0, 1, 0] and d.num_classes == 2


@pytest.mark.parametrize("name, content, match", [
    ("e.fa", ">a\nACGT\n>b\n>c\nAC\n", r"record 2 \('b'\) is empty"),
    ("e2.fa", ">a\nACXT\n", r"e2.fa: record 1 \('a'\): letter 'X' at position 3"),
    ("e3.fa", ">a label=1\nACGT\n>b\nACGT\n", r"record 2 \('b'\) has no label=K"),
    ("e.tsv", "ACGT\t1\nAC\n", r"data row 2 has 1 column"),
    ("e2.tsv", "ACGT\t1\n\t0\n", r"data row 2 has an empty sequence"),
    ("e3.tsv", "ACGT\t1\nACGT\t-1\n", r"non-negative integers"),
    ("e4.tsv", "", r"the table is empty"),
    ("e5.tsv", "a\tb\tc\n", r"line 1 has 3 columns"),
])
def test_bad_files(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(UserError, match=match):
        S.read_sequences(p)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        S.read_sequences(tmp_path / "nope.fa")
    with pytest.raises(UserError, match="is a folder"):
        S.read_sequences(tmp_path)
    p = tmp_path / "bin.fa"
    p.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(UserError, match="not a text file"):
        S.read_sequences(p)


def test_load_and_split(tmp_path):
    d = load_sequences("planted:n=40,length=30,seed=3")
    assert d.x.shape == (40, 30, 4) and d.meta["seed"] == 3
    train, val, test = split_sequences(d, 0.1, 0.25, seed=0)
    assert (len(train), len(val), len(test)) == (26, 4, 10)
    got = sorted(train.names + val.names + test.names)
    assert got == sorted(d.names)  # a partition
    i = d.names.index(test.names[0])
    assert test.motifs[0] == d.motifs[i] and test.y[0] == d.y[i]
    with pytest.raises(UserError, match="bad planted option"):
        load_sequences("planted:size=3")
    with pytest.raises(UserError, match="not found"):
        load_sequences(str(tmp_path / "x.fa"))
