import pytest

from pocketai_pipeline.sync.shrink import MAX_REMOVED_FRACTION, is_suspicious_shrink


def test_the_bound_is_twenty_percent():
    assert MAX_REMOVED_FRACTION == 0.2


@pytest.mark.parametrize(
    ("active_synced", "would_be_removed", "suspicious"),
    [
        (0, 0, False),
        (0, 3, False),
        (100, 0, False),
        (100, 20, False),
        (100, 21, True),
        (5, 1, False),
        (5, 2, True),
        (15, 3, False),
        (15, 4, True),
        (763, 152, False),
        (763, 153, True),
        (10, 10, True),
    ],
)
def test_more_than_a_fifth_removed_is_suspicious(active_synced, would_be_removed, suspicious):
    assert is_suspicious_shrink(active_synced, would_be_removed) is suspicious
