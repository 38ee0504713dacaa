// Package config keeps the chat client's small persistent state: the
// session token remembered per server in the user's configuration
// directory (os.UserConfigDir()/chatd/tokens.json), written with mode 0600
// so that other users of the machine cannot read it.
package config
