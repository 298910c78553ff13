// Go-shaped fatal errors: one message to stderr, exit status 2, no unwinding.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace gort::detail {

struct fiber;

// Writes all of `s` to stderr (async-signal-safe: plain write(2)).
void write_stderr(std::string_view s) noexcept;
// _exit(code). Every fatal path ends here. Under TSan the exit is made from
// a fresh context: the runtime's own (g0, a runtime section) has its
// ignores open, and TSan's exit check would turn a fatal error's status 2
// into its own 66.
[[noreturn]] void exit_now(int code) noexcept;
// "fatal error: <msg>" and exit 2.
[[noreturn]] void fatal(std::string_view msg) noexcept;
// "fatal error: <what>: <strerror(errno)>" and exit 2.
[[noreturn]] void fatal_errno(const char* what) noexcept;
// An exception escaped a go() fiber: "panic: <what()>" plus the fiber's block,
// exit 2 (Go's unrecovered panic). `at_throw`: called where it was thrown
// (std::terminate's handler), so the block shows the stack there.
[[noreturn]] void panic(const fiber& f, std::exception_ptr e, bool at_throw) noexcept;
// Makes an exception escaping a go() fiber call panic() from std::terminate,
// where the throw site is still on the stack (once per process; chains the
// handler that was there). True while that handler is std::terminate's:
// run_fiber_body then lets such exceptions escape instead of catching them.
void install_terminate_handler() noexcept;
bool panics_at_throw() noexcept;
// Stack overflow in `f` (from the SIGSEGV handler or the canary check).
[[noreturn]] void stack_overflow(const fiber& f) noexcept;

// The fiber id holding the lock `f` waits for, or 0.
std::uint64_t wait_holder_of(const fiber& f) noexcept;

// "250 ms", "12 s", "3 minutes": how long a fiber has run or waited.
std::string duration_text(std::int64_t ns);

// Installs the SIGSEGV handler that turns guard-page faults into the stack
// overflow report (once per process; not under sanitizers).
void install_overflow_handler() noexcept;
// The calling worker thread: gives it an alternate signal stack.
void enter_signal_stack() noexcept;
void leave_signal_stack() noexcept;

}  // namespace gort::detail
