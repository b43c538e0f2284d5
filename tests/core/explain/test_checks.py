"""The measures the README quotes, and the tiles the pictures are made of, against references."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnncli.core.explain.checks import average_ranks, near_ink, positive_share, rank_correlation
from cnncli.core.explain.tiles import GAP, columns_for, grid, signed_colours

distinct = st.lists(st.integers(-1000, 1000), min_size=3, max_size=40, unique=True)


@given(distinct, st.randoms())
def test_without_ties_spearman_is_the_textbook_formula(values, random):
    a = np.array(values, dtype=np.float64)
    b = a.copy()
    random.shuffle(b)
    n = a.size
    d = np.argsort(np.argsort(a)) - np.argsort(np.argsort(b))
    assert np.isclose(rank_correlation(a, b), 1 - 6 * (d * d).sum() / (n * (n * n - 1)))


@given(arrays(np.int64, st.integers(2, 30), elements=st.integers(0, 3)))
def test_ties_share_the_mean_of_their_ranks(values):
    ranks = average_ranks(values)
    for value in np.unique(values):
        below = (values < value).sum()
        count = (values == value).sum()
        assert np.allclose(ranks[values == value], below + (count + 1) / 2)


def test_a_map_against_itself_its_reverse_and_a_constant():
    a = np.arange(12.0).reshape(3, 4)
    assert rank_correlation(a, a) == 1.0 and np.isclose(rank_correlation(a, -a), -1.0)
    assert rank_correlation(a, np.zeros_like(a)) == 0.0


def test_near_ink_is_the_ink_grown_by_one_pixel_and_the_share_of_positive_mass():
    pixels = np.zeros((6, 6), dtype=np.uint8)
    pixels[2, 3] = 200
    pixels[5, 0] = 63  # under the ink level: paper
    mask = near_ink(pixels)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:4, 2:5] = True
    assert (mask == expected).all()
    attribution = np.where(mask, 1.0, 0.0) + np.where(~mask, 3.0, 0.0) - 10.0 * (np.arange(36).reshape(6, 6) == 0)
    assert np.isclose(positive_share(attribution, mask), 9 / (9 + 3 * 26))  # the negative pixel does not count
    assert np.isnan(positive_share(-np.ones((6, 6)), mask))


def test_tiles_laid_out_in_rows_that_fit():
    tiles = [np.full((3, 4, 5), i, dtype=np.uint8) for i in range(7)]
    columns = columns_for(5, 17)  # 5 + 1 + 5 + 1 + 5 = 17
    assert columns == 3
    sheet = grid(tiles, columns, background=255)
    assert sheet.shape == (3, 3 * 4 + 2 * GAP, 3 * 5 + 2 * GAP)
    assert (sheet[:, 5:9, 6:11] == 4).all() and (sheet[:, :, 5] == 255).all()


def test_signed_values_are_white_at_zero_and_red_for_positive():
    colours = signed_colours(np.array([-2.0, 0.0, 2.0]))
    blue, white, red = colours.T
    assert tuple(white) == (247, 247, 247) and red[0] > red[2] and blue[2] > blue[0]
