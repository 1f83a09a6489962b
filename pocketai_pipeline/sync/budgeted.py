"""Running Hub requests a few at once within a time budget: the loop shared by the details and the file facts."""

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def run_within_budget(
    items: Sequence[Item],
    fetch: Callable[[Item], Outcome],
    record: Callable[[Item, Outcome], str | None],
    *,
    budget_seconds: float,
    workers: int,
    name: str,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, str | None]:
    """`fetch` each item, `workers` at a time, and `record` each outcome in the calling thread (one at a time),
    until all are done, `budget_seconds` is spent, or `record` gives a reason to stop (the Hub's rate limit).

    Returns how many items were started (those after them are still pending) and what stopped the run, if anything.
    """
    deadline = clock() + budget_seconds
    workers = max(1, workers)
    started, stopped_by = 0, None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        in_flight: dict[Future[Outcome], Item] = {}

        def start_more() -> None:
            nonlocal started, stopped_by
            while len(in_flight) < workers and started < len(items) and stopped_by is None:
                if clock() >= deadline:
                    stopped_by = f"the time budget of {budget_seconds:g}s"
                    return
                in_flight[pool.submit(fetch, items[started])] = items[started]
                started += 1

        start_more()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                stop = record(in_flight.pop(future), future.result())
                stopped_by = stopped_by or stop
            start_more()
    return started, stopped_by
