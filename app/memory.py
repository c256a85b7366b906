"""Memory a large request freed, given back to the system instead of kept by the allocators for later.

Arrow's pool (mimalloc or jemalloc) and glibc's malloc both keep freed memory for reuse: after
one large upload a worker would stay near its peak for good, and two workers at their peaks do
not fit the memory a pod is given. ``release_unused_memory`` asks both to return what they hold
unused. glibc also raises its threshold for serving a large block from its own mapping each time
such a block is freed, after which the file reader's blocks (megabytes each) come from, and
fragment, its heap: ``map_large_blocks`` fixes the threshold instead. Where the C library is not
glibc (musl, macOS), both leave it be.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa

# glibc's mallopt parameter (malloc.h) and the size from which a block gets a mapping of its own.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    library = ctypes.util.find_library("c")
    libc = ctypes.CDLL(library) if library else None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def map_large_blocks() -> None:
    """Blocks of ``MMAP_THRESHOLD_BYTES`` and more mapped apart, and unmapped when freed."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(MMAP_THRESHOLD_BYTES))


def release_unused_memory() -> None:
    """Arrow's pool and glibc's heap give the memory they hold unused back to the system."""
    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))
