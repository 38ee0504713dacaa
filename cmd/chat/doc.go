// Command chat is the chatd terminal client.
//
// Run without a subcommand it opens the interactive UI:
//
//	chat [--server HOST:PORT] [--device NAME]
//
// The login screen has the server address (default localhost:9000; without
// --server, servers that answer LAN discovery on UDP port 9002 are listed
// and ctrl+l puts one in the field), the username and the password; ctrl+r
// switches to registering a new account. After a login the session token is
// remembered per server in os.UserConfigDir()/chatd/tokens.json (mode
// 0600), and the next start logs in with it; /logout forgets it.
//
// The main screen lists friend requests, friends (● online, ○ offline, the
// number of unread messages in brackets), groups (#) and rooms (@), next to
// the open conversation. The line above the input says which part has the
// keys (focus: LIST, INPUT, MESSAGES or a panel). Keys: tab switches
// between the list and the input line; ↑/↓ and enter open a conversation; a / x accept or reject the
// selected friend request; pgup/pgdn scroll, and scrolling past the top
// loads older messages; enter sends, alt+enter or ctrl+j starts a new line
// (a multi-line paste is sent as one message); ctrl+c quits. Own messages
// show … while sending, ✓ once stored, ✓✓ once the friend has read them,
// ✗ if they could not be sent. Slash commands: /add USER [note],
// /accept, /reject, /remove, /whois [USER], /group NAME [USER...],
// /join ID, /leave, /members, /kick USER, /nick NAME, /sig TEXT,
// /avatar PATH (PNG, JPEG, GIF or WebP), /send PATH, /get FILEID [DEST]
// (DEST a file or directory, default ~/Downloads or the working
// directory; an existing file is never overwritten: "name (1).ext"; the
// status line says where it went), /room new [NAME] | join ID | leave,
// /logout, /quit, /help. Text typed in a room is said to the room;
// "//text" sends "/text".
//
// Protocol 1.1: ↑ in an empty input line picks a message (↑/↓ move, r or
// enter quotes it in the next message, d recalls it); /recall recalls the
// last own message, /reply picks one to quote. Recalled messages read
// "(recalled)". Typing sends typing notices (at most one per 3 s) and the
// conversation title shows "bob is typing…". /search TEXT lists matches
// in every conversation; enter opens one at the message. In a group, tab
// after @ completes a member's name, @names are sent as mentions (@all
// by owners and admins), and messages naming you are marked [@me], the
// list "(3) @me". Group settings: /settings (members with roles and
// mutes; a: admin, m: mute, x: kick, t t: transfer, n: notice), /notice,
// /rename, /admin, /unadmin, /mute USER [30m], /unmute, /transfer.
// /devices lists the account's sessions (r signs one out); /password
// changes the password (the other devices are signed out);
// /delete-account deletes the account.
// NO_COLOR turns colours off; the screen stays readable through its
// markers. It needs at least 40x12 and follows resizes.
//
// For scripts there are two non-interactive subcommands:
//
//	chat [--server HOST:PORT] [--user NAME] send --to USER|--group ID TEXT...
//	chat [--server HOST:PORT] [--user NAME] tail [--json]
//
// send sends one message and prints its conversation and seq; tail prints
// every incoming message (missed ones first) as a line or, with --json, as
// one JSON object per line, and acks each once printed, so a restarted tail
// continues where the last one stopped. Both log in with the session
// remembered by an interactive login, or with --user and the password in
// $CHAT_PASSWORD. They use the session labels (devices) "send" and "tail"
// by default, so neither takes over the other's or the interactive
// client's session; --device picks another label.
package main
