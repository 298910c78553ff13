// Clang's thread-safety annotations behind GORT_ macros: which lock guards a
// field, which functions need a lock held. Checked by the clang build
// (-Wthread-safety, an error there); empty for other compilers.
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html
#pragma once

#if defined(__clang__)
#define GORT_TSA(x) __attribute__((x))
#else
#define GORT_TSA(x)
#endif

// A type that is a lock.
#define GORT_CAPABILITY(name) GORT_TSA(capability(name))
// An RAII type that holds a lock for its lifetime.
#define GORT_SCOPED_CAPABILITY GORT_TSA(scoped_lockable)
// A field read or written only with `lock` held.
#define GORT_GUARDED_BY(lock) GORT_TSA(guarded_by(lock))
// A pointer whose target is read or written only with `lock` held.
#define GORT_PT_GUARDED_BY(lock) GORT_TSA(pt_guarded_by(lock))
// A function the caller calls with these locks held (and still held after).
#define GORT_REQUIRES(...) GORT_TSA(requires_capability(__VA_ARGS__))
// A function the caller calls WITHOUT these locks held.
#define GORT_EXCLUDES(...) GORT_TSA(locks_excluded(__VA_ARGS__))
// A function that takes / releases the lock (this object's, if none given).
#define GORT_ACQUIRE(...) GORT_TSA(acquire_capability(__VA_ARGS__))
#define GORT_RELEASE(...) GORT_TSA(release_capability(__VA_ARGS__))
// A function that takes the lock when it returns `result`.
#define GORT_TRY_ACQUIRE(...) GORT_TSA(try_acquire_capability(__VA_ARGS__))
// A function whose locking the analysis cannot follow (a lock released on the
// other side of a fiber switch, locks taken in a loop over a set); each use
// says why in a comment.
#define GORT_NO_THREAD_SAFETY_ANALYSIS GORT_TSA(no_thread_safety_analysis)
