package main

import (
	"context"
	"errors"
	"net"

	"github.com/rs/zerolog"
)

// listening is where a started chatd serves; empty fields are disabled.
type listening struct {
	Chat      net.Addr
	File      string
	Discovery net.Addr
	Admin     net.Addr
	Store     string
}

// serve is wired to the chat service in serve.go once package service
// builds; until then chatd can only migrate and print its version.
func serve(ctx context.Context, cfg config, log zerolog.Logger, env runEnv) error {
	return errors.New("serving is not available in this build: the chat service has not landed yet")
}
