package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// ErrCertificate wraps a TLS handshake that failed because the server's
// certificate is not trusted or does not match its name: the error a user
// acts on by trusting the right certificate authority, not by retrying.
var ErrCertificate = errors.New("the server's TLS certificate was refused")

// secure runs the TLS handshake on nc when Options.TLS is set, naming the
// server after addr's host unless the configuration names it.
func (c *Client) secure(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	if c.opts.TLS == nil {
		return nc, nil
	}
	cfg := c.opts.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, certError(addr, err)
	}
	return tc, nil
}

// certError says plainly when a handshake failed on the certificate.
func certError(addr string, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("client: TLS to %s: %w: it is signed by an authority this client does not trust (give the server's CA certificate, e.g. chat --ca FILE): %v", addr, ErrCertificate, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("client: TLS to %s: %w: it is not valid for this host name: %v", addr, ErrCertificate, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("client: TLS to %s: %w: %v", addr, ErrCertificate, err)
	case errors.As(err, &verify):
		return fmt.Errorf("client: TLS to %s: %w: %v", addr, ErrCertificate, err)
	}
	return fmt.Errorf("client: TLS handshake with %s: %w", addr, err)
}
