// switch_fcontext: Boost.Context's jump_fcontext, resuming by a return.
//
// jump_fcontext saves the callee-saved registers into the frame of
// runtime/fcontext_frame.hpp, loads the target's, and continues at the
// target's saved return address with an indirect jump. The call into it
// pushes an entry on the CPU's return-address predictor that no return ever
// pops: after every switch, each return of the resumed fiber is predicted
// from the other fiber's call chain, off by one level, and mispredicts.
//
// switch_fcontext is the same switch, with the same frame (a context saved by
// either resumes with either), ending in `ret` instead: the predictor stays
// balanced, and when the target parked at the same place as the caller (two
// fibers handing a machine back and forth, a pipeline of identical stages)
// the resume and every return after it are predicted. Where the target
// stopped elsewhere (g0, a fiber's first run) the `ret` mispredicts once
// where jump_fcontext's indirect jump is predicted from its history, so the
// runtime uses it only between fibers that already ran (machine::handoff).
// Measured at 1 worker (alternating runs): yield 20.4 -> 15.7 ns, pingpong
// 84.7 -> 76.6 ns, sieve 36.7 -> 30.8 us a prime; spawn and skynet unchanged.
//
// x86-64 System V (ELF) only; elsewhere it is jump_fcontext.
#pragma once

#include <boost/context/detail/fcontext.hpp>

#if defined(__x86_64__) && defined(__ELF__)
extern "C" boost::context::detail::transfer_t gort_switch_fcontext(boost::context::detail::fcontext_t to,
                                                                  void* data);
#endif

namespace gort::detail {

// Any fiber or g0, inside a runtime section: switches to context `to`,
// passing `data`; returns when something switches back (see above).
inline boost::context::detail::transfer_t switch_fcontext(boost::context::detail::fcontext_t to,
                                                          void* data) noexcept {
#if defined(__x86_64__) && defined(__ELF__)
  return gort_switch_fcontext(to, data);
#else
  return boost::context::detail::jump_fcontext(to, data);
#endif
}

}  // namespace gort::detail
