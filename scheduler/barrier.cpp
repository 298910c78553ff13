#include "scheduler/barrier.hpp"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace gort::detail {

namespace {
std::atomic<int> g_mode{0};  // 0: not initialised, 1: membarrier, 2: mprotect

long membarrier(int cmd) noexcept { return syscall(SYS_membarrier, cmd, 0, 0); }

// The fallback: one private page, dirtied and then write-protected; changing
// its protection flushes it from every CPU's TLB, by interrupting them.
void mprotect_barrier() noexcept {
  static std::mutex mu;
  static char* page = nullptr;
  std::lock_guard g(mu);
  const long size = sysconf(_SC_PAGESIZE);
  if (!page) {
    void* p = mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::atomic_thread_fence(std::memory_order_seq_cst);  // no better: at least our own fence
      return;
    }
    page = static_cast<char*>(p);
  }
  mprotect(page, size_t(size), PROT_READ | PROT_WRITE);
  *static_cast<volatile char*>(page) = 1;  // make it resident, so its unmapping must be shot down
  mprotect(page, size_t(size), PROT_READ);
}
}  // namespace

void heavy_barrier_init() noexcept {
  if (g_mode.load(std::memory_order_acquire) != 0) return;
  const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  bool ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
            membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  g_mode.store(ok ? 1 : 2, std::memory_order_release);
}

void heavy_barrier() noexcept {
  int mode = g_mode.load(std::memory_order_acquire);
  if (mode == 0) {
    heavy_barrier_init();
    mode = g_mode.load(std::memory_order_acquire);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (mode == 1 && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  mprotect_barrier();
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace gort::detail
