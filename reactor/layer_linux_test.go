//go:build linux && !reactor_netfallback

package reactor

import (
	"errors"
	"testing"
	"time"
)

// doubleLayer sends every byte twice: its wire is twice the handler's bytes.
type doubleLayer struct{ frameLayer }

func (d *doubleLayer) Encode(unit [][]byte) error {
	for _, b := range unit {
		d.io.DownCopy(b)
		d.io.DownCopy(b)
	}
	return nil
}

// TestLayerOutboundCountsWire: MaxOutbound counts the bytes a layer makes,
// not those the handler wrote: with a layer doubling them, a stalled peer
// closes the conn with ErrSlowConsumer after about half the limit.
func TestLayerOutboundCountsWire(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	open := r.open
	r.open = func(c *Conn) {
		c.PushLayer(&doubleLayer{})
		open(c)
	}
	const limit = 256 << 10
	e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: limit})
	dialSmallRcvBuf(t, addr) // never reads
	sc := <-opened
	chunk := make([]byte, 8000)
	accepted := 0
	var err error
	for i := 0; i < 10_000 && err == nil; i++ {
		if err = sc.Write(chunk); err != nil {
			break
		}
		accepted += len(chunk)
		// A unit counts its own length until the loop encodes it: let it.
		for after, deadline := sc.Outbound(), time.Now().Add(time.Second); sc.Outbound() == after && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("err = %v, want ErrSlowConsumer", err)
	}
	if accepted > limit*3/4 {
		t.Fatalf("accepted %d bytes before the limit; the doubled wire bytes were not counted", accepted)
	}
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrSlowConsumer) {
		t.Fatalf("OnClose err = %v", ev.err)
	}
	waitSettled(t, e)
}
