// machine: an OS thread that runs fibers (Go's M). It has the thread's own
// stack and context ("g0", where the scheduler runs), its C++ exception
// globals, its sanitizer and signal-stack state, the fiber it is running, and
// the worker (Go's P, runtime/worker.hpp) it owns, if any.
//
// A fiber that parks, yields or exits switches out with a request, which is
// carried out only after its context is saved: by g0, or, for a park or
// yield handed straight to the next local fiber (handoff()), by that fiber
// as it arrives (arrived()). That is what makes park's unlock step safe (see
// runtime/park.hpp); an exit always goes through g0, which frees the stack.
//
// Runtime sections and the handoff handshake. A machine may touch its
// worker's owner-only state only on g0 or inside a runtime section: from
// enter_runtime() to leave_runtime() (nested sections count). g0 is always
// inside one; a fiber enters one when it switches out and leaves it when it
// returns to its own code, and gort calls that touch the worker from a fiber
// (ready, go) open one. The monitor takes a worker away from a machine whose
// fiber held it too long by an asymmetric Dekker handshake:
//   machine (fast side)                  monitor (slow side)
//   depth_ = 1 (relaxed)                 owner_ = k_retaking; M.retake_ = true
//   compiler barrier                     heavy_barrier() (membarrier: a full
//   read retake_: clear? go on; set?       fence on every running thread)
//   wait until the monitor decides:      read M's depth_: 0? hand the worker
//   kept it, or lost it                  on (retake_ stays set); else give
//                                        it back and clear retake_
// Either the monitor sees the section or the machine sees the owner change:
// never both miss. A machine that lost its worker runs its fiber on without
// one (gort calls then take the paths of a plain thread) until the fiber
// parks, yields or exits; then it becomes a spare (runtime/machines.cpp).
//
// Invariants:
//   - current_ is the fiber this machine is running, or null on g0; written
//     and read only by this machine's thread. running_ mirrors it for other
//     threads (the monitor, dumps): release store, so a reader sees the
//     fiber's creation-time fields.
//   - p_ is the worker this machine believes it owns; written only by this
//     machine's thread, and by the monitor only while the machine sleeps as
//     a spare (then ordered by the spare's parker). It is null once the
//     machine found its worker taken.
//   - A fiber resumed by a jump learns its machine from the jump's data,
//     never from a cached thread_local: it may resume on another thread.
//   - lowered_ is written by the monitor only while it holds this machine's
//     worker as k_retaking (the machine cannot leave retake_seen() then), and
//     afterwards only by this machine's thread on g0: the worker's new owner,
//     stored with release and loaded with acquire, orders the two. While it
//     is set the thread runs at nice base_nice_ + k_stuck_nice.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include <boost/context/detail/fcontext.hpp>

#include "runtime/fiber.hpp"
#include "runtime/sampler.hpp"
#include "runtime/worker.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

class runtime;
class scheduler;

class alignas(64) machine {
 public:
  machine(runtime& rt, scheduler& sched, unsigned id);
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;

  // This machine's thread: binds the thread to it (thread_local, exception
  // globals, signal stack, sanitizer context). Call first. TSan: from here
  // to unbind_thread() the thread's own context (g0) is ignored, as every
  // fiber's is inside a runtime section: the runtime's work there acts for
  // nobody, and what it does to memory (through the C library, which TSan
  // intercepts) must neither be checked nor order anything. The edges the
  // user's code relies on are stated outside (gort/detail/race.hpp).
  void bind_thread();
  // This machine's thread: undoes bind_thread(). Call last.
  void unbind_thread() noexcept;
  // This machine's thread, on g0, owning `p`: runs fibers until the
  // scheduler stops or the machine loses its worker. Returns with p_ null if
  // it lost it.
  void run_worker();
  // This machine's thread, on g0: switches into `f` and carries out what it
  // asked for when it switches back (Traced: recording GORT_TRACE events).
  template <bool Traced = false>
  void execute(fiber* f);

