// Unwinding copied stacks with elfutils' libdwfl, and copying a parked
// fiber's stack (see runtime/traceback.hpp).
//
// Why libdwfl: it unwinds from any register set through a memory-read
// callback (perf unwinds its sampled stack copies the same way), reads the
// unwind tables of every loaded binary (gort and its users are built without
// frame pointers), steps through signal frames, and the same library gives
// file:line and inlined calls from DWARF for symbolization. libunwind's
// local unwinder reads memory directly (a racing resumption could send it
// to a wild address) and has no symbolizer beyond the symbol table;
// libgcc's unwinder only walks the calling thread.
//
// Invariants:
//   - g_dwfl (the process's modules, attached to the callbacks below) and
//     g_current (the copy being unwound) are used under the traceback lock.
//   - A copy is only ever read within [lo, lo + size): the callbacks refuse
//     every other address, so a stale or torn copy ends an unwind early or
//     gives wrong frames, never a fault.
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "runtime/fcontext_frame.hpp"
#include "runtime/fiber.hpp"
#include "runtime/machine.hpp"
#include "runtime/sanitizer.hpp"
#include "runtime/traceback.hpp"

namespace gort::detail {

Dwfl* traceback_dwfl(bool refresh);  // symbolize.cpp uses it too

namespace {

const stack_copy* g_current = nullptr;
Dwfl* g_dwfl = nullptr;

bool read_word(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void*) {
  const stack_copy* c = g_current;
  if (!c || addr < c->lo || addr - c->lo + sizeof(Dwarf_Word) > c->mem.size()) return false;
  std::memcpy(result, c->mem.data() + (addr - c->lo), sizeof(Dwarf_Word));
  return true;
}

pid_t no_threads(Dwfl*, void*, void**) { return 0; }

bool the_copy(Dwfl*, pid_t, void*, void** thread_arg) {
  *thread_arg = const_cast<stack_copy*>(g_current);
  return g_current != nullptr;
}

bool initial_registers(Dwfl_Thread* thread, void* arg) {
  const stack_regs& regs = static_cast<const stack_copy*>(arg)->regs;
  Dwarf_Word r[stack_regs::k_count];
  for (int i = 0; i < stack_regs::k_count; ++i) r[i] = regs.r[i];
  if (regs.all) return dwfl_thread_state_registers(thread, 0, stack_regs::k_count, r);
  // A saved context: rbx, rbp and rsp, r12-r15, the pc.
  return dwfl_thread_state_registers(thread, 3, 1, &r[3]) && dwfl_thread_state_registers(thread, 6, 2, &r[6]) &&
         dwfl_thread_state_registers(thread, 12, 5, &r[12]);
}

const Dwfl_Thread_Callbacks k_thread_callbacks = {
    &no_threads, &the_copy, &read_word, &initial_registers, nullptr, nullptr,
};

char* g_debuginfo_path = nullptr;
const Dwfl_Callbacks k_proc_callbacks = {
    &dwfl_linux_proc_find_elf, &dwfl_standard_find_debuginfo, nullptr, &g_debuginfo_path,
};

int collect_frame(Dwfl_Frame* frame, void* arg) {
  auto* out = static_cast<call_stack*>(arg);
  Dwarf_Addr pc;
  bool activation;
  if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
  // A return address points after its call: symbolize the call itself.
  out->pcs.push_back(std::uintptr_t(activation ? pc : pc - 1));
  if (out->pcs.size() < k_max_raw_frames) return DWARF_CB_OK;
  out->elided = true;
  return DWARF_CB_ABORT;
}

// Reads a field another thread may be writing (a word, so never torn on
// x86-64); the copy is validated afterwards.
template <class T>
__attribute__((no_sanitize("thread"))) T racy_load(const T& field) noexcept {
  return *static_cast<const volatile T*>(&field);
}

}  // namespace

// Under the traceback lock: the process's modules as a Dwfl attached to the
// copy callbacks; `refresh` re-reads /proc/self/maps (a library was loaded
// since). Null if libdwfl cannot read this process.
Dwfl* traceback_dwfl(bool refresh) {
  if (g_dwfl && !refresh) return g_dwfl;
  if (!g_dwfl) {
    g_dwfl = dwfl_begin(&k_proc_callbacks);
    if (!g_dwfl) return nullptr;
  }
  dwfl_report_begin(g_dwfl);
  const int rc = dwfl_linux_proc_report(g_dwfl, getpid());
  dwfl_report_end(g_dwfl, nullptr, nullptr);
  if (rc != 0) return nullptr;
  static bool attached = false;
  if (!attached) attached = dwfl_attach_state(g_dwfl, nullptr, getpid(), &k_thread_callbacks, nullptr);
  return attached ? g_dwfl : nullptr;
}

std::mutex& traceback_session::mutex() {
  static std::mutex mu;
  return mu;
}

// A fiber that waits here is announced (see machine::awaiting_traceback):
// the report holding the lock does not wait for its sample.
traceback_session::traceback_session() : lock_(mutex(), std::try_to_lock) {
  if (lock_.owns_lock()) return;
  machine* m = machine_of_thread();
  if (m) m->set_awaiting_traceback(true);
  lock_.lock();
  if (m) m->set_awaiting_traceback(false);
}

__attribute__((no_sanitize("address", "thread"))) void copy_stack_bytes(char* dst, std::uintptr_t src,
                                                                        std::size_t n) noexcept {
  // Word by word through volatile loads: never turned into a call to an
  // intercepted memcpy, and never checked against another fiber's redzones.
  auto* from = reinterpret_cast<const volatile char*>(src);
  std::size_t i = 0;
  for (; i + sizeof(std::uint64_t) <= n; i += sizeof(std::uint64_t)) {
    const std::uint64_t w = *reinterpret_cast<const volatile std::uint64_t*>(from + i);
    std::memcpy(dst + i, &w, sizeof w);
  }
  for (; i < n; ++i) dst[i] = from[i];
}

void unwind_copy(const stack_copy& c, call_stack& out) {
  out.pcs.clear();
  Dwfl* dwfl = traceback_dwfl(false);
  if (!dwfl) {
    out.missing = "call stacks unavailable: cannot read this process's binaries";
    return;
  }
  g_current = &c;
  // Ends with an error where the unwind tables end (the fiber's entry, a
  // thread's start) or a read leaves the copy: the frames so far are the stack.
  dwfl_getthread_frames(dwfl, getpid(), &collect_frame, &out);
  g_current = nullptr;
  if (c.pc_is_return && !out.pcs.empty()) out.pcs.front() -= 1;  // a parked fiber's first pc
  if (out.pcs.empty()) out.missing = "call stack unavailable: no unwind information";
}

namespace {

// One attempt at copying f's saved stack: false if it moved meanwhile (was
// resumed, exited, or its object reused). Acquire on the generation and the
// state: pairs with the release stores of the state at a park or yield
// (machine::parked/yielded), which follow the saved context's writes.
bool copy_saved(const fiber& f, stack_copy& c, bool& not_started) {
  const std::uint32_t gen = f.switch_gen_.load(std::memory_order_acquire);
  const fiber_state st = f.state_.load(std::memory_order_acquire);
  if (st != fiber_state::waiting && st != fiber_state::runnable) return false;
  const std::uint64_t id = racy_load(f.id_);
  const auto ctx = reinterpret_cast<std::uintptr_t>(racy_load(f.ctx_));
  const auto base = reinterpret_cast<std::uintptr_t>(racy_load(f.stack_.base));
  const std::size_t size = racy_load(f.stack_.size);
  if (ctx == 0) {
    not_started = true;
    return true;
  }
  // Every stack of a run stays mapped until the run ends: reading within
  // one is safe even if the fiber moved on (its copy is thrown away below).
  if (ctx < base || ctx + sizeof(fcontext_frame) > base + size) return false;
  c.lo = ctx;
  c.mem.resize(base + size - ctx);
  copy_stack_bytes(c.mem.data(), ctx, c.mem.size());
  std::atomic_thread_fence(std::memory_order_acquire);
  const fiber_state st2 = f.state_.load(std::memory_order_relaxed);
  if (f.switch_gen_.load(std::memory_order_relaxed) != gen || racy_load(f.id_) != id ||
      (st2 != fiber_state::waiting && st2 != fiber_state::runnable))
    return false;
  if constexpr (k_fcontext_frame_known) {
    fcontext_frame fr;
    std::memcpy(&fr, c.mem.data(), sizeof fr);
    c.regs = {};
    c.regs.r[3] = fr.rbx;
    c.regs.r[6] = fr.rbp;
    c.regs.r[stack_regs::k_sp] = ctx + sizeof(fcontext_frame);
    c.regs.r[12] = fr.r12;
    c.regs.r[13] = fr.r13;
    c.regs.r[14] = fr.r14;
    c.regs.r[15] = fr.r15;
    c.regs.r[stack_regs::k_pc] = fr.rip;
    c.pc_is_return = true;
  }
  return true;
}

}  // namespace

call_stack traceback_session::parked(const fiber& f) {
  call_stack cs;
  if constexpr (!k_fcontext_frame_known) {
    cs.missing = "call stacks of parked fibers are not supported on this architecture";
    return cs;
  }
  stack_copy c;
  constexpr int k_attempts = 4;  // a fiber that keeps moving is left out
  for (int i = 0; i < k_attempts; ++i) {
    bool not_started = false;
    if (!copy_saved(f, c, not_started)) continue;
    if (not_started) return cs;  // no stack yet: nothing to show
    unwind_copy(c, cs);
    return cs;
  }
  cs.missing = "call stack not taken: the fiber kept running while it was read";
  return cs;
}

}  // namespace gort::detail
