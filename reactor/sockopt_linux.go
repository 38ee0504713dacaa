//go:build linux && !reactor_netfallback

package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// tuneConn sets the options every connection gets: TCP_NODELAY (frames are
// batched by writev already, Nagle would only add latency) and, in tests, a
// tiny send buffer.
func tuneConn(fd int, sndBuf int) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if sndBuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBuf)
	}
}

// sockaddrOf converts ap to a unix.Sockaddr and its address family.
func sockaddrOf(ap netip.AddrPort) (unix.Sockaddr, int) {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, unix.AF_INET
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	return sa, unix.AF_INET6
}

// resolveTCP turns network and addr into one address, using the resolver
// only when addr is not an IP literal.
func resolveTCP(ctx context.Context, network, addr string) (netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return netip.AddrPort{}, fmt.Errorf("reactor: unsupported network %q", network)
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reactor: address %q: %w", addr, err)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reactor: port %q: %w", portStr, err)
	}
	if host == "" {
		if network == "tcp6" {
			return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
		}
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	want := "ip"
	switch network {
	case "tcp4":
		want = "ip4"
	case "tcp6":
		want = "ip6"
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, want, host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reactor: resolve %q: %w", host, err)
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("reactor: resolve %q: no addresses", host)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip // prefer IPv4, which every loopback setup has
			break
		}
	}
	return netip.AddrPortFrom(best, uint16(port)), nil
}

// listenSocket creates a bound, listening, non-blocking socket; an IPv6
// one also accepts IPv4 clients when dual is set, and only IPv6 ones
// otherwise.
func listenSocket(ap netip.AddrPort, reusePort, dual bool) (int, error) {
	fd, err := bindSocket(ap, reusePort, dual)
	if err != nil {
		return -1, err
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// bindSocket creates a bound, non-blocking socket, not yet listening.
func bindSocket(ap netip.AddrPort, reusePort, dual bool) (int, error) {
	sa, family := sockaddrOf(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("setsockopt IPV6_V6ONLY", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("setsockopt SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	return fd, nil
}

// claimAddr binds a probe socket to ap without SO_REUSEPORT and closes it
// without listening: the bind fails with EADDRINUSE when any socket already
// listens there, even a SO_REUSEPORT group another process formed, which
// SO_REUSEPORT listeners of our own would otherwise join. It returns the
// address to listen on (a port 0 resolved to the probe's port) and whether
// it is still dual-stack (false when the system has no IPv6). Another
// process could still bind in the instant between the probe and our
// listeners; a second start of the same server is the case it catches.
func claimAddr(ap netip.AddrPort, dual bool) (netip.AddrPort, bool, error) {
	fd, err := bindSocket(ap, false, dual)
	if err != nil && dual && errors.Is(err, unix.EAFNOSUPPORT) {
		ap, dual = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()), false
		fd, err = bindSocket(ap, false, dual)
	}
	if err != nil {
		return ap, dual, err
	}
	defer unix.Close(fd)
	bound, err := boundAddr(fd)
	if err != nil {
		return ap, dual, err
	}
	return netip.AddrPortFrom(ap.Addr(), bound.Port()), dual, nil
}

// boundAddr returns the address the kernel bound fd to.
func boundAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, os.NewSyscallError("getsockname", err)
	}
	r := rawFromSockaddr(sa)
	return r.tcpAddr().(*net.TCPAddr).AddrPort(), nil
}
