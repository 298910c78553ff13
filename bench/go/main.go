// gortbench: gort-bench's workloads written in Go (standard library only), the
// peer gort is measured against. Same CLI and same output line:
//
//	gortbench <workload> [--workers N] [--size N]   (N workers sets GOMAXPROCS; default 1)
//	BENCH name=<w> workers=<n> ops=<ops> ns_per_op=<x> check=<value>
//
// --size is the workload's size, as bench/cli.hpp defines it for every peer
// (default: the benchmark's). As in bench/gort_bench.cpp, only the workload is
// timed: runtime start-up and process exit are not. Each workload is defined
// in the comment above its function: spawn and yield (runtime core), skynet,
// pingpong, sieve and mpmc (channels), mutex (sync), balance and idle (the
// suite's own), the stall workloads, context, dump.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// result is what a workload measured: ops divides the time; check is its
// self-check value, printed as is. nsOverride, when set, replaces the timed
// ns/op (idle reports CPU time, not wall time).
type result struct {
	ops        uint64
	check      string
	nsOverride *float64
}

// requestedSize is --size, 0 when not given.
var requestedSize uint64

// sizeOr is --size if given, else d.
func sizeOr(d uint64) uint64 {
	if requestedSize != 0 {
		return requestedSize
	}
	return d
}

var workloads = map[string]func(workers int) result{
	"spawn":    spawn,
	"yield":    yield,
	"skynet":   skynet,
	"pingpong": pingpong,
	"sieve":    sieve,
	"mpmc":     mpmc,
	"mutex":    mutex,
	"balance":  balance,
	"idle":     idle,
	"stall_block":    stallBlock,
	"stall_spin":     stallSpin,
	"stall_pingpong": stallPingpong,
	"context":  contextCancel,
	"dump":     dump,
}

// spawn: 1,000,000 goroutines (--size) each doing wg.Done(); every 1000th adds its
// index to a shared sum. check = 499500000.
func spawn(int) result {
	n := int(sizeOr(1000000))
	var wg sync.WaitGroup
	var sum uint64
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			if i%1000 == 0 {
				atomic.AddUint64(&sum, uint64(i))
			}
			wg.Done()
		}(i)
	}
	wg.Wait()
	return result{ops: uint64(n), check: strconv.FormatUint(atomic.LoadUint64(&sum), 10)}
}

// yield: two goroutines each yielding (runtime.Gosched) 1,000,000 times (--size).
// ops = 2,000,000; check = the total number of yields.
func yield(int) result {
	n := int(sizeOr(1000000))
	var wg sync.WaitGroup
	var total uint64
	wg.Add(2)
	for f := 0; f < 2; f++ {
		go func() {
			var mine uint64
			for i := 0; i < n; i++ {
				runtime.Gosched()
				mine++
			}
			atomic.AddUint64(&total, mine)
			wg.Done()
		}()
	}
	wg.Wait()
	return result{ops: 2 * uint64(n), check: strconv.FormatUint(atomic.LoadUint64(&total), 10)}
}

