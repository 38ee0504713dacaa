// Command netpoll is the bench server on github.com/cloudwego/netpoll, used
// through its documented nocopy Reader/Writer API: OnRequest runs on a
// goroutine from netpoll's pool, echo takes the buffered bytes with
// Reader.Next and sends them with Writer.WriteBinary plus Flush; broadcast
// waits for one whole frame with the blocking Reader.Peek, copies every
// complete frame then buffered once with ReadBinary, and writes that slice to
// each receiver with WriteBinary plus Flush under a per-receiver mutex,
// because netpoll forbids concurrent writers on one connection. -loops sets
// Config.PollerNum (netpoll's default is one poller below 20 cores).
package main
