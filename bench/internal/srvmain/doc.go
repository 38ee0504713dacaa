// Package srvmain is the common command line and lifecycle of the bench
// servers: the flags -port, -loops and -mode, and a context that ends on
// SIGTERM or SIGINT. Keeping it in one place makes every server accept
// exactly the same flags and stop the same way.
package srvmain
