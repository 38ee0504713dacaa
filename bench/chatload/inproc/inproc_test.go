package inproc

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestStartServesAndCleansUp(t *testing.T) {
	s, err := Start(context.Background(), Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{s.Addr, s.FileAddr} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		c.Close()
	}
	resp, err := http.Get(s.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "process_resident_memory_bytes") {
		t.Fatalf("metrics lack RSS:\n%.300s", body)
	}
	dir := s.dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s left behind: %v", dir, err)
	}
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Fatal("chat port still open after Close")
	}
}
