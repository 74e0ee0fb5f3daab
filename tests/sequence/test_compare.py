"""Motif comparison: best-alignment Pearson / KL against known PWMs, and the shuffled chance."""

import numpy as np
import pytest

from tfinterp.sequence.compare import (best_match, best_window, compare, compare_with_chance, information_content,
                                       log_odds, reverse_complement, shuffled_chance)

GATA = np.array([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.05, 0.85],
                 [0.85, 0.05, 0.05, 0.05], [0.70, 0.10, 0.10, 0.10], [0.10, 0.10, 0.70, 0.10]])


def _embedded(pwm, offset, length, seed=0):
    rng = np.random.default_rng(seed)
    ppm = rng.dirichlet(np.ones(4), size=length)
    ppm[offset:offset + len(pwm)] = pwm
    return ppm


def test_shifted_pwm_gives_correlation_one_at_its_offset():
    found = _embedded(GATA, 3, 14)
    m = compare(found, GATA)
    assert m.pearson == pytest.approx(1.0, abs=1e-9)
    # found column 3 is known column 0: the found matrix starts 3 columns before the known one
    assert m.pearson_offset == -3 and m.pearson_strand == "+"
    assert m.kl == pytest.approx(0.0, abs=1e-9) and m.kl_offset == -3
    # the known matrix longer than the found one: a 4-column piece of it, at known column 2
    piece = GATA[2:6]
    m = compare(piece, GATA)
    assert m.pearson == pytest.approx(1.0) and m.pearson_offset == 2


def test_reverse_strand_found_only_with_both_strands():
    found = _embedded(reverse_complement(GATA), 5, 16, seed=1)
    plus = compare(found, GATA)
    both = compare(found, GATA, both_strands=True)
    assert plus.pearson < 0.9
    assert both.pearson == pytest.approx(1.0) and both.pearson_strand == "-"
    assert reverse_complement(reverse_complement(GATA)) == pytest.approx(GATA)


def test_chance_is_below_the_true_match_and_seeded():
    found = _embedded(GATA, 4, 12, seed=2)
    c1 = shuffled_chance(found, GATA, draws=100, seed=7)
    c2 = shuffled_chance(found, GATA, draws=100, seed=7)
    assert c1 == c2
    assert c1["pearson"]["p95"] < 1.0 and c1["kl"]["p05"] > 0.05
    r = compare_with_chance(found, GATA, draws=100)
    assert r["pearson_beats_chance"] and r["kl_beats_chance"]
    # an unrelated random PPM does not beat chance on both
    noise = np.random.default_rng(3).dirichlet(np.ones(4), size=12)
    assert not compare_with_chance(noise, GATA, draws=100)["pearson_beats_chance"]


def test_pssm_mode_is_scale_free_and_best_match_picks_the_motif():
    tata = np.array([[0.05, 0.05, 0.05, 0.85], [0.85, 0.05, 0.05, 0.05]] * 3)
    w = 0.37 * log_odds(GATA) + 1.5          # any positive scale, any per-filter offset
    assert compare(w, GATA, found_kind="pssm").pearson == pytest.approx(1.0)
    r = best_match(w, {"tata": tata, "gata": GATA}, draws=50, found_kind="pssm")
    assert r["motif"] == "gata" and r["pearson"] == pytest.approx(1.0)
    assert r["pearson_all"]["tata"] < r["pearson_all"]["gata"]


def test_information_content_and_best_window():
    ppm = np.full((10, 4), 0.25)
    ppm[6:9] = np.eye(4)[[0, 1, 2]]
    assert information_content(ppm) == pytest.approx([0] * 6 + [2, 2, 2, 0])
    assert best_window(ppm, 3) == 6
    with pytest.raises(ValueError):
        compare(np.ones((3, 4)), np.ones((3, 20)))
