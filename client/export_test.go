package client

// StartExampleServer starts the in-process fake server for the examples in
// package client_test and returns its address and a stop function.
func StartExampleServer() (string, func()) {
	s, err := startFakeServer()
	if err != nil {
		panic(err)
	}
	return s.addr(), s.stop
}
