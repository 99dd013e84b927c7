"""The collector's settings once the process is up (``guildhall.runtime.freeze_heap``)."""

import gc

from guildhall.runtime import YOUNG_GENERATION, freeze_heap


def test_freezing_the_heap_hides_start_up_objects_and_widens_the_young_generation():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        survivor = [object() for _ in range(100)]  # alive at the freeze: frozen with the rest
        frozen = freeze_heap()
        assert frozen >= len(survivor) and frozen == gc.get_freeze_count()
        assert gc.get_threshold() == (YOUNG_GENERATION, 10, 10)  # only the young generation's changes
        young_before = gc.get_count()[0]
        garbage = [[] for _ in range(1_000)]  # more than the default threshold, fewer than ours
        assert gc.get_count()[0] >= young_before + len(garbage)  # no pass ran: they are all still counted
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
