package chatload

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
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
}

// Run implements Scenario.
func (s *filesScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("files", e, s.fs)
	run := stats.NewRun(append([]string{"uploaded_bytes", "downloaded_bytes"}, sinkCounters...), append([]string{"upload", "download"}, sinkLatencies...))
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()

	dir, err := os.MkdirTemp("", "chatbench-files-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "payload.bin")
	if err := writeRandomFile(src, int64(s.sizeMB)<<20); err != nil {
		return nil, err
	}

	nf, nc := 2*s.pairs, 2*s.chatPairs
	us := e.newUsers("f", nf+nc)
	if err := e.registerAll(ctx, us, 16); err != nil {
		return nil, err
	}
	k := newSink(nc, run)
	clients := make([]*client.Client, nf+nc)
	defer closeAll(clients)
	ids := make([]atomic.Int64, nf+nc)
	if err := parallel(ctx, nf+nc, 16, func(ctx context.Context, i int) error {
		var push func(client.Push)
		if i >= nf {
			push = k.onPush(int32(i-nf), &ids[i])
		}
		c, _, err := e.connect(ctx, us[i], "bench", push)
		if err != nil {
			return err
		}
		clients[i] = c
		return nil
	}); err != nil {
		return nil, err
	}
	if err := parallel(ctx, s.pairs+s.chatPairs, 16, func(ctx context.Context, p int) error {
		return befriend(ctx, clients[2*p], clients[2*p+1], us[2*p+1].ID)
	}); err != nil {
		return nil, err
	}

	// Probe the file port with one small offer: a server without it
	// answers UNAVAILABLE, which is a finding, not a failure.
	if _, err := clients[0].FileOffer(ctx, protocol.FileOfferReq{ToUser: us[1].ID, Name: "probe", Size: 1,
		Sha256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}); err != nil {
		if pe := protocol.AsError(err); pe != nil && pe.Code == protocol.CodeUnavailable {
			stop()
			rep.Note("the server's file port is not available (file.offer answered UNAVAILABLE): nothing measured")
			rep.AddFigure("file port available", 0, "bool", "")
			return rep, nil
		}
		return nil, fmt.Errorf("file.offer probe: %w", err)
	}

	phase = "transferring"
	run.Restart()
	start := time.Now()
	chatCtx, chatCancel := context.WithCancel(ctx)
	chatDone := make(chan struct{})
	go func() {
		defer close(chatDone)
		load := loadShape{dur: 24 * time.Hour, rate: s.chatRate, inflight: 1, size: 64}
		load.drive(chatCtx, nc, func(ctx context.Context, i int) {
			to := []int32{int32(i ^ 1)}
			k.send(ctx, e, clients[nf+i], protocol.MsgSendReq{ToUser: us[nf+(i^1)].ID}, to, 64, errs)
		})
	}()
	var wg sync.WaitGroup
	var upTime, downTime atomic.Int64
	for p := 0; p < s.pairs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			up, down := clients[2*p], clients[2*p+1]
			for r := 0; r < s.rounds; r++ {
				t0 := time.Now()
				id, err := up.SendFile(ctx, client.Target{User: us[2*p+1].ID}, src, nil)
				if err != nil {
					errs.add(fmt.Errorf("upload: %w", err))
					return
				}
				d := time.Since(t0)
				upTime.Add(int64(d))
				run.Observe("upload", d)
				run.Add("uploaded_bytes", int64(s.sizeMB)<<20)
				t0 = time.Now()
				dest := filepath.Join(dir, fmt.Sprintf("got-%d-%d", p, r))
				if err := down.DownloadFile(ctx, id, dest, nil); err != nil {
					errs.add(fmt.Errorf("download: %w", err))
					return
				}
				d = time.Since(t0)
				downTime.Add(int64(d))
				run.Observe("download", d)
				run.Add("downloaded_bytes", int64(s.sizeMB)<<20)
				os.Remove(dest)
			}
		}(p)
	}
	wg.Wait()
	wall := time.Since(start)
	chatCancel()
	<-chatDone
	phase = "draining"
	waited := k.drain(ctx, 10*time.Second, 5*time.Second)
	stop()

	rep.DurationS = wall.Seconds()
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	rep.AddFigure("file port available", 1, "bool", "")
	rep.AddFigure("uploaded", mb(run.Get("uploaded_bytes")), "MiB", "")
	rep.AddFigure("downloaded", mb(run.Get("downloaded_bytes")), "MiB", "")
	rep.AddFigure("aggregate transfer rate (up+down over wall time)", mb(run.Get("uploaded_bytes")+run.Get("downloaded_bytes"))/wall.Seconds(), "MiB/s", "")
	if t := time.Duration(upTime.Load()); t > 0 {
		rep.AddFigure("upload rate per transfer", mb(run.Get("uploaded_bytes"))/t.Seconds(), "MiB/s", "")
	}
	if t := time.Duration(downTime.Load()); t > 0 {
		rep.AddFigure("download rate per transfer", mb(run.Get("downloaded_bytes"))/t.Seconds(), "MiB/s", "")
	}
	finish(rep, run, errs, k.led)
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("chat push latency p99 during transfers", sum.P99Ms, "ms", "<= 25")
	}
	if errs.total() > 0 {
		rep.AddFigure("transfer or chat errors", float64(errs.total()), "errors", "== 0")
	}
	rep.Note("upload time includes the server's sha256 check; chat drain took %.2f s", waited.Seconds())
	return rep, nil
}

// writeRandomFile writes size random bytes to path.
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
	if err := f.Close(); err != nil {
		return errors.Join(fmt.Errorf("close %s", path), err)
	}
	return nil
}
