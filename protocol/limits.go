package protocol

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxID is the exclusive upper bound of every id: ids are JSON integers
// below 2^53 so that every JSON implementation holds them exactly.
const MaxID = 1 << 53

// Limits holds the configurable limits of the contract. Lengths "in
// characters" count Unicode code points (runes); lengths "in bytes" count
// UTF-8 bytes.
type Limits struct {
	MaxFrameBody    int   // bytes of a frame body (1 MiB)
	MinPassword     int   // bytes (8)
	MaxPassword     int   // bytes (128)
	MaxNickname     int   // characters (64)
	MaxSignature    int   // characters (256)
	MaxText         int   // bytes of a text message body (16 KiB)
	MaxAvatar       int   // bytes of a decoded avatar (256 KiB)
	MaxGroupName    int   // characters (64)
	MaxRoomName     int   // characters (64); the contract sets none
	MaxClientMsgID  int   // characters (64)
	MaxDevice       int   // characters of a device label (64); the contract says "short"
	MaxToken        int   // bytes of a session token in login (512); the contract sets none
	MaxNote         int   // characters of a friend request note (256); the contract sets none
	MaxQuery        int   // characters of a user.search query (64); the contract sets none
	MaxFileName     int   // bytes of a file name (255)
	MaxFileSize     int64 // bytes of an offered file (1 GiB)
	MaxMedia        int   // bytes of a room.media payload (256 KiB)
	MaxGroupMembers int   // user ids in group.create members (1000); the contract sets none
	SyncDefault     int   // msg.sync limit when absent (100)
	SyncMax         int   // msg.sync limit cap; larger values are clamped (500)
	PushBacklog     int   // missed messages pushed per conversation after login (500)
	SearchResults   int   // users returned by user.search (50)

	// Protocol 1.1.
	MaxMentions        int // user ids in one message's mentions (50)
	MaxNotice          int // characters of a group notice (1024)
	MaxMessageQuery    int // characters of a msg.search query (100)
	MessageSearchDef   int // msg.search limit when absent (20)
	MessageSearchMax   int // msg.search limit cap; larger values are clamped (50)
	RoomJoinMembers    int // members listed in a room.join reply (500)
	RoomMembersDefault int // room.members limit when absent (100)
	RoomMembersMax     int // room.members limit cap; larger values are clamped (500)
}

// DefaultLimits returns the contract's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxFrameBody:    DefaultMaxFrameBody,
		MinPassword:     8,
		MaxPassword:     128,
		MaxNickname:     64,
		MaxSignature:    256,
		MaxText:         16 << 10,
		MaxAvatar:       256 << 10,
		MaxGroupName:    64,
		MaxRoomName:     64,
		MaxClientMsgID:  64,
		MaxDevice:       64,
		MaxToken:        512,
		MaxNote:         256,
		MaxQuery:        64,
		MaxFileName:     255,
		MaxFileSize:     1 << 30,
		MaxMedia:        256 << 10,
		MaxGroupMembers: 1000,
		SyncDefault:     100,
		SyncMax:         500,
		PushBacklog:     500,
		SearchResults:   50,

		MaxMentions:        50,
		MaxNotice:          1024,
		MaxMessageQuery:    100,
		MessageSearchDef:   20,
		MessageSearchMax:   50,
		RoomJoinMembers:    500,
		RoomMembersDefault: 100,
		RoomMembersMax:     500,
	}
}

var defaultLimits = DefaultLimits()

// orDefault lets every validator accept a nil *Limits.
func (l *Limits) orDefault() *Limits {
	if l == nil {
		return &defaultLimits
	}
	return l
}

// SyncLimit returns the effective msg.sync limit for a requested one: the
// default for 0 (absent), the maximum for anything larger.
func (l *Limits) SyncLimit(requested int) int {
	l = l.orDefault()
	return clampLimit(requested, l.SyncDefault, l.SyncMax)
}

// MessageSearchLimit returns the effective msg.search limit for a requested
// one: the default for 0 (absent), the maximum for anything larger.
func (l *Limits) MessageSearchLimit(requested int) int {
	l = l.orDefault()
	return clampLimit(requested, l.MessageSearchDef, l.MessageSearchMax)
}

// RoomMembersLimit returns the effective room.members limit for a requested
// one: the default for 0 (absent), the maximum for anything larger.
func (l *Limits) RoomMembersLimit(requested int) int {
	l = l.orDefault()
	return clampLimit(requested, l.RoomMembersDefault, l.RoomMembersMax)
}

func clampLimit(requested, def, max int) int {
	switch {
	case requested <= 0:
		return def
	case requested > max:
		return max
	}
	return requested
}

// CheckID checks that id is positive and below 2^53.
func CheckID(field string, id int64) error {
	if id <= 0 || id >= MaxID {
		return BadRequest(field, "must be a positive integer below 2^53")
	}
	return nil
}

// CheckUsername checks the pattern ^[A-Za-z0-9_]{3,32}$.
func CheckUsername(s string) error {
	if len(s) < 3 || len(s) > 32 {
		return BadRequest("username", "must be 3 to 32 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return BadRequest("username", "may hold only letters, digits and _")
		}
	}
	return nil
}

// CheckPassword checks the password length in bytes. The message never
// contains the password.
func (l *Limits) CheckPassword(s string) error {
	l = l.orDefault()
	if len(s) < l.MinPassword || len(s) > l.MaxPassword {
		return BadRequest("password", "must be "+strconv.Itoa(l.MinPassword)+" to "+strconv.Itoa(l.MaxPassword)+" bytes")
	}
	return nil
}

