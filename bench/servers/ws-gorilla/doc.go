// Command ws-gorilla is the WebSocket bench server on gorilla/websocket over
// net/http: a goroutine per connection reading messages. Echo writes each
// message back as a binary message. Broadcast sends each message to every
// connection as one gorilla PreparedMessage (framed once, shared) through a
// writer goroutine per connection fed by a buffered channel; a receiver
// whose channel is full is closed as a slow consumer, as in the net server.
// -loops is accepted for uniformity and ignored.
package main
