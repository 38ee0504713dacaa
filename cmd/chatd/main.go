package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process the default way
	}()
	err := run(ctx, os.Args[1:], runEnv{
		LookupEnv: os.LookupEnv,
		ReadFile:  os.ReadFile,
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
	})
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "chatd: %v\n(chatd help lists the commands and flags)\n", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "chatd:", err)
		os.Exit(1)
	}
}
