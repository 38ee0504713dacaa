// Command tls-nbio is the bench's echo server on nbio with TLS through its
// tls extension (lesismal/llib's patched copy of crypto/tls, handshakes on
// the poller goroutines). Only -mode echo. It has no test: under the race
// detector (make test) nbio v1.6.8's TLS extension reports a data race of
// its own (llib v1.2.2 std/crypto/tls Conn.Append against the poller's
// read), so only bench/tls.sh runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	ltls "github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	ntls "github.com/lesismal/nbio/extension/tls"

	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/tlscert"
)

func main() { srvmain.Main("tls-nbio", serve) }

func serve(ctx context.Context, cfg srvmain.Config) error {
	if cfg.Mode != srvmain.ModeEcho {
		return errors.New("tls-nbio: only -mode echo")
	}
	certPEM, keyPEM, err := tlscert.PEM()
	if err != nil {
		return err
	}
	cert, err := ltls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("tls-nbio: %w", err)
	}
	tcfg := &ltls.Config{Certificates: []ltls.Certificate{cert}}
	eng := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{cfg.Addr()}, NPoller: cfg.Loops})
	eng.OnOpen(ntls.WrapOpen(tcfg, false, nil))
	eng.OnClose(ntls.WrapClose(nil))
	eng.OnData(ntls.WrapData(func(_ *nbio.Conn, tc *ntls.Conn, data []byte) {
		_, _ = tc.Write(data)
	}))
	if err := eng.Start(); err != nil {
		return fmt.Errorf("tls-nbio: start: %w", err)
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("tls-nbio: shutdown: %w", err)
	}
	return nil
}
