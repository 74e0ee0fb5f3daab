"""The planted-motif generator: motifs where it says, classes as documented, seeded."""

import numpy as np
import pytest

from tfinterp.data import planted as P
from tfinterp.data.sequences import decode
from tfinterp.errors import UserError


@pytest.fixture(scope="module")
def data():
    return P.make_planted(n=400, length=80, seed=7)


def test_pwms_are_probabilities_and_consensus_by_hand():
    for name, pwm in P.MOTIFS.items():
        assert pwm.shape[1] == 4 and np.allclose(pwm.sum(1), 1), name
    e = P.MOTIFS["EBOX"]
    assert "".join("ACGT"[i] for i in e.argmax(1)) == "CCACGTGG"
    np.testing.assert_allclose(e[0], [0.05 / 3, 0.95, 0.05 / 3, 0.05 / 3], rtol=1e-6)
    np.testing.assert_allclose(P.pwm_from_consensus("W", 0.85)[0], [0.425, 0.075, 0.075, 0.425])
    np.testing.assert_allclose(P.log_odds(e)[0, 1], np.log2(0.95 / 0.25), rtol=1e-6)
    with pytest.raises(UserError, match="not an IUPAC"):
        P.pwm_from_consensus("ACZ")


def test_classes_balanced_and_motifs_match_class(data):
    assert np.bincount(data.y).tolist() == [100] * 4
    assert data.class_names == ["none", "GATA", "TATA", "EBOX+AP1"]
    for y, spans, decoys in zip(data.y, data.motifs, data.meta["decoys"]):
        assert tuple(sorted(m for m, _, _ in spans)) == tuple(sorted(P.CLASS_MOTIFS[y]))
        assert not decoys or (y == 0 and len(decoys) == 1 and decoys[0][0] in P.DECOYS)
        every = sorted(spans + decoys, key=lambda s: s[1])
        for (_, s0, e0), (_, s1, _) in zip(every, every[1:]):
            assert e0 <= s1  # non-overlapping
        for m, s, e in every:
            assert 0 <= s and e <= 80 and e - s == len(P.MOTIFS[m])
    n_decoy = sum(bool(d) for d in data.meta["decoys"])
    assert 30 < n_decoy < 70  # decoy_rate 0.5 of the 100 class-0 sequences


def test_letters_at_recorded_positions_follow_the_pwm(data):
    """Planted windows score high under their PWM's log-odds; motif-free windows do not."""
    mask = P.motif_mask(data, 80) | P.motif_mask(data.meta["decoys"], 80)
    for m, pwm in P.MOTIFS.items():
        w, best = len(pwm), P.log_odds(pwm).max(1).sum()
        planted = np.array([P.pwm_score(data.x[i, s:e], pwm) for i, spans in enumerate(data.motifs)
                            for name, s, e in spans if name == m])
        background = np.array([P.pwm_score(data.x[i, s:s + w], pwm) for i in range(len(data))
                               for s in range(0, 80 - w + 1, w) if not mask[i, s:s + w].any()])
        assert len(planted) == 100 and len(background) > 2000
        # s = 0.95 on each consensus letter: an instance keeps at most one mismatch with
        # probability p1 = s^w + w (1 - s) s^(w-1), and one mismatch leaves more than half the
        # best score (log-odds 1.93 or 0.93 lost, at most 3.9 paid); a uniform background
        # window rarely gets there
        s = P.STRENGTH
        p1 = s ** w + w * (1 - s) * s ** (w - 1)
        assert (planted > best / 2).mean() > p1 - 0.12, m  # 100 instances: sd below 0.05
        assert (background > best / 2).mean() < 0.03, m
        assert planted.mean() > background.mean() + 8, m
    # the letters outside the motifs are background: about 1/4 each
    np.testing.assert_allclose(data.x[~mask].mean(0), 0.25, atol=0.01)


def test_consensus_frequency_matches_pwm(data):
    """Per motif position, the frequency of each letter over all instances is the PWM's."""
    counts = {m: np.zeros_like(p) for m, p in P.MOTIFS.items()}
    for i, spans in enumerate(data.motifs):
        for m, s, e in spans:
            counts[m] += data.x[i, s:e]
    for m in ("GATA", "TATA", "EBOX", "AP1"):
        n = counts[m].sum(1, keepdims=True)
        assert (n == 100).all()  # 100 instances per motif
        p = P.MOTIFS[m]
        # each entry a binomial frequency: within 4 standard deviations
        assert (np.abs(counts[m] / n - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-3).all(), m


def test_mask_by_hand():
    mask = P.motif_mask([[("A", 1, 3)], [], [("A", 0, 1), ("B", 4, 5)]], 5)
    np.testing.assert_array_equal(mask, [[0, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(P.motif_mask([[("A", 0, 1), ("B", 4, 5)]], 5, names={"B"}), [[0, 0, 0, 0, 1]])


def test_seeded_reproducible_and_different_seeds_differ():
    a, b = P.make_planted(50, 60, seed=1), P.make_planted(50, 60, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.motifs == b.motifs and a.y.tolist() == b.y.tolist()
    c = P.make_planted(50, 60, seed=2)
    assert decode(c.x) != decode(a.x)


def test_bad_settings():
    with pytest.raises(UserError, match="do not fit"):
        P.make_planted(8, length=10)
    with pytest.raises(UserError, match="decoy_rate"):
        P.make_planted(8, decoy_rate=2)
    with pytest.raises(UserError, match="PWM 'GATA'"):
        P.make_planted(8, motifs={"GATA": np.ones((3, 4))})
    with pytest.raises(UserError, match="no motif positions"):
        from tfinterp.data.sequences import one_hot, SequenceData
        P.motif_mask(SequenceData(one_hot("ACGT"), None, ["a"], "dna", 4), 4)
