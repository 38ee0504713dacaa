package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// Example shows the usual life of a client: dial, register, log in, send a
// message and receive one as a push, acking what the application took.
// (The address is an in-process test server standing in for chatd.)
func Example() {
	addr, stop := client.StartExampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	alice, err := client.Dial(ctx, addr, client.Options{Reconnect: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, addr, client.Options{Reconnect: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close()

	if _, err := alice.Register(ctx, "alice", "correct horse", ""); err != nil {
		fmt.Println(err)
		return
	}
	bobID, _ := bob.Register(ctx, "bob", "battery staple", "Bob")
	_, _ = alice.Login(ctx, "alice", "correct horse")
	_, _ = bob.Login(ctx, "bob", "battery staple")

	sent, err := alice.Send(ctx, bobID, "hi Bob")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sent seq", sent.Seq)

	for p := range bob.Pushes() {
		if m, ok := p.Body.(*protocol.MsgPush); ok {
			fmt.Printf("bob got %q (seq %d)\n", m.Message.Body, m.Message.Seq)
			// Ack once the message is safely shown or stored: it will not
			// be pushed again at the next login.
			_ = bob.Ack(ctx, m.Message.Conv, m.Message.Seq)
			break
		}
	}
	// Output:
	// sent seq 1
	// bob got "hi Bob" (seq 1)
}

// ExampleClient_Login_error shows how a failure reply is inspected: every
// non-OK code arrives as a *protocol.Error.
func ExampleClient_Login_error() {
	addr, stop := client.StartExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := client.Dial(ctx, addr, client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, err = c.Login(ctx, "nobody", "wrong password")
	var pe *protocol.Error
	if errors.As(err, &pe) {
		fmt.Println("code:", pe.Code)
	}
	// Output:
	// code: BAD_CREDENTIALS
}

// ExampleDial_failover connects to a server of two nodes: Dial takes both
// addresses, and when bob's node goes away his client fails over to the
// other one, logs in there with its token and receives what was sent
// meanwhile, once.
func ExampleDial_failover() {
	nodes, kill, stop := client.StartExampleCluster() // "host:port,host:port"
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := client.Options{Reconnect: true, MinBackoff: 10 * time.Millisecond}

	alice, err := client.Dial(ctx, nodes, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, nodes, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close()
	_, _ = alice.Register(ctx, "alice", "correct horse", "")
	bobID, _ := bob.Register(ctx, "bob", "battery staple", "")
	_, _ = alice.Login(ctx, "alice", "correct horse")
	_, _ = bob.Login(ctx, "bob", "battery staple")

	was := bob.Addr()
	kill(was) // bob's node dies
	if _, err := alice.Send(ctx, bobID, "still there?"); err != nil {
		fmt.Println(err)
		return
	}
	for p := range bob.Pushes() {
		if m, ok := p.Body.(*protocol.MsgPush); ok {
			fmt.Printf("bob got %q on the other node: %v\n", m.Message.Body, bob.Addr() != was)
			break
		}
	}
	// Output:
	// bob got "still there?" on the other node: true
}