// skynet: 1,000,000 leaves (--size, a power of 10), fan-out 10, one unbuffered result channel per
// parent. ops = 1,111,111 goroutines; check = 499999500000.
func skynetNode(out chan<- int64, num, size, div int64) {
	if size == 1 {
		out <- num
		return
	}
	rc := make(chan int64)
	for i := int64(0); i < div; i++ {
		go skynetNode(rc, num+i*(size/div), size/div, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	out <- sum
}

func skynet(int) result {
	leaves := int64(sizeOr(1000000))
	c := make(chan int64)
	go skynetNode(c, 0, leaves, 10)
	return result{ops: uint64(leaves*10-1) / 9, check: strconv.FormatInt(<-c, 10)}
}

// pingpong: two goroutines, two unbuffered channels of ints, 1,000,000 round
// trips (--size) (ping sends v, pong answers v+1). ops = round trips; check = the final
// value, 1000000.
func pingpong(int) result {
	n := int(sizeOr(1000000))
	ping, pong := make(chan int), make(chan int)
	done := make(chan int)
	go func() { // pong
		for v := range ping {
			pong <- v + 1
		}
	}()
	go func() { // ping
		v := 0
		for i := 0; i < n; i++ {
			ping <- v
			v = <-pong
		}
		close(ping)
		done <- v
	}()
	return result{ops: uint64(n), check: strconv.Itoa(<-done)}
}

// sieve: Go's concurrent prime sieve (a generator and one filter goroutine per
// prime over unbuffered channels), the first 1,000 primes (--size). ops = 1000; check =
// the 1000th prime, 7919. The goroutines are left blocked, as in Go's example.
func sieve(int) result {
	n := int(sizeOr(1000))
	generate := func(ch chan<- int) {
		for i := 2; ; i++ {
			ch <- i
		}
	}
	filter := func(in <-chan int, out chan<- int, prime int) {
		for {
			if i := <-in; i%prime != 0 {
				out <- i
			}
		}
	}
	ch := make(chan int)
	go generate(ch)
	prime := 0
	for i := 0; i < n; i++ {
		prime = <-ch
		ch1 := make(chan int)
		go filter(ch, ch1, prime)
		ch = ch1
	}
	return result{ops: uint64(n), check: strconv.Itoa(prime)}
}

// mpmc: one channel of capacity 1024, 4 producers each sending 1..2,500,000
// (--size), 4 consumers summing. ops = 10,000,000; check = 12500005000000.
func mpmc(int) result {
	const producers, consumers = 4, 4
	per := int64(sizeOr(2500000))
	ch := make(chan int64, 1024)
	var pwg, cwg sync.WaitGroup
	var total int64
	pwg.Add(producers)
	for p := 0; p < producers; p++ {
		go func() {
			for v := int64(1); v <= per; v++ {
				ch <- v
			}
			pwg.Done()
		}()
	}
	cwg.Add(consumers)
	for c := 0; c < consumers; c++ {
		go func() {
			var sum int64
			for v := range ch {
				sum += v
			}
			atomic.AddInt64(&total, sum)
			cwg.Done()
		}()
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	return result{ops: uint64(producers * per), check: strconv.FormatInt(atomic.LoadInt64(&total), 10)}
}

// mutex: 100 goroutines each incrementing a shared counter 100,000 times
// (--size) under sync.Mutex. ops = 10,000,000; check = 10000000.
func mutex(int) result {
	const fibers = 100
	per := int(sizeOr(100000))
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	wg.Add(fibers)
	for f := 0; f < fibers; f++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return result{ops: uint64(fibers * per), check: strconv.Itoa(counter)}
}

// splitmix64 is balance's generator; the C++ side uses the same one so that
// both run the same tasks.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// busy spins for d on the monotonic clock (the work never blocks or yields).
func busy(d time.Duration) {
	start := time.Now()
	for time.Since(start) < d {
	}
}

// balance: one goroutine spawns 100,000 tasks (--size) of 1-20 us of busy work, task i
// taking 1 + (the i-th splitmix64 output from seed 42) % 20 us. ops = 100,000
// tasks; check = the total work in us (the 2-worker speedup is ns_per_op at 1
// worker over ns_per_op at 2, computed by scripts/bench.sh).
func balance(int) result {
	n := int(sizeOr(100000))
	var wg sync.WaitGroup
	var total uint64
	wg.Add(1)
	go func() { // the spawner
		rng := splitmix64(42)
		wg.Add(n)
		for i := 0; i < n; i++ {
			us := 1 + rng.next()%20
			total += us
			go func() {
				busy(time.Duration(us) * time.Microsecond)
				wg.Done()
			}()
		}
		wg.Done()
	}()
	wg.Wait()
	return result{ops: uint64(n), check: strconv.FormatUint(total, 10)}
}

// cpuNanos is the process's user + system CPU time so far.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// idle: the runtime has nothing to do for 1 s (--size ms; main sleeps). ops = 1;
// ns_per_op = the CPU nanoseconds the process used meanwhile (the target is
// under 0.01 s); check = the milliseconds slept, 1000.
func idle(int) result {
	runtime.GC() // leave no GC work for the idle second
	ms := sizeOr(1000)
	before := cpuNanos()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	used := float64(cpuNanos() - before)
	return result{ops: 1, check: strconv.FormatUint(ms, 10), nsOverride: &used}
}

// lateness starts `workers` goroutines running stall(), sleeps `timer`, and
// reports how late it woke (wall time from before they started, minus timer).
func lateness(workers int, timer time.Duration, stall func()) result {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			stall()
			wg.Done()
		}()
	}
	time.Sleep(timer)
	late := float64(time.Since(t0) - timer)
	wg.Wait()
	return result{ops: 1, check: strconv.Itoa(int(timer / time.Millisecond)), nsOverride: &late}
}

// stall_block: `workers` goroutines each block their thread in nanosleep for
// --size ms (default 200); main sleeps 10 ms. ns_per_op = how late it woke;
// check = the timer's ms, 10.
func stallBlock(workers int) result {
	d := time.Duration(sizeOr(200)) * time.Millisecond
	return lateness(workers, 10*time.Millisecond, func() {
		ts := syscall.NsecToTimespec(int64(d))
		for syscall.Nanosleep(&ts, &ts) != nil {
		}
	})
}

// stall_spin: the same with goroutines that spin for --size ms; main sleeps
// 20 ms (check = 20).
func stallSpin(workers int) result {
	d := time.Duration(sizeOr(200)) * time.Millisecond
	return lateness(workers, 20*time.Millisecond, func() { busy(d) })
}

// stall_pingpong: `workers` goroutines spin until main is done; main runs
// --size ping-pong round trips (default 1,000,000) with a partner goroutine.
// ns_per_op = ns per round trip; check = the round trips.
func stallPingpong(workers int) result {
	n := int(sizeOr(1000000))
	var done atomic.Bool
	var spinners sync.WaitGroup
	for i := 0; i < workers; i++ {
		spinners.Add(1)
		go func() {
			for !done.Load() {
			}
			spinners.Done()
		}()
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	sum := 0
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong == i {
			sum++
		}
	}
	close(ping)
	done.Store(true)
	spinners.Wait()
	return result{ops: uint64(n), check: strconv.Itoa(sum)}
}

func isPowerOf10(v uint64) bool {
	for v >= 10 && v%10 == 0 {
		v /= 10
	}
	return v == 1
}

// context: 1,000,000 times, a child of a long-lived cancellable context is
// made (WithCancel, which links it into the parent) and cancelled at once
// with nobody waiting on it (which unlinks it). ops = 1,000,000; check = the
// children whose Err() was Canceled afterwards, 1000000.
func contextCancel(int) result {
	const n = 1000000
	parent, cancelParent := context.WithCancel(context.Background())
	canceled := 0
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(parent)
		cancel()
		if ctx.Err() == context.Canceled {
			canceled++
		}
	}
	cancelParent()
	return result{ops: n, check: strconv.Itoa(canceled)}
}

