"""WordNet for the LC metric (Dong, Su, Zhu, Bao 2017, sec. 2.2.1, Eq. 2): class-to-synset
mappings and the class distance matrix d_ij (WordNet shortest-path distance, Miller 1990)
through nltk.

Offline preparation: Debian's ``wordnet-base`` / ``wordnet-sense-index`` put the WordNet 3.0
database under /usr/share/wordnet but not the ``lexnames`` table nltk's reader opens, and
nltk 3.10 only opens corpus files under its ``nltk.data.path`` roots. `setup_wordnet` copies
the files into ``<tfinterp cache>/nltk_data/corpora/wordnet/`` and writes ``lexnames`` (the
fixed table of the 45 lexicographer files, lexnames(5WN)); online it falls back to
``nltk.download('wordnet')``. `load_wordnet` does this lazily on first use.

Class mappings: shipped ones (`MAPPINGS`: fashion_mnist, mnist, cifar10, imagenet) live in
``tfinterp/analysis/mappings/*.json``; a user file is a JSON list of synsets (or
``{"classes": [{"synset": ...}, ...]}`` / ``{"synsets": [...]}``), a synset being a wnid
``n03595614``, ``03595614-n`` or an nltk name ``jersey.n.03``. A ready matrix is a ``.npy``
of class distances, or a JSON ``{"distances": [[...]]}`` or ``{"correlation": [[...]]}``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

DEBIAN_SOURCE = "/usr/share/wordnet"
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
# the files nltk's WordNetCorpusReader opens (plus index.sense for sense keys)
WORDNET_FILES = ("data.adj", "data.adv", "data.noun", "data.verb", "index.adj", "index.adv", "index.noun",
                 "index.verb", "index.sense", "adj.exc", "adv.exc", "noun.exc", "verb.exc")

# lexnames(5WN): the 45 lexicographer files of WordNet 3.0 (number, name, syntactic category:
# 1 noun, 2 verb, 3 adjective, 4 adverb), the table Debian's package leaves out.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_text() -> str:
    """The ``lexnames`` file: "NN<TAB>name<TAB>category" per lexicographer file."""
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def nltk_data_root() -> Path:
    """The nltk_data root tfinterp prepares WordNet in: ``$TFINTERP_NLTK_DATA`` or
    ``<tfinterp cache dir>/nltk_data``."""
    from tfinterp.utils import cache_dir

    env = os.environ.get("TFINTERP_NLTK_DATA")
    return Path(env) if env else cache_dir() / "nltk_data"


def wordnet_source() -> Path:
    """Where the Debian WordNet database is looked for: ``$TFINTERP_WORDNET_SOURCE`` or /usr/share/wordnet."""
    return Path(os.environ.get("TFINTERP_WORDNET_SOURCE") or DEBIAN_SOURCE)


def _missing_message(source: Path, root: Path, why: str = "") -> str:
    return (f"WordNet is not available{f' ({why})' if why else ''}: either install Debian's copy "
            f"(apt-get install wordnet-base wordnet-sense-index, files in {source}) and run "
            f"`tfinterp setup-wordnet`, or, online, run `tfinterp setup-wordnet --download` "
            f"(nltk.download('wordnet') into {root})")


def _complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in ("lexnames", "data.noun", "index.noun"))


def setup_wordnet(source=None, root=None, download: bool = True, force: bool = False) -> dict:
    """Prepare nltk's WordNet under `root` (default `nltk_data_root`): copy Debian's files from
    `source` (default `wordnet_source`) and write ``lexnames``; if they are absent and
    `download`, ``nltk.download('wordnet')``. Returns {"route", "path"}; a `UserError`
    naming both routes when neither works."""
    source = Path(source) if source is not None else wordnet_source()
    root = Path(root) if root is not None else nltk_data_root()
    target = root / "corpora" / "wordnet"
    if _complete(target) and not force:
        return {"route": "prepared", "path": str(target)}
    if (source / "data.noun").is_file() and (source / "index.noun").is_file():
        from tfinterp.utils import atomic_path

        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, suffix="") as tmp:
            tmp.mkdir()
            for name in WORDNET_FILES:
                if (source / name).is_file():
                    shutil.copyfile(source / name, tmp / name)  # a copy: nltk refuses symlinks leaving the root
            if (source / "lexnames").is_file():
                shutil.copyfile(source / "lexnames", tmp / "lexnames")
            else:
                (tmp / "lexnames").write_text(lexnames_text())
        return {"route": f"copied from {source}", "path": str(target)}
    if download:
        import socket

        import nltk

        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(15)
        try:
            ok = nltk.download("wordnet", download_dir=str(root), quiet=True, raise_on_error=False)
        except Exception:  # no network: the downloader raises URLError / socket errors
            ok = False
        finally:
            socket.setdefaulttimeout(old)
        if ok and ((root / "corpora" / "wordnet.zip").is_file() or _complete(target)):
            return {"route": "nltk.download", "path": str(root / "corpora" / "wordnet")}
        raise UserError(_missing_message(source, root, f"no WordNet files in {source}, and nltk.download failed"))
    raise UserError(_missing_message(source, root, f"no WordNet files in {source}"))


_READERS: dict = {}


def load_wordnet(source=None, root=None, download: bool = True):
    """nltk's WordNet corpus reader, preparing it on first use (`setup_wordnet`).

    Looks in `root` (tfinterp's nltk_data), then in nltk's own ``nltk.data.path`` roots, then
    prepares `root` from `source` (Debian) or by download.
    """
    import nltk

    root = Path(root) if root is not None else nltk_data_root()
    candidates = [root] + [Path(p) for p in nltk.data.path if Path(p) != root]
    found = None
    for base in candidates:
        d = base / "corpora" / "wordnet"
        if _complete(d) or (base / "corpora" / "wordnet.zip").is_file():
            found = base
            break
    if found is None:
        setup_wordnet(source, root, download=download)
        found = root
    key = str(found)
    if key not in _READERS:
        if str(found) not in nltk.data.path:
            nltk.data.path.insert(0, str(found))
        try:
            pointer = nltk.data.find("corpora/wordnet", paths=[str(found)])
        except LookupError:
            raise UserError(_missing_message(Path(source or wordnet_source()), root, f"nothing usable in {found}"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "multilingual functions are not available": not used
            try:
                _READERS[key] = _reader_class()(pointer, None)
            except (OSError, ValueError, AssertionError) as e:
                raise UserError(_missing_message(Path(source or wordnet_source()), root,
                                                 f"{found} holds a broken copy ({e}); rerun with --force"))
    return _READERS[key]


def _reader_class():
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class Reader(WordNetCorpusReader):
        """nltk's reader without the start-up map to "the" nltk WordNet (only the multilingual
        functions use it; building it re-reads index.sense twice, 15 s of a 20 s load)."""

        def map_wn(self, version="wordnet"):
            return None

    return Reader


# ---- synsets and mappings ---------------------------------------------------------------

_WNID = re.compile(r"^([nvasr])(\d{8})$")
_OFFSET_POS = re.compile(r"^(\d{1,8})-([nvasr])$")


def resolve_synset(wn, spec: str):
    """The synset named by a wnid (``n03595614``), ``03595614-n`` or an nltk name
    (``jersey.n.03``); a `UserError` when WordNet has no such synset."""
    s = str(spec).strip()
    found = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nltk warns and returns None for an unknown offset
            m, m2 = _WNID.match(s), _OFFSET_POS.match(s)
            if m:
                found = wn.synset_from_pos_and_offset(m.group(1), int(m.group(2)))
            elif m2:
                found = wn.synset_from_pos_and_offset(m2.group(2), int(m2.group(1)))
            elif re.match(r"^.+\.[nvasr]\.\d+$", s):
                found = wn.synset(s)
            else:
                found = False
    except Exception:  # nltk raises WordNetError / ValueError for an unknown name
        found = None
    if found is not None and found is not False:
        return found
    if found is False:
        raise UserError(f"'{spec}' is not a synset: give a wnid (n03595614), an offset-pos (03595614-n) "
                        "or an nltk name (jersey.n.03)")
    raise UserError(f"WordNet 3.0 has no synset '{spec}'; check the mapping (wnid n03595614, "
                    "03595614-n or jersey.n.03)")


def shipped_mappings() -> list[str]:
    """The names of the shipped class mappings."""
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.json"))


def read_mapping(name_or_file, num_classes: int | None = None) -> dict:
    """A class mapping as {"name", "classes": [names], "synsets": [specs]} or, for a ready
    matrix, {"name", "distances" | "correlation": [K, K] array}. `name_or_file` is a shipped
    mapping's name or a path (.json / .npy). `num_classes` is checked when given."""
    spec = str(name_or_file)
    path = Path(spec)
    if spec in shipped_mappings():
        path = MAPPINGS_DIR / f"{spec}.json"
    elif not path.is_file():
        raise UserError(f"unknown class mapping '{spec}': give a shipped one ({', '.join(shipped_mappings())}), "
                        "a JSON file of synsets, or a .npy / JSON distance matrix")
    if path.suffix == ".npy":
        try:
            mat = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise UserError(f"cannot read the distance matrix {path}: {e}")
        out = {"name": path.stem, "distances": _matrix(mat, path, num_classes, "distances")}
        return out
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise UserError(f"class mapping {path} is not valid JSON: {e}")
    name = obj.get("name", path.stem) if isinstance(obj, dict) else path.stem
    if isinstance(obj, dict) and ("distances" in obj or "correlation" in obj):
        key = "distances" if "distances" in obj else "correlation"
        out = {"name": name, key: _matrix(np.asarray(obj[key], dtype=np.float64), path, num_classes, key)}
        if "classes" in obj and all(isinstance(c, str) for c in obj["classes"]):
            out["classes"] = list(obj["classes"])
        return out
    if isinstance(obj, list):
        entries = obj
    elif isinstance(obj, dict) and isinstance(obj.get("classes"), list) and obj["classes"] and \
            isinstance(obj["classes"][0], dict):
        entries = obj["classes"]
    elif isinstance(obj, dict) and isinstance(obj.get("synsets"), list):
        names = obj.get("classes") or [str(i) for i in range(len(obj["synsets"]))]
        entries = [{"class": n, "synset": s} for n, s in zip(names, obj["synsets"])]
    else:
        raise UserError(f"class mapping {path}: expected a list of synsets, {{'classes': [{{'synset': ...}}]}}, "
                        "{'synsets': [...]} or {'distances': [[...]]}")
    synsets, classes = [], []
    for i, e in enumerate(entries):
        if isinstance(e, str):
            synsets.append(e)
            classes.append(str(i))
        elif isinstance(e, dict) and "synset" in e:
            synsets.append(str(e["synset"]))
            classes.append(str(e.get("class", i)))
        else:
            raise UserError(f"class mapping {path}: entry {i} has no synset")
    if num_classes is not None and len(synsets) != num_classes:
        raise UserError(f"class mapping '{name}' has {len(synsets)} classes but the model has {num_classes}")
    return {"name": name, "classes": classes, "synsets": synsets, "doc": obj.get("doc") if isinstance(obj, dict) else None}


