// Go side of the channel benchmarks (benches/src/chan.rs):
//
//	gobench chanpingpong N   unbuffered ping-pong, ns per round trip
//	gobench chanbuffered N   N messages through a 128-slot channel
//
// Run with GOMAXPROCS=1 or 2 (the harness sets it). Like the other modes,
// each prints one line of key=value pairs: procs, n, ns (the timed pass,
// after a warm-up pass of n/10 in the same process), ns_per_op.
//
// These modes are dispatched from init(), before main.go's main() runs, so
// this file needs no change to main.go. The runtime locks the main goroutine
// to the main thread during package initialisation, which would make every
// switch a thread hand-off; so init runs the benchmark on a fresh goroutine
// (not locked) and only waits for it. (Moving the two cases into main.go's
// switch and deleting init gives the same figures.)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// chanPingPong: main sends i on ping and waits for the echo on pong; one
// goroutine echoes every value back. n round trips.
func chanPingPong(n int) time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	done := make(chan struct{})
	go func() {
		for v := range ping {
			pong <- v
		}
		close(done)
	}()
	rounds := func(n int) (sum int) {
		for i := 0; i < n; i++ {
			ping <- i
			sum += <-pong
		}
		return
	}
	rounds(n/10 + 1)
	start := time.Now()
	sum := rounds(n)
	d := time.Since(start)
	close(ping)
	<-done
	if sum != n*(n-1)/2 {
		panic("chanpingpong: wrong sum")
	}
	return d
}

// chanBuffered: a producer goroutine sends n values into a 128-slot
// channel, main receives them.
func chanBuffered(n int) time.Duration {
	pass := func(n int) (sum int) {
		ch := make(chan int, 128)
		go func() {
			for i := 0; i < n; i++ {
				ch <- i
			}
		}()
		for i := 0; i < n; i++ {
			sum += <-ch
		}
		return
	}
	pass(n/10 + 1)
	start := time.Now()
	sum := pass(n)
	d := time.Since(start)
	if sum != n*(n-1)/2 {
		panic("chanbuffered: wrong sum")
	}
	return d
}

func init() {
	if len(os.Args) != 3 {
		return
	}
	var run func(int) time.Duration
	switch os.Args[1] {
	case "chanpingpong":
		run = chanPingPong
	case "chanbuffered":
		run = chanBuffered
	default:
		return
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "gobench: bad N")
		os.Exit(2)
	}
	res := make(chan time.Duration)
	go func() { res <- run(n) }()
	d := <-res
	fmt.Printf("procs=%d n=%d ns=%d ns_per_op=%.3f\n", runtime.GOMAXPROCS(0), n, d.Nanoseconds(), float64(d.Nanoseconds())/float64(n))
	os.Exit(0)
}
