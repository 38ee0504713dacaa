package tui

import (
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/cmd/chat/internal/config"
	"github.com/chatd/chatd/protocol"
)

// Options configures the UI.
type Options struct {
	// Server is the address shown first on the login screen
	// (default localhost:9000).
	Server string
	// Device is the login device label.
	Device string
	// Tokens remembers session tokens per server; nil disables it.
	Tokens *config.Store
	// NoColor renders without colours (NO_COLOR).
	NoColor bool
	// Location formats message times (default time.Local).
	Location *time.Location
	// Discover, when set, is run at start to find servers on the LAN.
	Discover func() []protocol.DiscoverReply
	// ClientOptions are passed to client.Dial (Reconnect is forced on).
	ClientOptions client.Options
	// Now is the clock (default time.Now), for tests of typing notices.
	Now func() time.Time
}

type screen int

const (
	screenLogin screen = iota
	screenMain
)

// Login form fields.
const (
	fieldServer = iota
	fieldUser
	fieldPassword
	fieldConfirm // registering only: the password again
	numFields
)

// Model is the Bubble Tea model of the whole client.
type Model struct {
	opts   Options
	st     styles
	width  int
	height int
	screen screen

	// login screen
	fields     [numFields]textinput.Model
	focus      int
	register   bool
	busy       string
	loginErr   string
	discovered []protocol.DiscoverReply

	// session
	c *client.Client
	// sess is the event queue of the current session (or of the login
	// screen, where nothing posts).
	sess   *session
	server string
	// connected is false while the connection is down: what the UI shows
	// of others' presence is then stale.
	connected bool
	me        protocol.Profile
	connText  string
	profiles  map[int64]protocol.Profile
	online    map[int64]bool
	friends   []int64
	groups    []protocol.Group
	rooms     []room
	requests  []protocol.FriendRequestedPush
	convs     map[string]*conv
	files     map[int64]protocol.FileOfferedPush
	asked     map[int64]bool                   // files whose name was asked of the server
	members   map[int64][]protocol.GroupMember // per group, once loaded
	// typing holds, per conversation, who is typing until when;
	// typingSent when this user last sent a typing notice there.
	typing     map[string]map[int64]time.Time
	typingSent map[string]time.Time

	items      []item
	sel        int
	active     string
	inputFocus bool
	input      textarea.Model
	notice     string
	noticeErr  bool
	xfer       *transfer
	xferSeq    int
	bar        progress.Model

	// pick is the seq of the message picked in the open conversation
	// (to reply to or recall it), 0 when none.
	pick int64
	// replyTo is the seq the next message quotes, 0 when none.
	replyTo int64
	// panel, when set, takes the pane and the keys (search, settings...).
	panel panel
}

// room is a live room the user is in.
type room struct {
	id   int64
	name string
}

// transfer is the file transfer in progress, shown as a progress bar.
type transfer struct {
	id          int
	label       string
	done, total int64
}

// New returns the model on its login screen.
func New(opts Options) *Model {
	if opts.Server == "" {
		opts.Server = "localhost:9000"
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	m := &Model{
		opts:       opts,
		st:         newStyles(opts.NoColor),
		width:      80,
		height:     24,
		sess:       newSession(),
		profiles:   map[int64]protocol.Profile{},
		online:     map[int64]bool{},
		convs:      map[string]*conv{},
		files:      map[int64]protocol.FileOfferedPush{},
		asked:      map[int64]bool{},
		members:    map[int64][]protocol.GroupMember{},
		typing:     map[string]map[int64]time.Time{},
		typingSent: map[string]time.Time{},
		connText:   "offline",
	}
	labels := [numFields]string{"Server:   ", "Username: ", "Password: ", "Confirm:  "}
	for i := range m.fields {
		ti := textinput.New()
		ti.Prompt = labels[i]
		ti.SetWidth(40)
		if opts.NoColor {
			ti.SetStyles(textinput.Styles{})
		}
		m.fields[i] = ti
	}
	m.fields[fieldServer].SetValue(opts.Server)
	m.fields[fieldPassword].EchoMode = textinput.EchoPassword
	m.fields[fieldConfirm].EchoMode = textinput.EchoPassword
	m.fields[fieldUser].Focus()
	m.focus = fieldUser

	m.input = textarea.New()
	m.input.ShowLineNumbers = false
	m.input.Prompt = "> "
	m.input.Placeholder = "message, or /help"
	m.input.SetHeight(2)
	m.input.KeyMap.InsertNewline.SetKeys("alt+enter", "ctrl+j")
	if opts.NoColor {
		m.input.SetStyles(textarea.Styles{})
	} else {
		m.input.SetStyles(textarea.DefaultStyles(true))
	}
	m.bar = progress.New(progress.WithWidth(30), progress.WithoutPercentage())
	return m
}

// Init starts the LAN discovery and, when a token is remembered for the
// default server, logs in with it.
func (m *Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.opts.Discover != nil {
		d := m.opts.Discover
		cmds = append(cmds, func() tea.Msg { return discoveredMsg(d()) })
	}
	if m.opts.Tokens != nil {
		if sess, ok, err := m.opts.Tokens.Get(m.opts.Server); err == nil && ok {
			m.fields[fieldUser].SetValue(sess.Username)
			m.busy = "Logging in as " + sess.Username + "…"
			cmds = append(cmds, m.connectCmd(m.opts.Server, sess.Username, "", sess.Token, false))
		}
	}
	return tea.Batch(cmds...)
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return m, m.quit()
		}
	case discoveredMsg:
		m.discovered = msg
		return m, nil
	case loggedInMsg:
		return m, m.onLoggedIn(msg)
	case loginFailedMsg:
		m.busy = ""
		m.loginErr = msg.err.Error()
		if msg.sess != nil {
			msg.sess.end() // what the failed client still reports is void
		}
		if msg.c != nil {
			go msg.c.Close() // Close waits for the reader: never block Update
		}
		return m, nil
	case sessionEvent:
		if msg.sess != m.sess {
			return m, nil // an event of a session that is over
		}
		return m.Update(msg.msg)
	}
	if m.screen == screenLogin {
		return m, m.updateLogin(msg)
	}
	return m, m.updateMain(msg)
}

// quit closes the connection (the token stays remembered) and exits.
func (m *Model) quit() tea.Cmd {
	if m.c != nil {
		c := m.c
		return tea.Sequence(func() tea.Msg { _ = c.Close(); return nil }, tea.Quit)
	}
	return tea.Quit
}

// View renders the current screen.
func (m *Model) View() tea.View {
	var content string
	if m.screen == screenLogin {
		content = m.viewLogin()
	} else {
		content = m.viewMain()
	}
	v := tea.NewView(content)
	v.AltScreen = true
	v.WindowTitle = "chat"
	return v
}
