package protocol

// Default ports of the contract.
const (
	DefaultChatPort      = 9000
	DefaultFilePort      = 9001
	DefaultDiscoveryPort = 9002
)

// Version is the protocol version this package implements.
const Version = 1

// DiscoverRequest is the exact UDP datagram a client sends to find servers
// on the LAN.
const DiscoverRequest = "CHATD DISCOVER 1"

// IsDiscoverRequest reports whether a datagram is exactly DiscoverRequest;
// servers ignore anything else.
func IsDiscoverRequest(datagram []byte) bool {
	return string(datagram) == DiscoverRequest
}

// DiscoverReply is the JSON datagram a server answers a discovery request
// with. Version is the server's software version string.
type DiscoverReply struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	ChatAddr string `json:"chat_addr"`
	FileAddr string `json:"file_addr"`
}

var discoverReplyFields = []string{"name", "version", "chat_addr", "file_addr"}

// RequiredFields implements Body.
func (*DiscoverReply) RequiredFields() []string { return discoverReplyFields }
