package tlslayer

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// CertReloader serves a certificate and key read from files and reads them
// again on Reload, so a server picks up a renewed certificate without a
// restart: set tls.Config.GetCertificate to its GetCertificate and call
// Reload on SIGHUP or when the files change. Handshakes in progress keep the
// certificate they started with; a Reload that fails keeps the old one.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads certFile and keyFile (PEM) once.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again; on error the current certificate stays.
func (r *CertReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tlslayer: reload %s: %w", r.certFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// GetCertificate returns the current certificate (tls.Config.GetCertificate).
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}