func usage() {
	names := make([]string, 0, len(workloads))
	for name := range workloads {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: gortbench <workload> [--workers N] [--size N]\nworkloads:")
	for _, name := range names {
		fmt.Fprintf(os.Stderr, " %s", name)
	}
	fmt.Fprintln(os.Stderr)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	name := os.Args[1]
	workers := 1
	for i := 2; i < len(os.Args); i++ {
		a := os.Args[i]
		if a == "--workers" && i+1 < len(os.Args) {
			i++
			v, err := strconv.Atoi(os.Args[i])
			if err != nil || v <= 0 || v > 1024 {
				fmt.Fprintf(os.Stderr, "gortbench: --workers \"%s\" is not a number from 1 to 1024\n", os.Args[i])
				os.Exit(2)
			}
			workers = v
		} else if a == "--size" && i+1 < len(os.Args) {
			i++
			v, err := strconv.ParseUint(os.Args[i], 10, 64)
			if err != nil || v < 1 || v > 1000000000 {
				fmt.Fprintf(os.Stderr, "gortbench: --size \"%s\" is not a number from 1 to 1000000000\n", os.Args[i])
				os.Exit(2)
			}
			requestedSize = v
		} else {
			fmt.Fprintf(os.Stderr, "gortbench: unknown argument \"%s\"\n", a)
			usage()
		}
	}
	fn, ok := workloads[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "gortbench: unknown workload \"%s\"\n", name)
		usage()
	}
	if name == "skynet" && requestedSize != 0 && !isPowerOf10(requestedSize) {
		fmt.Fprintf(os.Stderr, "gortbench: --size \"%d\" for skynet is not a power of 10\n", requestedSize)
		os.Exit(2)
	}
	runtime.GOMAXPROCS(workers)
	t0 := time.Now()
	r := fn(workers)
	ns := float64(time.Since(t0).Nanoseconds())
	perOp := 0.0
	if r.ops > 0 {
		perOp = ns / float64(r.ops)
	}
	if r.nsOverride != nil {
		perOp = *r.nsOverride / float64(r.ops)
	}
	fmt.Printf("BENCH name=%s workers=%d ops=%d ns_per_op=%.2f check=%s\n", name, workers, r.ops, perOp, r.check)
}

// dumpWait is where dump's goroutines park, two calls below their entry.
//
//go:noinline
func dumpWait(gate chan struct{}, started *sync.WaitGroup) {
	started.Done()
	<-gate
}

//go:noinline
func dumpGoroutine(gate chan struct{}, started *sync.WaitGroup) {
	dumpWait(gate, started)
}

// dump: 10,000 goroutines (--size) parked on a channel; one dump of every
// goroutine's stack into memory (runtime.Stack with all=true), the first of
// the process. ops = 1; ns_per_op = the dump's wall time; check = the
// goroutines parked, 10000.
func dump(int) result {
	n := int(sizeOr(10000))
	gate := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			dumpGoroutine(gate, &started)
			finished.Done()
		}()
	}
	started.Wait()
	buf := make([]byte, 256<<20)
	t0 := time.Now()
	k := runtime.Stack(buf, true)
	ns := float64(time.Since(t0).Nanoseconds())
	close(gate)
	finished.Wait()
	if k == len(buf) || !strings.Contains(string(buf[:k]), "dumpWait") {
		panic("dump: the dump is cut or names no parked goroutine's frame")
	}
	return result{ops: 1, check: strconv.Itoa(n), nsOverride: &ns}
}
