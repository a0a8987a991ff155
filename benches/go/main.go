// Go counterparts of the goro benchmarks (see ../README.md).
//
// Usage: gobench yield N | spawn N | park N | echo ADDR
//
// Run with GOMAXPROCS=1 (the harness does). Each of the first three modes
// prints one line of key=value pairs on stdout, which the Rust harness
// parses. `echo` is the Go side of the echo-server benchmark: it prints
// `listening on ADDR procs=P` and serves until killed.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// yieldRun: two goroutines call runtime.Gosched n times each, so the
// processor goes A -> B -> A n times (n round trips). main waits on a
// WaitGroup (parked) meanwhile. Returns the elapsed time, spawn and wait
// included, exactly as the goro side measures it.
func yieldRun(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// spawnRun: n times, start a goroutine that only signals a WaitGroup, and
// wait for it: spawn + exit + join, one cycle at a time.
func spawnRun(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return time.Since(start)
}

// status reads VmRSS and VmPTE (KiB) from /proc/self/status.
func status() (rss, pte int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmPTE:":
			pte = v
		}
	}
	return
}

// park: n goroutines each block in a receive on one channel. started
// makes main wait until every one of them has run up to the receive; with
// GOMAXPROCS=1 a goroutine goes from started.Done() straight into the
// receive, where it parks, so when main resumes all n are parked.
func park(n int) {
	rss0, pte0 := status()
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			done.Done()
		}()
	}
	started.Wait()
	spawnNs := time.Since(t0).Nanoseconds()
	// Let anything still runnable reach its receive.
	for i := 0; i < 3; i++ {
		runtime.Gosched()
	}
	live := runtime.NumGoroutine()
	rss1, pte1 := status()
	t1 := time.Now()
	close(ch)
	done.Wait()
	teardownNs := time.Since(t1).Nanoseconds()
	fmt.Printf("procs=%d n=%d live=%d rss_before_kib=%d rss_alive_kib=%d pte_before_kib=%d pte_alive_kib=%d spawn_ns=%d teardown_ns=%d\n",
		runtime.GOMAXPROCS(0), n, live, rss0, rss1, pte0, pte1, spawnNs, teardownNs)
}

// echoServer: net.Listen, one goroutine per connection running a
// read/write loop with a 16 KiB buffer (what io.Copy does, minus its
// ReaderFrom/WriterTo detours). Go's net sets TCP_NODELAY on every
// connection. Exits by itself after 15 minutes as a safety net.
func echoServer(addr string) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobench echo:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s procs=%d\n", ln.Addr(), runtime.GOMAXPROCS(0))
	time.AfterFunc(15*time.Minute, func() { os.Exit(3) })
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: back off a little, keep serving.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 16*1024)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "echo" {
		echoServer(os.Args[2])
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gobench yield|spawn|park N | echo ADDR")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "gobench: bad N")
		os.Exit(2)
	}
	var run func(int) time.Duration
	switch os.Args[1] {
	case "yield":
		run = yieldRun
	case "spawn":
		run = spawnRun
	case "park":
		park(n)
		return
	default:
		fmt.Fprintln(os.Stderr, "gobench: unknown mode", os.Args[1])
		os.Exit(2)
	}
	// Warm-up pass (a tenth of the work), then the timed pass.
	run(n/10 + 1)
	d := run(n)
	fmt.Printf("procs=%d n=%d ns=%d ns_per_op=%.3f\n", runtime.GOMAXPROCS(0), n, d.Nanoseconds(), float64(d.Nanoseconds())/float64(n))
}
