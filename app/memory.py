"""A worker's memory after a large request: given back to the system, not kept by the allocators for later.

Allocators keep freed memory for reuse: after one large upload a worker would stay near its
peak for good, and two workers at their peaks do not fit the memory a pod is given. Measured
with ``bench/upload_memory.py``, Arrow's bundled allocators (mimalloc, jemalloc) kept tens of
megabytes per upload held by their threads' heaps, where glibc's malloc, trimmed after the
request, gave it all back: so a worker's Arrow memory comes from glibc (``bound_retained_memory``),
as Python's large objects do. glibc raises its threshold for giving a large block a mapping of
its own each time such a block is freed, after which the file reader's blocks (megabytes each)
come from, and fragment, its heap; the threshold is fixed instead. ``release_unused_memory``
trims what is left. Where the C library is not glibc (musl, macOS), Arrow's default stays.
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


def bound_retained_memory() -> None:
    """Arrow's memory from glibc, and blocks of ``MMAP_THRESHOLD_BYTES`` and more mapped apart, unmapped when freed."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(MMAP_THRESHOLD_BYTES))
        pa.set_memory_pool(pa.system_memory_pool())


def release_unused_memory() -> None:
    """Arrow's pool and glibc's heap give the memory they hold unused back to the system."""
    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))
