"""The garbage collector around bulk work: what was loaded stays out of the collector's way.

Planning allocates hundreds of thousands of small objects (lines, tuples, vouchers) while tens of
thousands of loaded documents sit on the heap. Each full collection walks all of them again, and
none of them can be garbage while the work runs. `frozen()` moves everything alive at its start
into the permanent generation (`gc.freeze`) for the duration of the block and gives it back
afterwards (`gc.unfreeze`), so a long-lived worker never keeps a frozen heap — or its cyclic
garbage — beyond the block. Freezing only changes when objects are collected, never whether
they are: threads sharing the process (a worker beside the web server) may see the heap frozen or
not, and stay correct either way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen() -> Iterator[None]:
    """Freeze the heap as it is now (after loading) for the block; the collector still runs for
    what the block itself allocates. Nested blocks leave the freezing to the outermost one."""
    if gc.get_freeze_count():
        yield  # an outer block (or the process) froze the heap already: leave it to unfreeze
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
