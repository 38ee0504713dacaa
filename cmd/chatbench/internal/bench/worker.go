package bench

import (
	"context"
	"errors"
	"io"
)

// WorkerCommand is the hidden first argument that makes chatbench a worker
// process of a parent run.
const WorkerCommand = "__worker"

// RunWorker serves one job read from in and writes its result to out.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	return errors.New("not yet")
}
