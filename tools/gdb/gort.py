# gort's gdb extension: goroutine-style views of a gort program.
#
#   (gdb) source /path/to/gort.py        # or the installed share/gort/gdb/gort.py
#   (gdb) info gort-fibers               # id, state, wait reason, where, creator
#   (gdb) gort-bt 7                      # backtrace of fiber 7 from its saved context
#
# `break gort_debug_deadlock` stops a program at a detected deadlock with
# every fiber still parked. gort-bt needs a live process (it borrows the
# selected thread's registers for a moment and puts them back).
import gdb

_STATES = ["free", "runnable", "running", "waiting"]
_REASONS = [
    "running", "chan send", "chan receive", "chan send (nil chan)", "chan receive (nil chan)",
    "select", "select (no cases)", "sleep", "IO wait", "semacquire", "sync.Mutex.Lock",
    "sync.RWMutex.Lock", "sync.RWMutex.RLock", "sync.WaitGroup.Wait", "sync.Cond.Wait",
    "task join", "thread join", "blocking call",
]


def _atomic(v):
    """The value inside a libstdc++ std::atomic."""
    for name in ("_M_i", "_M_b"):
        try:
            inner = v[name]
        except gdb.error:
            continue
        if name == "_M_b":
            return inner["_M_p"]
        return inner
    return v


def _location(loc):
    # gort::location: file_, function_, line_ ("" and 0 when unknown).
    if int(loc["line_"]) == 0:
        return "?"
    return "%s:%d" % (loc["file_"].string(), int(loc["line_"]))


def _fcontext_layout():
    """The registers Boost.Context's jump_fcontext saves, as offsets into the
    frame a parked fiber's ctx_ points to, and the frame's size: read from the
    program's debug information (gort::detail::fcontext_frame), the same
    description gort's own unwinder uses."""
    try:
        t = gdb.lookup_type("gort::detail::fcontext_frame")
    except gdb.error:
        raise gdb.GdbError("gort: no gort::detail::fcontext_frame in the debug information (x86-64, built with -g)")
    fields = {f.name: f.bitpos // 8 for f in t.fields()}
    layout = {r: fields[r] for r in ("rbx", "rbp", "r12", "r13", "r14", "r15")}
    layout["rip"] = fields["rip"]
    return layout, t.sizeof


def _runtime():
    rt = _atomic(gdb.parse_and_eval("gort::detail::g_runtime"))
    if int(rt) == 0:
        raise gdb.GdbError("gort: no runtime is active (gort::run not running)")
    return rt.dereference()


def _fibers():
    """Every live fiber, sorted by id."""
    out = []
    chunk = _atomic(_runtime()["table_"]["chunks_"])
    while int(chunk) != 0:
        items = chunk["items"]
        for i in range(int(chunk["n"])):
            f = items[i]
            state = int(_atomic(f["state_"]))
            if _STATES[state] in ("runnable", "running", "waiting"):
                out.append(f)
        chunk = chunk["next"]
    out.sort(key=lambda f: int(f["id_"]))
    return out


def _find(fid):
    for f in _fibers():
        if int(f["id_"]) == fid:
            return f
    raise gdb.GdbError("gort: no live fiber %d" % fid)


class InfoGortFibers(gdb.Command):
    """List gort fibers: id, state or wait reason, where it blocked, creator."""

    def __init__(self):
        super().__init__("info gort-fibers", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        fibers = _fibers()
        print("%d fibers" % len(fibers))
        for f in fibers:
            state = _STATES[int(_atomic(f["state_"]))]
            reason = _REASONS[int(_atomic(f["reason_"]))]
            what = reason if state == "waiting" else state
            line = "goroutine %d [%s] at %s" % (int(f["id_"]), what, _location(f["blocked_at_"]))
            if not bool(f["is_main_"]):
                line += ", created by goroutine %d at %s" % (int(f["creator_id_"]), _location(f["created_at_"]))
            print(line)


class GortBacktrace(gdb.Command):
    """gort-bt N: backtrace of parked fiber N, from its saved context."""

    def __init__(self):
        super().__init__("gort-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            fid = int(arg)
        except ValueError:
            raise gdb.GdbError("usage: gort-bt FIBER-ID (got %r)" % arg)
        f = _find(fid)
        if _STATES[int(_atomic(f["state_"]))] == "running":
            raise gdb.GdbError("gort: fiber %d is running on a worker thread; use `thread apply all bt`" % fid)
        ctx = int(f["ctx_"])
        if ctx == 0:
            print("goroutine %d has not started yet (created at %s)" % (fid, _location(f["created_at_"])))
            return
        # The frame jump_fcontext left at the saved context, as gort's own
        # type describes it (runtime/fcontext_frame.hpp): the callee-saved
        # registers and the return address; the stack pointer resumes past it.
        ptr = gdb.lookup_type("unsigned long").pointer()
        layout, size = _fcontext_layout()
        regs = {name: int(gdb.Value(ctx + off).cast(ptr).dereference()) for name, off in layout.items()}
        regs["rsp"] = ctx + size
        frame = gdb.selected_frame()
        saved = {r: int(frame.read_register(r)) for r in regs}
        gdb.execute("select-frame 0", to_string=True)
        try:
            for r, v in regs.items():
                gdb.execute("set $%s = %d" % (r, v))
            print("goroutine %d:" % fid)
            gdb.execute("bt")
        finally:
            gdb.execute("select-frame 0", to_string=True)
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v))


InfoGortFibers()
GortBacktrace()
