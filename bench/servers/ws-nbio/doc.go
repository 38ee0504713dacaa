// Command ws-nbio is the WebSocket bench server on lesismal/nbio's nbhttp
// engine and its websocket upgrader, with nbio's defaults (non-blocking
// I/O on its pollers, handlers on its executor). Echo writes each message
// back as a binary message; broadcast writes each message to every
// connection with Conn.WriteMessage, which nbio allows from any goroutine.
package main
