package client

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/chatd/chatd/protocol"
)

// Discover sends the LAN discovery datagram to addr (a broadcast address
// such as "255.255.255.255:9002" or a unicast "host:9002") and collects the
// distinct answers until ctx ends or wait passes.
func Discover(ctx context.Context, addr string, wait time.Duration) ([]protocol.DiscoverReply, error) {
	raddr, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("client: discover: %w", err)
	}
	pc, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return nil, fmt.Errorf("client: discover: %w", err)
	}
	defer pc.Close()
	if raddr.IP.Equal(net.IPv4bcast) {
		_ = setBroadcast(pc)
	}
	if _, err := pc.WriteToUDP([]byte(protocol.DiscoverRequest), raddr); err != nil {
		return nil, fmt.Errorf("client: discover: send to %s: %w", addr, err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = pc.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Now()) })
	defer stop()
	var out []protocol.DiscoverReply
	seen := map[string]bool{}
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFromUDP(buf)
		if err != nil {
			return out, nil // the deadline ends the collection
		}
		var r protocol.DiscoverReply
		if protocol.DecodeBody(buf[:n], &r) != nil {
			continue
		}
		// An unspecified chat host means the answering machine.
		if h, p, err := net.SplitHostPort(r.ChatAddr); err == nil {
			if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
				r.ChatAddr = net.JoinHostPort(from.IP.String(), p)
			}
		}
		if !seen[r.ChatAddr] {
			seen[r.ChatAddr] = true
			out = append(out, r)
		}
	}
}