  // park() (runtime/park.hpp, same arguments) for the running fiber `f` of
  // machine `self` (its current one): records why and where `f` waits and
  // its unlock step, switches to the next local fiber or to g0 (either
  // carries the park out after the switch), and returns once `f` was readied
  // and resumed, possibly on another machine. Throws fiber_unwind while run()
  // unwinds leftovers (shutdown step 4).
  static void park_current(machine* self, fiber* f, void (*unlock)(void*), void* arg, wait_reason why,
                           const location& where);
  // The running fiber of machine `self` (its current one) yields: it goes to
  // the tail of the run queue (the global queue if the machine lost its
  // worker) and the machine switches to the next fiber. Returns the machine
  // that resumed it: `self` at once, without switching, when nothing else
  // could run on it.
  static machine* switch_out_yield(machine* self);
  // gort::yield() for the running fiber `f` of machine `self`, in one frame:
  // switch_out_yield, and fiber_unwind thrown while run() unwinds leftovers
  // (before and after the switch) unless an exception is in flight.
  static void yield_current(machine* self, fiber* f);

  // ---- runtime sections (see the top of this file) ----
  // This machine's thread: opens a section; returns the worker it owns, or
  // null if it has none (never had one, or the monitor took it).
  worker* enter_runtime() noexcept {
    const std::uint32_t d = depth_.load(std::memory_order_relaxed);
    depth_.store(d + 1, k_dekker_order);
    if (d > 0) return p_;  // already inside: the worker cannot be taken meanwhile
    return entered_runtime();
  }
  // The running fiber's own code, about to switch out: the same, for a
  // section that must be the outermost. A switch from inside one (a park's
  // unlock step that yields, say) would leave the section depths of both
  // machines wrong for good: a fatal error.
  worker* enter_runtime_to_switch() noexcept {
    if (depth_.load(std::memory_order_relaxed) != 0) [[unlikely]] switch_in_section();
    depth_.store(1, k_dekker_order);
    return entered_runtime();
  }
  // This machine's thread: closes the section enter_runtime() opened.
  // Release: pairs with the monitor's acquire load of depth_, so a worker it
  // takes comes with every write this machine made to it.
  void leave_runtime() noexcept {
    const std::uint32_t d = depth_.load(std::memory_order_relaxed);
    depth_.store(d - 1, std::memory_order_release);
    if (d == 1) race_ignore_end();
  }

  // This machine's thread: is it inside a runtime section (or on g0) now?
  bool in_runtime() const noexcept { return depth_.load(std::memory_order_relaxed) != 0; }
  // This machine's thread: the fiber it runs (null on g0).
  fiber* current() const noexcept { return current_; }
  // Any other thread (the monitor, dumps): the same, as published. Acquire:
  // pairs with enter()'s release store, so the reader sees the fiber's
  // creation-time fields.
  const fiber* running() const noexcept { return running_.load(std::memory_order_acquire); }
  // This machine's thread only (or the monitor, for a spare).
  worker* p() const noexcept { return p_; }
  runtime& rt() const noexcept { return rt_; }
  unsigned id() const noexcept { return id_; }

