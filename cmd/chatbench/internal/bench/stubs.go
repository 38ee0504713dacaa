package bench

import (
	"context"
	"errors"
	"flag"

	"github.com/chatd/chatd/cmd/chatbench/internal/report"
)

type stub struct{}

func (stub) Flags(*flag.FlagSet)                               {}
func (stub) Summary() string                                   { return "not yet" }
func (stub) Run(context.Context, *Env) (*report.Report, error) { return nil, errors.New("not yet") }

type filesScenario struct{ stub }
