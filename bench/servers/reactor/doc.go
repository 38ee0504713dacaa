// Command reactor is the bench server on chatd's own reactor package, used
// the way chatd uses it: OnData gets all buffered bytes and consumes whole
// units. Echo queues what arrived with Conn.WriteCopy, which copies it (OnData's
// slice is only valid during the call) into the reactor's pooled chunks, so
// echo allocates nothing per message. Broadcast copies the complete frames of
// one OnData call once and queues that same slice on every receiver with
// Conn.Write (WriteCopy would copy it once per receiver); the reactor joins everything queued for a receiver during a
// loop pass into one writev. -loops sets Options.Loops; all other options are
// the reactor's defaults.
package main
