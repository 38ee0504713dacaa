package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/protocol"
)

// runSend implements "chat send --to USER|--group ID TEXT".
func runSend(ctx context.Context, g globals, tokens *config.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	to := fs.String("to", "", "username of the friend to send to")
	group := fs.Int64("group", 0, "group id to send to")
	if helped, err := parseFlags(fs, args, "usage: chat send --to USER|--group ID TEXT...\n", stdout, stderr); helped || err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" || (*to == "") == (*group == 0) {
		return errors.New(`usage: chat send --to USER|--group ID TEXT`)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := connect(ctx, g, tokens, "send", client.Options{PingInterval: -1, OnPush: func(client.Push) {}})
	if err != nil {
		return err
	}
	defer c.Close()
	var r *protocol.MsgSendResp
	if *group != 0 {
		r, err = c.SendTo(ctx, *group, text)
	} else {
		id, ferr := friendID(ctx, c, *to)
		if ferr != nil {
			return ferr
		}
		r, err = c.Send(ctx, id, text)
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintf(stdout, "sent %s seq %d\n", r.Conv, r.Seq)
	return nil
}

// friendID resolves a friend's username (or numeric id).
func friendID(ctx context.Context, c *client.Client, name string) (int64, error) {
	if id, err := strconv.ParseInt(name, 10, 64); err == nil {
		return id, nil
	}
	friends, err := c.Friends(ctx)
	if err != nil {
		return 0, fmt.Errorf("friend list: %w", err)
	}
	for _, f := range friends {
		if strings.EqualFold(f.Profile.Username, name) {
			return f.Profile.UserID, nil
		}
	}
	return 0, fmt.Errorf("%s is not among your friends", name)
}

// tailLine is the JSON form of one incoming message.
type tailLine struct {
	Conv     string `json:"conv"`
	Seq      int64  `json:"seq"`
	MsgID    int64  `json:"msg_id"`
	From     int64  `json:"from"`
	FromName string `json:"from_name"`
	Ts       int64  `json:"ts"`
	Type     string `json:"type"`
	Body     string `json:"body"`
}

// runTail implements "chat tail": it prints every incoming message (the
// missed ones first) and acks each once it is written, so a restarted
// tail continues where the last one stopped.
func runTail(ctx context.Context, g globals, tokens *config.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	if helped, err := parseFlags(fs, args, "usage: chat tail [--json]\n", stdout, stderr); helped || err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := connect(lctx, g, tokens, "tail", client.Options{Reconnect: true})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	names := map[int64]string{}
	if s := c.Session(); s != nil {
		names[s.UserID] = s.Profile.Username
		for _, f := range s.Friends {
			names[f.Profile.UserID] = f.Profile.Username
		}
	}
	// Acks go out from their own goroutine: the loop below drains the
	// pushes and must never wait for a reply itself (the client reads
	// replies and pushes on one goroutine). An ack covers every seq below
	// it, so when the queue is full a later ack makes up for a skipped one.
	acks := make(chan protocol.Message, 4096)
	defer close(acks)
	go func() {
		for m := range acks {
			actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Ack(actx, m.Conv, m.Seq)
			acancel()
		}
	}()
	enc := json.NewEncoder(stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case p, ok := <-c.Pushes():
			if !ok {
				return nil
			}
			if k, kicked := p.Body.(*protocol.KickedPush); kicked {
				return fmt.Errorf("session taken over by a login elsewhere (%s); use --device to run several", k.Addr)
			}
			mp, isMsg := p.Body.(*protocol.MsgPush)
			if !isMsg {
				continue
			}
			msg := mp.Message
			name, known := names[msg.From]
			if !known {
				name = "user#" + strconv.FormatInt(msg.From, 10)
			}
			if *asJSON {
				err = enc.Encode(tailLine{Conv: msg.Conv, Seq: msg.Seq, MsgID: msg.MsgID, From: msg.From,
					FromName: name, Ts: msg.Ts, Type: msg.Type, Body: msg.Body})
			} else {
				_, err = fmt.Fprintf(stdout, "%s %s #%d %s: %s\n",
					time.UnixMilli(msg.Ts).UTC().Format(time.RFC3339), msg.Conv, msg.Seq, name, msg.Body)
			}
			if err != nil {
				return fmt.Errorf("writing: %w", err)
			}
			select {
			case acks <- msg:
			default:
			}
		}
	}
}
