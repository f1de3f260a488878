package pool

import (
	"context"
	"sync"
)

// Result pairs an input index with its output or error.
type Result[R any] struct {
	Index int
	Value R
	Err   error
}

// Map runs fn over inputs with at most `workers` goroutines and returns results in input order.
// It stops handing out new work once ctx is cancelled.
func Map[T, R any](ctx context.Context, inputs []T, workers int, fn func(context.Context, T) (R, error)) []Result[R] {
	if workers < 1 {
		workers = 1
	}
	results := make([]Result[R], len(inputs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				v, err := fn(ctx, inputs[i])
				results[i] = Result[R]{Index: i, Value: v, Err: err}
			}
		}()
	}
	for i := range inputs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			results[i] = Result[R]{Index: i, Err: ctx.Err()}
		}
	}
	close(jobs)
	wg.Wait()
	return results
}
