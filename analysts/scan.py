"""What every full pass over the log shares: the page size, and no cyclic GC meanwhile."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

PAGE = 1000  # records per read: a chat-heavy page of 1,000 records is a few MiB of objects


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a long pass.

    A pass allocates millions of objects, and each of the collector's full
    passes walks everything alive (the whole read side being built), again and
    again: that costs more than the fold.  What a pass allocates has no cycles
    worth collecting; the collector runs again once the pass is over.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
