package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chatd/chatd/reactor/tlslayer"
	"github.com/chatd/chatd/service/devcert"
	"github.com/rs/zerolog"
)

// certPollInterval is how often the certificate files are checked for a
// change (a renewal by certbot or an operator) besides SIGHUP.
const certPollInterval = 5 * time.Second

// loadTLS returns the chat and file ports' TLS configuration, or nil when no
// certificate is configured. The certificate is reloaded without a restart
// on SIGHUP and when either file changes, until ctx ends; a reload that
// fails keeps the previous certificate and logs why.
func loadTLS(ctx context.Context, cfg config, log zerolog.Logger) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	rl, err := tlslayer.NewCertReloader(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	go watchCert(ctx, rl, cfg.TLSCert, cfg.TLSKey, log)
	return &tls.Config{GetCertificate: rl.GetCertificate, MinVersion: tls.VersionTLS12}, nil
}

// watchCert reloads rl on SIGHUP and when the files' size or time changes.
func watchCert(ctx context.Context, rl *tlslayer.CertReloader, certFile, keyFile string, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(certPollInterval)
	defer tick.Stop()
	last := fileStamp(certFile) + fileStamp(keyFile)
	reload := func(why string) {
		if err := rl.Reload(); err != nil {
			log.Error().Err(err).Str("cert", certFile).Str("why", why).Msg("TLS certificate reload failed; keeping the previous one")
			return
		}
		log.Info().Str("cert", certFile).Str("why", why).Msg("TLS certificate reloaded")
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload("SIGHUP")
		case <-tick.C:
			if now := fileStamp(certFile) + fileStamp(keyFile); now != last {
				last = now
				reload("file changed")
			}
		}
	}
}

// fileStamp identifies a file's version by its modification time and size.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
}

// checkTLSFlags reports TLS settings that cannot work together.
func checkTLSFlags(c config) error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together: give both files, or neither")
	case c.TLSRequired && c.TLSCert == "":
		return errors.New("--tls-required needs a certificate (--tls-cert and --tls-key; `chatd cert` makes a development one)")
	}
	return nil
}

// wsOrigins splits --ws-origins.
func wsOrigins(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// certHostsFlag adds --host to `chatd cert`.
func certHostsFlag(hosts *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(hosts, "host", "", "extra host `names` or addresses the certificate covers, comma-separated (localhost, 127.0.0.1 and ::1 always)")
	}
}

// writeDevCert writes a self-signed development certificate into the data
// dir and tells the user how to serve with it and how to trust it.
func writeDevCert(cfg config, extraHosts string, out io.Writer) error {
	dir := filepath.Join(cfg.DataDir, "tls")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already exists: remove it first to make a new development certificate", f)
		}
	}
	hosts := append(append([]string(nil), devcert.DefaultHosts...), wsOrigins(extraHosts)...)
	c, err := devcert.Generate(hosts, 365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", keyFile, err)
	}
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", certFile, err)
	}
	fmt.Fprintf(out, `wrote a self-signed development certificate for %s, valid one year:
  certificate %s
  key         %s

serve with it:
  chatd --tls-cert %s --tls-key %s

trust it (nobody does until told to):
  terminal client:  chat --tls --ca %s
  Go SDK:           client.Config{TLS: &tls.Config{RootCAs: <a pool holding the certificate>}}
  browser:          import %s as a trusted certificate authority
                    (Chromium: Settings > Privacy and security > Security > Manage certificates > Authorities)
  system-wide:      cp %s /usr/local/share/ca-certificates/chatd-dev.crt && update-ca-certificates

A development certificate is for your own machines; use one from a real
certificate authority for anything others connect to.
`, strings.Join(hosts, ", "), certFile, keyFile, certFile, keyFile, certFile, certFile, certFile)
	return nil
}
