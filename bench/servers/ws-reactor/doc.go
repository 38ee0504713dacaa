// Command ws-reactor is the WebSocket bench server on chatd's reactor: the
// listener is wrapped by reactor/sniff with WebSocket enabled, so each
// connection's upgrade is answered by the reactor/websocket layer on the
// loop, and the handler below sees whole messages in OnData and its writes
// leave as binary messages. Echo writes each message back with WriteCopy;
// broadcast copies each message once and queues that slice on every
// connection with Write, as the raw reactor server does.
package main