  // ---- for the monitor and the spare pool (runtime/machines.cpp) ----
  // The monitor, holding this machine's worker as k_retaking: the slow side
  // of the handshake (see above). True if the machine is inside a runtime
  // section, and then it keeps its worker; false: the worker is the
  // monitor's to hand on (retake_ stays set until the machine sees it).
  bool retake_refused(worker& p) noexcept;
  // The monitor: CPU time this machine's thread has used (ns), -1 if unknown.
  std::int64_t cpu_time_ns() const noexcept;
  // The monitor: is this machine's thread asleep in the kernel (a blocking
  // system call), as opposed to running or waiting for a CPU? From
  // /proc/self/task/<tid>/stat; false if unknown.
  bool sleeping_in_kernel() const noexcept;
  parker& spare_parker() noexcept { return spare_park_; }
  // The monitor: `f` has run on this machine without switching since
  // `since_ns` (published for dumps). Any thread: that time for `f`, or 0.
  void note_stall(const fiber* f, std::int64_t since_ns) noexcept {
    stall_since_.store(since_ns, std::memory_order_relaxed);
    stall_fiber_.store(f, std::memory_order_release);  // pairs with stalled_since()'s acquire
  }
  std::int64_t stalled_since(const fiber& f) const noexcept {
    if (stall_fiber_.load(std::memory_order_acquire) != &f || running() != &f) return 0;
    return stall_since_.load(std::memory_order_relaxed);
  }
  void give_worker(worker* p) noexcept { p_ = p; }
  std::thread& os_thread() noexcept { return thread_; }
  // The monitor, holding this machine's worker as k_retaking after
  // retake_refused() returned false, the fiber having computed past the
  // limit: lowers the thread's scheduling priority (nice + k_stuck_nice),
  // so that on an oversubscribed machine the kernel runs the queues' threads
  // first, as Go's preemption would. Only where restore_priority() can undo
  // it (see nice_restorable()). The machine cannot reach restore_priority()
  // before the worker has a new owner, which the monitor publishes after
  // this (release; the machine's retake_seen() acquires).
  void lower_priority() noexcept;
  // This machine's thread, on g0 after its stuck fiber switched out: undoes
  // lower_priority(), before it runs anything else.
  void restore_priority() noexcept;
  // This machine's thread, as it binds: remembers its nice value.
  void note_base_priority() noexcept;
  // This machine's thread: that value (threads it starts run at it).
  int base_nice() const noexcept { return base_nice_; }

  // ---- call stacks (runtime/sampler.cpp)
  // Any thread: the kernel's id of this machine's thread, 0 before it is known.
  int tid() const noexcept { return identified_.load(std::memory_order_acquire) ? tid_ : 0; }
  // Reports under the traceback lock, and this machine's signal handler.
  stack_sample& sample_slot() noexcept { return sample_; }
  // This machine's SIGQUIT handler, while it waits for the dump: the context
  // it interrupted (its fiber's), for a sample taken meanwhile. Null otherwise.
  void* quit_context() const noexcept { return quit_context_.load(std::memory_order_acquire); }
  void set_quit_context(void* uc) noexcept { quit_context_.store(uc, std::memory_order_release); }
  // This machine's thread: its fiber waits for the traceback lock (another
  // report holds it). Reports read it under that lock and leave such a fiber
  // unsampled: under TSan its thread, blocked in an intercepted lock, would
  // not answer the sample signal until the report ends.
  void set_awaiting_traceback(bool on) noexcept { awaiting_traceback_.store(on, std::memory_order_relaxed); }
  bool awaiting_traceback() const noexcept { return awaiting_traceback_.load(std::memory_order_relaxed); }

 private:
  enum class request : std::uint8_t { none, park, yield, exit };
  // Parks and yields in a row handed straight to a local fiber before one
  // goes through g0 (which runs due timers).
  static constexpr std::uint32_t k_max_handoffs = 16;
  // The fast side of the handshake: no fence (the monitor's membarrier is
  // the heavy side). TSan builds too: gort's objects are not instrumented.
  static constexpr std::memory_order k_dekker_order = std::memory_order_relaxed;
  friend void fiber_entry_(void*, void*);
  // This machine's thread, having just opened the outermost section.
  worker* entered_runtime() noexcept {
    race_ignore_begin();  // TSan: the runtime's work acts for nobody (see bind_thread)
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the light side of the barrier
    if (retake_.load(k_dekker_order)) [[unlikely]] return retake_seen();
    return p_;
  }
  [[noreturn]] static void switch_in_section() noexcept;
  worker* retake_seen() noexcept;
  void prepare_first_run(fiber* f);
  void enter(fiber* n);
  void save_eh(fiber* f) noexcept;
  void switched_out(fiber* f, void* ctx, request r) noexcept;
  static machine* handoff(machine* m, fiber* f, fiber* n, request r);
  static machine* arrived(fiber* self, boost::context::detail::transfer_t t) noexcept;
  void parked(fiber* f) noexcept;
  void yielded(fiber* f) noexcept;
  static void check_canary(fiber* f) noexcept;
  [[noreturn]] static void exit_current();
  void finish(fiber* f) noexcept;
  static machine* switch_out(machine* self, request r);
  static machine* resumed(machine* back) noexcept;
  void race_switched_in() noexcept;

