package chatload

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// filesScenario: concurrent uploads and downloads over the file port while
// a light chat load runs, to show that transfers do not delay chat.
type filesScenario struct {
	fs        *flag.FlagSet
	pairs     int
	sizeMB    int
	rounds    int
	chatPairs int
	chatRate  float64
	quiet     time.Duration

	quietPush stats.Summary // chat before the transfers started

	dir, src         string // the temp dir and the payload in it
	us               []*user
	clients          []*client.Client
	upTime, downTime atomic.Int64 // summed transfer durations
	wall, waited     time.Duration
}

// Summary implements Scenario.
func (s *filesScenario) Summary() string {
	return "concurrent uploads/downloads (MB/s) with chat latency measured during the transfers"
}

// Flags implements Scenario.
func (s *filesScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.pairs, "pairs", 4, "concurrent transfer pairs (one uploads, the other downloads)")
	fs.IntVar(&s.sizeMB, "size-mb", 16, "file size in MiB")
	fs.IntVar(&s.rounds, "rounds", 2, "files per pair")
	fs.IntVar(&s.chatPairs, "chat-pairs", 5, "pairs chatting during the transfers")
	fs.Float64Var(&s.chatRate, "chat-rate", 200, "chat messages per second over all chat pairs")
	fs.DurationVar(&s.quiet, "quiet", 5*time.Second, "how long the chat runs alone first, for the quiet p99 the transfers' p99 is compared with")
}

// Run implements Scenario.
func (s *filesScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	return runPhases(ctx, e, "files", s.fs, append([]string{"uploaded_bytes", "downloaded_bytes"}, sinkCounters...), append([]string{"upload", "download"}, sinkLatencies...), s)
}

// setup writes the payload, logs in the transfer pairs (users 0..nf-1)
// and the chat pairs (nf.., the sink's receivers) and probes the file port.
func (s *filesScenario) setup(ctx context.Context, t *trial) error {
	e := t.e
	dir, err := os.MkdirTemp("", "chatbench-files-*")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	t.deferred(func() { os.RemoveAll(dir) })
	s.dir = dir
	s.src = filepath.Join(dir, "payload.bin")
	if err := writeRandomFile(s.src, int64(s.sizeMB)<<20); err != nil {
		return err
	}

	nf, nc := 2*s.pairs, 2*s.chatPairs
	s.us = e.newUsers("f", nf+nc)
	if err := e.registerAll(ctx, s.us, 16); err != nil {
		return err
	}
	k := newSink(nc, t.run)
	t.sink = k
	s.clients = make([]*client.Client, nf+nc)
	t.deferred(func() { closeAll(s.clients) })
	ids := make([]atomic.Int64, nf+nc)
	if err := parallel(ctx, nf+nc, 16, func(ctx context.Context, i int) error {
		var push func(client.Push)
		if i >= nf {
			push = k.onPush(int32(i-nf), &ids[i])
		}
		c, _, err := e.connect(ctx, s.us[i], "bench", push)
		if err != nil {
			return err
		}
		s.clients[i] = c
		return nil
	}); err != nil {
		return err
	}
	if err := parallel(ctx, s.pairs+s.chatPairs, 16, func(ctx context.Context, p int) error {
		return befriend(ctx, s.clients[2*p], s.clients[2*p+1], s.us[2*p+1].ID)
	}); err != nil {
		return err
	}

	// Probe the file port with one small offer: a server without it
	// answers UNAVAILABLE, which is a finding, not a failure.
	if _, err := s.clients[0].FileOffer(ctx, protocol.FileOfferReq{ToUser: s.us[1].ID, Name: "probe", Size: 1,
		Sha256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}); err != nil {
		if pe := protocol.AsError(err); pe != nil && pe.Code == protocol.CodeUnavailable {
			t.rep.Note("the server's file port is not available (file.offer answered UNAVAILABLE): nothing measured")
			t.rep.AddFigure("file port available", 0, "bool", "")
			return errNothingToMeasure
		}
		return fmt.Errorf("file.offer probe: %w", err)
	}
	return nil
}