// checkRunes checks that s is valid UTF-8 of min..max characters.
func checkRunes(field, s string, minLen, maxLen int) error {
	if !utf8.ValidString(s) {
		return BadRequest(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < minLen || n > maxLen {
		if minLen == 0 {
			return BadRequest(field, "must be at most "+strconv.Itoa(maxLen)+" characters")
		}
		return BadRequest(field, "must be "+strconv.Itoa(minLen)+" to "+strconv.Itoa(maxLen)+" characters")
	}
	return nil
}

// CheckNickname checks a nickname: 1..MaxNickname characters.
func (l *Limits) CheckNickname(s string) error {
	return checkRunes("nickname", s, 1, l.orDefault().MaxNickname)
}

// CheckSignature checks a signature: at most MaxSignature characters.
func (l *Limits) CheckSignature(s string) error {
	return checkRunes("signature", s, 0, l.orDefault().MaxSignature)
}

// CheckGroupName checks a group name: 1..MaxGroupName characters.
func (l *Limits) CheckGroupName(s string) error {
	return checkRunes("name", s, 1, l.orDefault().MaxGroupName)
}

// CheckRoomName checks an optional room name: at most MaxRoomName characters.
func (l *Limits) CheckRoomName(s string) error {
	return checkRunes("name", s, 0, l.orDefault().MaxRoomName)
}

// CheckClientMsgID checks a client_msg_id: 1..MaxClientMsgID characters.
// chatd requires it non-empty: it is what makes a send idempotent.
func (l *Limits) CheckClientMsgID(s string) error {
	return checkRunes("client_msg_id", s, 1, l.orDefault().MaxClientMsgID)
}

// CheckDevice checks an optional device label: at most MaxDevice characters.
func (l *Limits) CheckDevice(s string) error {
	return checkRunes("device", s, 0, l.orDefault().MaxDevice)
}

// CheckNote checks an optional friend request note.
func (l *Limits) CheckNote(s string) error {
	return checkRunes("note", s, 0, l.orDefault().MaxNote)
}

// CheckQuery checks a user.search query: 1..MaxQuery characters.
func (l *Limits) CheckQuery(s string) error {
	return checkRunes("query", s, 1, l.orDefault().MaxQuery)
}

// CheckMessageQuery checks a msg.search query: 1 to MaxMessageQuery
// characters.
func (l *Limits) CheckMessageQuery(s string) error {
	return checkRunes("query", s, 1, l.orDefault().MaxMessageQuery)
}

// CheckNotice checks a group notice: at most MaxNotice characters, may be
// empty.
func (l *Limits) CheckNotice(s string) error {
	return checkRunes("notice", s, 0, l.orDefault().MaxNotice)
}

// CheckText checks a text body (message or room.say): non-empty valid UTF-8
// of at most MaxText bytes; over the limit is TOO_LARGE.
func (l *Limits) CheckText(field, s string) error {
	l = l.orDefault()
	if len(s) > l.MaxText {
		return TooLarge(field, int64(l.MaxText))
	}
	if s == "" {
		return BadRequest(field, "must not be empty")
	}
	if !utf8.ValidString(s) {
		return BadRequest(field, "must be valid UTF-8")
	}
	return nil
}

// CheckAvatar decodes a base64 (standard, padded) avatar and checks its size:
// over MaxAvatar decoded bytes is TOO_LARGE. The empty string is valid and
// decodes to nil (no avatar).
func (l *Limits) CheckAvatar(b64 string) ([]byte, error) {
	l = l.orDefault()
	if base64.StdEncoding.DecodedLen(len(b64)) > l.MaxAvatar+2 {
		return nil, TooLarge("avatar", int64(l.MaxAvatar))
	}
	if b64 == "" {
		return nil, nil
	}
	img, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, BadRequest("avatar", "must be standard base64")
	}
	if len(img) > l.MaxAvatar {
		return nil, TooLarge("avatar", int64(l.MaxAvatar))
	}
	return img, nil
}

// CheckMedia checks a room.media payload size (the server drops, not
// answers, a bad one).
func (l *Limits) CheckMedia(payload []byte) error {
	l = l.orDefault()
	if len(payload) > l.MaxMedia {
		return TooLarge("payload", int64(l.MaxMedia))
	}
	return nil
}

// CheckFileSize checks an offered file size: 0..MaxFileSize, over is
// TOO_LARGE.
func (l *Limits) CheckFileSize(size int64) error {
	l = l.orDefault()
	if size < 0 {
		return BadRequest("size", "must not be negative")
	}
	if size > l.MaxFileSize {
		return TooLarge("size", l.MaxFileSize)
	}
	return nil
}

// CheckFileName checks a file name: valid UTF-8, 1..MaxFileName bytes, no
// path separators (/ or \), no NUL or other control characters, not "." or
// "..". The name is only a label for the recipients, never a path.
func (l *Limits) CheckFileName(s string) error {
	l = l.orDefault()
	switch {
	case s == "":
		return BadRequest("name", "must not be empty")
	case len(s) > l.MaxFileName:
		return BadRequest("name", "must be at most "+strconv.Itoa(l.MaxFileName)+" bytes")
	case s == "." || s == "..":
		return BadRequest("name", "must not be . or ..")
	case !utf8.ValidString(s):
		return BadRequest("name", "must be valid UTF-8")
	case strings.ContainsAny(s, "/\\"):
		return BadRequest("name", "must not contain path separators")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return BadRequest("name", "must not contain control characters")
		}
	}
	return nil
}

// CheckSha256 checks a lowercase hex SHA-256 digest (64 characters).
func CheckSha256(field, s string) error {
	if len(s) != 64 {
		return BadRequest(field, "must be 64 lowercase hex digits")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return BadRequest(field, "must be 64 lowercase hex digits")
		}
	}
	return nil
}
