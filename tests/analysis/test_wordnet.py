"""WordNet through nltk (Dong et al. 2017 sec. 2.2.1): offline preparation from Debian's files,
shipped class mappings, distances for known pairs, and the clear error when WordNet is missing."""

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tfinterp.analysis import wordnet as W
from tfinterp.errors import UserError

HAVE_WORDNET = Path(W.DEBIAN_SOURCE, "data.noun").is_file()
needs_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="WordNet 3.0 not installed "
                                   "(apt-get install wordnet-base wordnet-sense-index)")
MAN = Path("/usr/share/man/man5/lexnames.5WN.gz")


@pytest.fixture(scope="module")
def wn(tmp_path_factory):
    """Prepared from Debian's files into the session's cache folder (the one conftest points
    TFINTERP_CACHE_DIR at, so the CLI tests reuse the loaded reader)."""
    if not HAVE_WORDNET:
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")
    return W.load_wordnet(root=tmp_path_factory.getbasetemp() / "cache" / "nltk_data", download=False)


@pytest.mark.skipif(not MAN.is_file(), reason="lexnames(5WN) man page not installed (wordnet-base)")
def test_lexnames_table_matches_the_man_page():
    text = gzip.open(MAN, "rt").read()
    rows = re.findall(r"^(\d\d)\t(\S+)\s*\t", text, flags=re.M)
    assert [(int(a), b) for a, b in rows] == list(enumerate(W.LEXNAMES))
    lines = W.lexnames_text().splitlines()
    assert len(lines) == 45 and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"


def test_missing_wordnet_is_one_clear_error(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError) as e:
        W.load_wordnet(source=empty, root=tmp_path / "root", download=False)
    msg = str(e.value)
    assert "apt-get install wordnet-base" in msg and "setup-wordnet" in msg and "nltk.download" in msg
    assert "\n" not in msg


@needs_wordnet
def test_fashion_distances_known_pairs(wn):
    m = W.class_distances("fashion_mnist", 10, wn=wn)
    d = m["distances"]
    names = m["classes"]
    tshirt, coat, sandal, shirt, sneaker = (names.index(n) for n in ("T-shirt/top", "Coat", "Sandal", "Shirt",
                                                                     "Sneaker"))
    assert d[sandal, sneaker] < d[sandal, coat]
    off = d[tshirt].copy()
    off[tshirt] = np.inf
    assert off.argmin() == shirt and d[tshirt, shirt] == 1  # jersey (T-shirt) is a kind of shirt
    # the fast ancestor computation equals nltk's own shortest_path_distance
    ss = [W.resolve_synset(wn, s) for s in W.read_mapping("fashion_mnist")["synsets"]]
    np.testing.assert_array_equal(d, [[a.shortest_path_distance(b) for b in ss] for a in ss])
    assert m["synsets"][5] == "sandal.n.01" and m["synsets"][7] == "gym_shoe.n.01"


@needs_wordnet
def test_every_shipped_mapping_resolves(wn):
    assert W.shipped_mappings() == ["cifar10", "fashion_mnist", "imagenet", "mnist"]
    for name in W.shipped_mappings():
        m = W.read_mapping(name)
        for spec, entry in zip(m["synsets"], json.loads((W.MAPPINGS_DIR / f"{name}.json").read_text())["classes"]):
            assert W.resolve_synset(wn, spec).name() == entry["name"]
    im = W.read_mapping("imagenet", 1000)
    assert im["synsets"][0] == "n01440764" and W.resolve_synset(wn, "n01440764").name() == "tench.n.01"
    digits = W.class_distances("mnist", 10, wn=wn)["distances"]
    assert np.all(digits[~np.eye(10, dtype=bool)] == 2)  # siblings under digit.n.01


@needs_wordnet
def test_bad_mappings(wn, tmp_path):
    with pytest.raises(UserError, match="unknown class mapping"):
        W.read_mapping("no_such_mapping")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(["n04133789", "n99999999"]))
    with pytest.raises(UserError, match="no synset 'n99999999'"):
        W.class_distances(str(bad), 2, wn=wn)
    with pytest.raises(UserError, match="has 2 classes but the model has 10"):
        W.read_mapping(str(bad), 10)
    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"classes": ["sandal", "sneaker", "coat"], "synsets": ["sandal.n.01", "03472535-n",
                                                                                        "n03057021"]}))
    d = W.class_distances(str(good), 3, wn=wn)["distances"]
    assert d[0, 1] == 2 and d[0, 2] == 7
    mat = tmp_path / "d.npy"
    np.save(mat, np.array([[0, 1], [1, 0]], float))
    assert W.read_mapping(str(mat), 2)["distances"][0, 1] == 1
    np.save(mat, np.array([[0, 1], [2, 0]], float))
    with pytest.raises(UserError, match="symmetric"):
        W.read_mapping(str(mat), 2)
