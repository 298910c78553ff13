// Hook points around every context switch, for AddressSanitizer and
// ThreadSanitizer fiber annotations. Without a sanitizer they compile to
// nothing. They are called in the same function as the jump (design.md §3).
#pragma once

namespace gort::detail {

struct fiber;
class worker;

// g0 -> fiber `to` (to != null) or fiber -> g0 of `w` (to == null).
inline void sanitizer_start_switch(fiber* /*to*/, worker* /*w*/ = nullptr) noexcept {}
// Arrived in fiber `self` (null: arrived on g0).
inline void sanitizer_finish_switch(fiber* /*self*/) noexcept {}
inline void sanitizer_create_fiber(fiber* /*f*/) noexcept {}
inline void sanitizer_destroy_fiber(fiber* /*f*/) noexcept {}

}  // namespace gort::detail
