"""PyTorch's CUDA caching allocator: what a tensor really takes from the card, not its byte count.

The rules (c10/cuda/CUDACachingAllocator.cpp, default settings, no expandable segments):
  - every request is rounded up to 512 bytes;
  - requests of at most 1 MiB share 2 MiB segments (the small pool);
  - requests above 1 MiB and below 10 MiB share 20 MiB segments (a block is split off a segment
    while more than 1 MiB would remain);
  - requests of 10 MiB and more get a segment of their own, rounded up to 2 MiB.
A card's free memory (nvidia-smi, or a per-process cap) falls by the segments, so a pool of many
large buffers costs up to 2 MiB more per buffer than its bytes. benchmarks/results/memory_allocator.json
holds the GPU measurements these rules were checked against (`benchmarks/fit_memory_terms.py`).
Standard library only: the composite action imports this module with the runner's Python.
"""

from __future__ import annotations

MIB = 1 << 20
MIN_BLOCK = 512
SMALL_SIZE = 1 * MIB  # at most this: the small pool
SMALL_SEGMENT = 2 * MIB
LARGE_SEGMENT = 20 * MIB  # for requests in (1 MiB, 10 MiB)
MIN_LARGE_ALLOC = 10 * MIB
ROUND_LARGE = 2 * MIB


def round_request(nbytes: int) -> int:
    """The block size the allocator hands out for a request of `nbytes`."""
    return max(MIN_BLOCK, -(-nbytes // MIN_BLOCK) * MIN_BLOCK)


def segment_size(nbytes: int) -> int:
    """The segment the allocator reserves when no cached block can take the request."""
    if nbytes <= SMALL_SIZE:
        return SMALL_SEGMENT
    if nbytes < MIN_LARGE_ALLOC:
        return LARGE_SEGMENT
    return -(-nbytes // ROUND_LARGE) * ROUND_LARGE


def reserved_for(sizes: list[int]) -> int:
    """Bytes reserved by live tensors of `sizes`, allocated in this order on an empty cache.

    Best fit among the free rests of earlier segments, as the allocator searches its pool; a
    rest is split off only while it is large enough (small pool: 512 bytes; large pool: over 1 MiB).
    """
    total = 0
    rests: dict[bool, list[int]] = {True: [], False: []}  # small pool, large pool
    for nbytes in sizes:
        block = round_request(nbytes)
        small = block <= SMALL_SIZE
        # every rest is smaller than a shared segment: a block that large never fits one (fast path)
        fitting = [] if block >= LARGE_SEGMENT else [rest for rest in rests[small] if rest >= block]
        if fitting:
            chosen = min(fitting)
            rests[small].remove(chosen)
        else:
            chosen = segment_size(block)
            total += chosen
        rest = chosen - block
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:
            rests[small].append(rest)
    return total
