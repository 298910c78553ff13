// gort::signal: OS signals as channel messages or context cancellation (Go's
// os/signal: Notify, Stop, NotifyContext). Reference: docs/api.md, "Context,
// errgroup and signals".
//
//   gort::chan<int> sigs(1);
//   gort::signal::notify(sigs, {SIGINT, SIGTERM});
//   int sig = *sigs.recv();               // parks until Ctrl-C or kill
//
//   auto [ctx, stop] = gort::signal::notify_context(gort::background(), {SIGINT});
//   serve(ctx);                           // ctx is cancelled on SIGINT
//   stop();
//
// One async-signal-safe handler records the signal and wakes a service fiber
// of the runtime through a pipe and the netpoller; that fiber delivers it
// with a non-blocking send, so a full channel drops the signal (as Go does:
// give the channel a buffer) and nothing ever blocks the handler.
//
// Rules:
//   - notify, stop and notify_context need run() active (std::logic_error
//     otherwise). Registrations last until stop() or until that run()
//     returns; then the program's own dispositions are back.
//   - gort takes a signal over only while it is notified: a handler the
//     program installed is saved when the first registration for that
//     signal is made and restored when the last one goes.
//   - SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP (faults: the runtime's
//     stack-overflow report needs SIGSEGV), and SIGKILL and SIGSTOP (they
//     cannot be caught) are refused with std::invalid_argument, as is any
//     number that is not a signal. SIGQUIT may be notified: the runtime's
//     SIGQUIT dump is then off until the registration goes.
//   - While any registration exists, the deadlock check stays quiet: a
//     signal may still wake a fiber (Go behaves the same way).
#pragma once

#include <initializer_list>
#include <utility>

#include "gort/chan.hpp"
#include "gort/context.hpp"

namespace gort::signal {

// signal.Notify: from now on each listed signal is sent to `ch` (its number)
// without blocking: when `ch` is full the signal is dropped for it. An
// empty list means every signal that may be notified. Calling it again for
// the same channel adds signals. Throws std::invalid_argument for the nil
// channel or a signal that may not be notified (nothing is registered then).
void notify(send_chan<int> ch, std::initializer_list<int> signals);

// signal.Stop: no more signals for `ch` once it returns; signals nobody is
// notified of any more get their previous disposition back. Unknown channels
// are ignored.
void stop(send_chan<int> ch);

// signal.NotifyContext: a child of `parent` cancelled (context_errc::canceled)
// when one of `signals` arrives. The cancel_func (Go's stop) cancels it and
// unregisters the signals; call it when done.
std::pair<context, cancel_func> notify_context(const context& parent, std::initializer_list<int> signals);

}  // namespace gort::signal
