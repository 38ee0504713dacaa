// Package storetest is the conformance suite every store backend must
// pass: Run exercises each Store method, its error cases, idempotency,
// cursor monotonicity and gapless sequences under concurrent appenders;
// Concurrent checks gaplessness across several Store instances sharing one
// database (several chatd processes).
package storetest