// load runs the transfers, with chat between the chat pairs alongside.
//
// The transfers' clients hash every file (before an upload, after a
// download): CPU-bound goroutines in this process, beside the chat
// receivers whose latency is the figure. With GOMAXPROCS at the core
// count, they held every P, and Go's scheduler let the receivers wait
// for a 10 ms preemption (and the network poller for sysmon), so the load
// generator measured its own delays: the chat p99 during transfers was
// 33-39 ms against one chatd, 10.5 ms with more Ps. During the load each
// transferring client gets a P of its own, so the kernel time-slices them
// with the receivers; chatd competes with more runnable threads, not fewer.
func (s *filesScenario) load(ctx context.Context, t *trial) {
	k, errs, run := t.sink, t.errs, t.run
	nf, nc := 2*s.pairs, 2*s.chatPairs
	if procs := runtime.GOMAXPROCS(0); procs < nf+2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(nf + 2))
	}
	chatCtx, chatCancel := context.WithCancel(ctx)
	chatDone := make(chan struct{})
	go func() {
		defer close(chatDone)
		load := loadShape{dur: 24 * time.Hour, rate: s.chatRate, inflight: 1, size: 64}
		load.drive(chatCtx, nc, func(ctx context.Context, i int) {
			to := []int32{int32(i ^ 1)}
			k.send(ctx, t.e, s.clients[nf+i], protocol.MsgSendReq{ToUser: s.us[nf+(i^1)].ID}, to, 64, errs)
		})
	}()
	// The same chat alone first: its p99 is what the transfers must not
	// raise by more than half. The histogram then restarts, so "push"
	// holds the transfers' time only.
	t.phase = "chat alone"
	select {
	case <-time.After(s.quiet):
	case <-ctx.Done():
	}
	s.quietPush = run.Latency("push").TakeInterval()
	t.phase = "transferring"
	start := time.Now()
	var wg sync.WaitGroup
	for p := 0; p < s.pairs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			up, down := s.clients[2*p], s.clients[2*p+1]
			for r := 0; r < s.rounds; r++ {
				t0 := time.Now()
				id, err := up.SendFile(ctx, client.Target{User: s.us[2*p+1].ID}, s.src, nil)
				if err != nil {
					errs.add(fmt.Errorf("upload: %w", err))
					return
				}
				d := time.Since(t0)
				s.upTime.Add(int64(d))
				run.Observe("upload", d)
				run.Add("uploaded_bytes", int64(s.sizeMB)<<20)
				t0 = time.Now()
				dest := filepath.Join(s.dir, fmt.Sprintf("got-%d-%d", p, r))
				if err := down.DownloadFile(ctx, id, dest, nil); err != nil {
					errs.add(fmt.Errorf("download: %w", err))
					return
				}
				d = time.Since(t0)
				s.downTime.Add(int64(d))
				run.Observe("download", d)
				run.Add("downloaded_bytes", int64(s.sizeMB)<<20)
				os.Remove(dest)
			}
		}(p)
	}
	wg.Wait()
	s.wall = time.Since(start)
	chatCancel()
	<-chatDone
}

func (s *filesScenario) verify(ctx context.Context, t *trial) {
	s.waited = t.sink.drain(ctx, 10*time.Second, 5*time.Second)
}

func (s *filesScenario) report(t *trial) {
	rep, run, wall := t.rep, t.run, s.wall
	rep.DurationS = wall.Seconds()
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	rep.AddFigure("file port available", 1, "bool", "")
	rep.AddFigure("uploaded", mb(run.Get("uploaded_bytes")), "MiB", "")
	rep.AddFigure("downloaded", mb(run.Get("downloaded_bytes")), "MiB", "")
	rep.AddFigure("aggregate transfer rate (up+down over wall time)", mb(run.Get("uploaded_bytes")+run.Get("downloaded_bytes"))/wall.Seconds(), "MiB/s", "")
	if d := time.Duration(s.upTime.Load()); d > 0 {
		rep.AddFigure("upload rate per transfer", mb(run.Get("uploaded_bytes"))/d.Seconds(), "MiB/s", "")
	}
	if d := time.Duration(s.downTime.Load()); d > 0 {
		rep.AddFigure("download rate per transfer", mb(run.Get("downloaded_bytes"))/d.Seconds(), "MiB/s", "")
	}
	if q := s.quietPush; q.Count > 0 {
		rep.AddFigure("chat push latency p99 before the transfers (quiet)", q.P99Ms, "ms", "")
	}
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("chat push latency p99 during transfers", sum.P99Ms, "ms", "")
		if q := s.quietPush; q.Count > 0 && q.P99Ms > 0 {
			rep.AddFigure("chat p99 during transfers / quiet p99", sum.P99Ms/q.P99Ms, "x", "<= 1.5")
		}
	}
	if n := t.errs.total(); n > 0 {
		rep.AddFigure("transfer or chat errors", float64(n), "errors", "== 0")
	}
	rep.Note("upload time includes the server's sha256 check; chat drain took %.2f s", s.waited.Seconds())
}

// writeRandomFile writes size random bytes to path and syncs them.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = rand.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		left -= n
	}
	// On disk before the quiet phase starts: the load generator's own
	// writeback must not land in either phase's chat latency.
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return errors.Join(fmt.Errorf("close %s", path), err)
	}
	return nil
}
