// Command chat is the chatd terminal client. Run without a subcommand it
// opens the interactive UI (login/register, contacts, conversations,
// friend requests, groups, rooms, files). For scripts it has two
// non-interactive subcommands: "chat send --to USER TEXT" sends one
// message and "chat tail" prints incoming messages as lines or JSON.
// Sessions are remembered per server in the user's configuration
// directory (mode 0600), so scripts reuse the token of an interactive
// login, or take --user with the password in $CHAT_PASSWORD.
package main
