package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/stats"
)

// handshakeOnce dials, completes a TLS handshake with cfg, exchanges one
// echoed byte (which also takes in a TLS 1.3 session ticket) and closes.
func handshakeOnce(addr string, cfg *tls.Config) (resumed bool, err error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	c := tls.Client(nc, cfg)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return false, fmt.Errorf("handshake: %w", err)
	}
	if _, err := c.Write([]byte{'h'}); err != nil {
		return false, err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}

// handshakers runs n goroutines doing handshakeOnce until stop, each with
// its own session cache when resume is set (primed by one full handshake
// before start is closed). It returns a wait function giving the counts.
func handshakers(addr string, n int, resume bool, stop *atomic.Bool, start chan struct{}) func() (done, resumed, failed int64, firstErr string) {
	var wg sync.WaitGroup
	var ok, res, bad atomic.Int64
	var first atomic.Value
	var primed sync.WaitGroup
	for range n {
		wg.Add(1)
		primed.Add(1)
		go func() {
			defer wg.Done()
			cfg := &tls.Config{InsecureSkipVerify: true}
			if resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				_, _ = handshakeOnce(addr, cfg)
			}
			primed.Done()
			<-start
			for !stop.Load() {
				r, err := handshakeOnce(addr, cfg)
				if err != nil {
					bad.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				if r {
					res.Add(1)
				}
			}
		}()
	}
	primed.Wait()
	return func() (int64, int64, int64, string) {
		wg.Wait()
		s, _ := first.Load().(string)
		return ok.Load(), res.Load(), bad.Load(), s
	}
}

// runHandshake measures full (or with -resume, resumed) TLS handshakes per
// second with -conns handshakes in flight, and server CPU per handshake.
func runHandshake(ctx context.Context, cfg config) (result, error) {
	var res result
	var stop atomic.Bool
	start := make(chan struct{})
	wait := handshakers(cfg.Addr, cfg.Conns, cfg.Resume, &stop, start)
	pr, err := startProbe(cfg.PID)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	close(start)
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
	}
	stop.Store(true)
	done, resumed, failed, first := wait()
	elapsed := time.Since(t0)
	res.Seconds, res.Messages, res.Resumed, res.Errors, res.FirstError = elapsed.Seconds(), done, resumed, failed, first
	res.MsgsPerSec = float64(done) / elapsed.Seconds()
	if err := pr.finish(&res); err != nil {
		return res, err
	}
	if done == 0 {
		return res, errors.New("handshake: none completed: " + first)
	}
	return res, nil
}

// floodChildEnv marks a loadgen started by -flood-process (tests re-run
// their own binary as loadgen with it).
const floodChildEnv = "LOADGEN_FLOOD_CHILD"

// floodProcess starts a child loadgen doing full handshakes at addr with n
// in flight for d, and returns a wait function giving its counts.
func floodProcess(ctx context.Context, addr string, n int, d time.Duration) (func() (done, failed int64, firstErr string), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("flood process: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "-mode", "handshake", "-addr", addr, "-conns", strconv.Itoa(n), "-duration", d.String())
	cmd.Env = append(os.Environ(), floodChildEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("flood process: %w", err)
	}
	return func() (int64, int64, string) {
		var r result
		err := cmd.Wait()
		if err == nil {
			lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
			err = json.Unmarshal(lines[len(lines)-1], &r)
		}
		if err != nil {
			return 0, 1, "flood process: " + err.Error()
		}
		return r.Messages, r.Errors, r.FirstError
	}, nil
}

// runFlood measures ping round trips on -conns established TLS connections
// (one 64-byte ping per connection every -interval): first quiet for
// -duration, then for -duration while -flood goroutines do full handshakes
// back to back (at -flood-addr if set, in a child process with
// -flood-process). p99_us is the flood figure, quiet_p99_us the quiet one.
func runFlood(ctx context.Context, cfg config) (result, error) {
	var res result
	conns, err := dialAll(ctx, cfg.Addr, cfg.Conns, cfg.Dialers, false)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)
	var phase atomic.Int32 // 0 quiet, 1 flood, 2 stop
	lat := [2]*stats.Latency{stats.NewLatency(), stats.NewLatency()}
	var wg sync.WaitGroup
	var failed atomic.Int64
	var first atomic.Value
	msg := make([]byte, 64)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(msg))
			// Spread the pings over the interval.
			time.Sleep(cfg.Interval * time.Duration(i) / time.Duration(len(conns)))
			tick := time.NewTicker(cfg.Interval)
			defer tick.Stop()
			for range tick.C {
				p := phase.Load()
				if p == 2 {
					return
				}
				t := time.Now()
				_ = c.SetDeadline(t.Add(10 * time.Second))
				_, err := c.Write(msg)
				if err == nil {
					_, err = io.ReadFull(c, buf)
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					return
				}
				if phase.Load() == p { // a ping that straddles phases counts in neither
					lat[p].Record(time.Since(t))
				}
			}
		}()
	}
	sleep := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	sleep(cfg.Duration)
	floodAddr := cmp.Or(cfg.FloodAddr, cfg.Addr)
	var stop atomic.Bool
	var wait func() (done, failed int64, firstErr string)
	if cfg.FloodProcess {
		if wait, err = floodProcess(ctx, floodAddr, cfg.Flood, cfg.Duration); err != nil {
			phase.Store(2)
			wg.Wait()
			return res, err
		}
	} else {
		start := make(chan struct{})
		waitIn := handshakers(floodAddr, cfg.Flood, false, &stop, start)
		close(start)
		wait = func() (int64, int64, string) {
			done, _, failed, first := waitIn()
			return done, failed, first
		}
	}
	phase.Store(1)
	t0 := time.Now()
	sleep(cfg.Duration)
	phase.Store(2)
	stop.Store(true)
	done, hsFailed, hsFirst := wait()
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	res.Messages = lat[0].Count() + lat[1].Count()
	res.Handshakes = done
	res.MsgsPerSec = float64(done) / res.Seconds // handshakes/s during the flood
	res.QuietP99us, res.P99us, res.P50us, res.MaxUs = lat[0].Micros(99), lat[1].Micros(99), lat[1].Micros(50), int64(lat[1].Summary().MaxMs*1000)
	res.Errors = failed.Load() + hsFailed
	if s, ok := first.Load().(string); ok {
		res.FirstError = s
	} else if hsFirst != "" {
		res.FirstError = hsFirst
	}
	if lat[0].Count() == 0 || lat[1].Count() == 0 {
		return res, errors.New("flood: no ping completed: " + res.FirstError)
	}
	return res, nil
}
