// barrier: the heavy side of an asymmetric memory barrier. A thread that
// must see another thread's recent stores (or have its own seen) without
// that thread paying a fence on its fast path calls heavy_barrier(); the
// fast side pairs with it through a compiler barrier only
// (std::atomic_signal_fence). heavy_barrier() makes every running thread of
// the process execute a full memory barrier before it returns: Linux's
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), or, where the kernel lacks
// it, an mprotect() of a private page, whose TLB shootdown interrupts every
// CPU running the process (the technique of .NET's FlushProcessWriteBuffers).
// Costs a few microseconds; meant for rare slow paths (the monitor's
// handoffs, runtime/machine.hpp).
#pragma once

namespace gort::detail {

// Any thread, before the first heavy_barrier() (and again is harmless):
// registers the process for membarrier's expedited command if the kernel
// has it.
void heavy_barrier_init() noexcept;
// Any thread.
void heavy_barrier() noexcept;

}  // namespace gort::detail