  runtime& rt_;
  scheduler& sched_;
  const unsigned id_;
  worker* p_ = nullptr;
  fiber* current_ = nullptr;                 // this thread's view
  std::atomic<const fiber*> running_{nullptr};  // current_, published for other threads
  std::atomic<std::uint32_t> depth_{0};  // runtime sections open (g0 counts as one)
  std::atomic<bool> retake_{false};      // the monitor is taking, or took, p_
  void* g0_ctx_ = nullptr;  // the scheduler context, set each time g0 switches to a fiber
  // Why the last fiber switched out: read by g0, or with handoff_from_ by
  // the fiber it handed the machine to.
  request request_ = request::none;
  fiber* handoff_from_ = nullptr;  // set by handoff(), consumed by the arriving side
  // The parking fiber's unlock step (see runtime/park.hpp), set by
  // park_current() and run by whoever finishes the park on this machine (g0,
  // or the fiber it handed the machine to): kept here, not in the fiber, so
  // that a park writes no line of the fiber beyond its first.
  void (*unlock_fn_)(void*) = nullptr;
  void* unlock_arg_ = nullptr;
  void* eh_globals_ = nullptr;     // this thread's C++ exception globals
  // Sanitizers: g0's fake stack and stack bounds (ASan), g0's context (TSan).
  void* asan_fake_stack_ = nullptr;
  const void* g0_stack_bottom_ = nullptr;
  std::size_t g0_stack_size_ = 0;
  void* tsan_g0_ = nullptr;
  clockid_t cpu_clock_{};
  bool has_cpu_clock_ = false;
  int tid_ = 0;  // the kernel's id of this machine's thread
  // Set (release) once bind_thread() filled in cpu_clock_ and tid_; the
  // monitor reads them only after seeing it (acquire).
  std::atomic<bool> identified_{false};
  parker spare_park_;   // where it sleeps as a spare
  std::atomic<const fiber*> stall_fiber_{nullptr};  // the monitor's last stall note
  std::atomic<std::int64_t> stall_since_{0};
  stack_sample sample_;                    // see runtime/sampler.hpp
  std::atomic<void*> quit_context_{nullptr};
  std::atomic<bool> awaiting_traceback_{false};
  // The thread's nice value when it was bound, and whether lower_priority()
  // changed it (written by the monitor, read by this thread as above).
  int base_nice_ = 0;
  bool lowered_ = false;
  std::thread thread_;  // empty for machine 0 (the thread that called run)
};

// Any thread: the machine running on this thread, or null. Never cached by
// the compiler across a switch: a fiber may resume on another thread, so the
// thread-local is read afresh each time. On x86-64 that is two instructions
// in a volatile asm (the thread pointer is re-read, never reused from before
// a call); elsewhere an opaque call.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
}  // namespace gort::detail
// Initial-exec: in the static TLS block, so its offset from the thread
// pointer is the same on every thread. Written only by bind_thread() and
// unbind_thread(), which never read it back (the asm below declares no
// memory input, so the compiler would not order it after such a write).
extern "C" {
extern thread_local gort::detail::machine* gort_machine_tls __attribute__((tls_model("initial-exec")));
}
namespace gort::detail {
inline machine* machine_of_thread() noexcept {
  machine* m;
  asm volatile("movq gort_machine_tls@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(m));
  return m;
}
#define GORT_MACHINE_TLS_INLINE 1
#else
machine* machine_of_thread() noexcept;
#endif

// The calling fiber's machine and, inside the section this opens, the worker
// it owns (null: none). For gort calls made from fibers that touch the worker.
class runtime_section {
 public:
  explicit runtime_section(machine& m) noexcept : m_(m), p_(m.enter_runtime()) {}
  ~runtime_section() { m_.leave_runtime(); }
  runtime_section(const runtime_section&) = delete;
  runtime_section& operator=(const runtime_section&) = delete;
  worker* p() const noexcept { return p_; }

 private:
  machine& m_;
  worker* p_;
};

// Can a thread of this process raise its priority back to nice `base`
// after lowering it (CAP_SYS_NICE, or RLIMIT_NICE allows it)? Any thread.
bool nice_restorable(int base) noexcept;

}  // namespace gort::detail
