"""The guard against a listing that shrank suspiciously (contract rule 7)."""

MAX_REMOVED_FRACTION = 0.2


def is_suspicious_shrink(
    active_synced: int, would_be_removed: int, max_removed_fraction: float = MAX_REMOVED_FRACTION
) -> bool:
    """Whether marking `would_be_removed` of the `active_synced` models as removed is too many to trust.

    More than `max_removed_fraction` of the active synced models is suspicious; with none active,
    nothing can shrink.
    """
    if active_synced <= 0:
        return False
    return would_be_removed / active_synced > max_removed_fraction
