// Command report turns the harness's raw measurements into the tables of
// bench/RESULTS.md. It reads the loadgen JSON lines (labelled
// "library/scenario/round") and the per-run syscall counts, takes for each
// library and scenario the median of every figure over the rounds, and
// prints Markdown tables with ratios against a base library (gnet) and a
// check of the reactor's goals.
package main
