import numpy as np
import pytest

from tfinterp.metrics import (box_from_map, iou, localization_error, localization_hits, paired_comparison,
                              pointing_game, salient_object_scores, tune_alpha, wilson_interval)


def test_iou_by_hand():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 2, 2), (5, 5, 6, 6)) == 0.0 and iou(None, (0, 0, 1, 1)) == 0.0


def test_box_all_segments_vs_largest():
    m = np.zeros((20, 20), np.float32)
    m[2:6, 2:6] = 1.0      # 16 px
    m[10:18, 12:18] = 1.0  # 48 px
    assert box_from_map(m, alpha=1.0) == (2, 2, 18, 18)
    assert box_from_map(m, alpha=1.0, largest=True) == (10, 12, 18, 18)
    assert box_from_map(np.zeros((5, 5)), alpha=1.0) is None


def test_localization_error_and_alpha_tuning():
    boxes = [(4, 4, 12, 12)] * 4
    maps = np.zeros((4, 16, 16), np.float32)
    maps[:, 4:12, 4:12] = 1.0
    maps[:, 0, 0] = 0.2  # faint corner blob: kept at low alpha, removed at high alpha
    assert localization_error(maps, boxes, alpha=0.5) == 1.0  # box grows to the corner
    assert localization_error(maps, boxes, alpha=2.0) == 0.0
    best, err, curve = tune_alpha(maps, boxes)
    assert err == 0.0 and curve[0.0] == 1.0 and best >= 1.0


def test_localization_hits_match_the_error():
    boxes = [(4, 4, 12, 12)] * 3
    maps = np.zeros((3, 16, 16), np.float32)
    maps[:, 4:12, 4:12] = 1.0
    maps[1, 0, 0] = 5.0  # a strong corner blob: this map's box covers the whole canvas
    hits = localization_hits(maps, boxes, alpha=1.0)
    assert hits.tolist() == [True, False, True]
    assert localization_error(maps, boxes, alpha=1.0) == pytest.approx(1 / 3)


def test_wilson_interval_by_hand():
    # textbook values: 0/10 -> (0, 0.2775); 5/10 -> (0.2366, 0.7634)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = wilson_interval(100, 400)
    assert lo < 0.25 < hi and hi - lo < 0.09
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_paired_comparison_by_hand():
    # 20 images: both hit 6, both miss 4, only B hits 10, only A hits 0
    a = np.array([1] * 6 + [0] * 4 + [0] * 10, bool)
    b = np.array([1] * 6 + [0] * 4 + [1] * 10, bool)
    r = paired_comparison(a, b)
    assert r["a_only"] == 0 and r["b_only"] == 10 and r["n"] == 20
    assert r["difference"] == pytest.approx(0.5)           # error(A) 0.7 - error(B) 0.2
    assert r["p_value"] == pytest.approx(2 / 2 ** 10)      # exact two-sided binomial, 0 of 10
    se = np.sqrt(10 - 100 / 20) / 20
    assert r["ci95"] == pytest.approx((0.5 - 1.959964 * se, 0.5 + 1.959964 * se))
    same = paired_comparison(a, a)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0 and same["ci95"] == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_comparison(a, b[:5])


def test_pointing_game():
    maps = np.zeros((2, 224, 224), np.float32)
    maps[0, 50, 50] = 1      # inside
    maps[1, 50, 112] = 1     # 12 px right of the box: a hit only with the 15 px tolerance
    boxes = [(40, 40, 100, 100)] * 2
    assert pointing_game(maps, boxes) == 1.0
    assert pointing_game(maps, boxes, tolerance=0) == 0.5


def test_salient_object_scores_by_hand():
    g = np.zeros((1, 10, 10), bool)
    g[0, :5] = True                      # 50 salient pixels
    m = np.zeros((1, 10, 10), np.float32)
    m[0, :4] = 1.0                       # 40 detected, all correct
    s = salient_object_scores(m, g)
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(0.8)
    assert s["f_measure"] == pytest.approx(1.3 * 0.8 / (0.3 + 0.8))
    assert s["mae"] == pytest.approx(0.1)
