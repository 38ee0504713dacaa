// Package tui is the interactive terminal user interface of chat, built
// with Bubble Tea: a login/register screen (with the server address,
// remembered session tokens and LAN discovery) and a main screen with the
// contact list (friends with presence and unread counts, groups, rooms,
// friend requests), the conversation pane with history and delivery/read
// state, and an input line that also takes slash commands. It talks to the
// server only through package client; all network work runs in tea.Cmds
// so Update never blocks.
package tui