def _matrix(mat, path, num_classes, what):
    mat = np.asarray(mat, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
        raise UserError(f"{path}: the {what} matrix must be square [K, K], got shape {mat.shape}")
    if num_classes is not None and mat.shape[0] != num_classes:
        raise UserError(f"{path}: the {what} matrix is {mat.shape[0]}x{mat.shape[0]} but the model has "
                        f"{num_classes} classes")
    if not np.all(np.isfinite(mat)) or np.any(mat < 0) or not np.allclose(mat, mat.T):
        raise UserError(f"{path}: the {what} matrix must be finite, non-negative and symmetric")
    return mat


def _hypernym_depths(s) -> dict:
    """{ancestor: fewest hypernym (or instance-hypernym) links from s}, s itself at 0."""
    depths, frontier, d = {s: 0}, [s], 0
    while frontier:
        d += 1
        nxt = []
        for node in frontier:
            for h in node.hypernyms() + node.instance_hypernyms():
                if h not in depths:
                    depths[h] = d
                    nxt.append(h)
        frontier = nxt
    return depths


def synset_distances(synsets) -> np.ndarray:
    """[K, K] shortest-path distances through the hypernym tree between `synsets` (the
    number of is-a links via the closest common ancestor: nltk's ``shortest_path_distance``
    without a simulated root); computed from each synset's ancestor depths once, so 1000
    ImageNet classes take a few seconds. Pairs with no common ancestor get `inf`."""
    anc = [_hypernym_depths(s) for s in synsets]
    nodes = {}
    for a in anc:
        for node in a:
            nodes.setdefault(node, len(nodes))
    depth = np.full((len(nodes), len(synsets)), np.inf)
    for j, a in enumerate(anc):
        for node, d in a.items():
            depth[nodes[node], j] = d
    out = np.empty((len(synsets), len(synsets)))
    for i, a in enumerate(anc):
        rows = depth[[nodes[node] for node in a]]  # [A_i, K]: this synset's ancestors only
        mine = np.array(list(a.values()), dtype=np.float64)[:, None]
        out[i] = (rows + mine).min(axis=0)
    return np.minimum(out, out.T)


def class_distances(mapping, num_classes: int | None = None, wn=None) -> dict:
    """{"name", "classes", "distances" [K, K] or "correlation", "synsets" (resolved names)} for
    a mapping (a name, a path, or a dict from `read_mapping`)."""
    m = mapping if isinstance(mapping, dict) else read_mapping(mapping, num_classes)
    if "distances" in m or "correlation" in m:
        return dict(m)
    wn = wn if wn is not None else load_wordnet()
    resolved = [resolve_synset(wn, s) for s in m["synsets"]]
    d = synset_distances(resolved)
    if not np.all(np.isfinite(d)):
        i, j = np.argwhere(~np.isfinite(d))[0]
        raise UserError(f"synsets {resolved[i].name()} and {resolved[j].name()} share no ancestor "
                        "(mix of parts of speech?); map every class to a noun")
    return {"name": m["name"], "classes": m["classes"], "distances": d,
            "synsets": [s.name() for s in resolved], "wnids": [f"{s.pos()}{s.offset():08d}" for s in resolved]}


def correlation_matrix(distances, sigma: float) -> np.ndarray:
    """C_ij = exp(-d_ij^2 / (2 sigma^2)) (Dong et al. 2017, Eq. 2)."""
    sigma = float(sigma)
    if not sigma > 0:
        raise UserError(f"sigma must be > 0, got {sigma}")
    d = np.asarray(distances, dtype=np.float64)
    return np.exp(-d ** 2 / (2.0 * sigma ** 2))
