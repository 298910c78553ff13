// A program that deadlocks inside a chain of named functions, for the call
// stack tests (tests/traceback_test.cpp). Built twice: with debug
// information (function names and file:line from DWARF) and without it
// (names from the symbol table, `function+0x1d` and `binary+0x1234`).
#include "gort/gort.hpp"

// Not inlined, and not tail calls (the asm after each call): every function
// keeps its frame, so the stack shows the whole chain.
__attribute__((noinline)) void traceback_inner(gort::chan<int>& never) {
  never.recv();
  asm volatile("");
}

__attribute__((noinline)) void traceback_middle(gort::chan<int>& never) {
  traceback_inner(never);
  asm volatile("");
}

__attribute__((noinline)) void traceback_outer(gort::chan<int>& never) {
  traceback_middle(never);
  asm volatile("");
}

int main() {
  return gort::run([] {
    gort::chan<int> never;
    traceback_outer(never);
    return 0;
  });
}
