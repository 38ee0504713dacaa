package protocol

import "strconv"

// Bodies of section 7 (messages).

// Message types.
const (
	MsgText = "text" // body is the text, at most Limits.MaxText bytes
	MsgFile = "file" // body is the file_id in decimal
	// MsgTypeRecall is a recall notice (1.1): body is the recalled seq in
	// decimal, from is the recaller. Only the server creates it.
	MsgTypeRecall = "recall"
	// MsgTypeRecalled is the type a recalled message reads back with (1.1): its
	// body is "", mentions and reply_to are kept.
	MsgTypeRecalled = "recalled"
)

// Message is a stored message.
type Message struct {
	MsgID       int64  `json:"msg_id"`
	Conv        string `json:"conv"`
	Seq         int64  `json:"seq"`
	From        int64  `json:"from"` // the sender's user_id
	Ts          int64  `json:"ts"`   // server unix ms
	Type        string `json:"type"`
	Body        string `json:"body"`
	ClientMsgID string `json:"client_msg_id"`
	// Protocol 1.1: the users the message mentions (group messages only),
	// whether it mentions every member, and the seq it replies to.
	Mentions   []int64 `json:"mentions,omitempty"`
	MentionAll bool    `json:"mention_all,omitempty"`
	ReplyTo    int64   `json:"reply_to,omitempty"`
}

var messageFields = []string{"msg_id", "conv", "seq", "from", "ts", "type", "body", "client_msg_id"}

// RequiredFields implements Body.
func (*Message) RequiredFields() []string { return messageFields }

// ConvInfo describes one conversation of the user: the last sequence, the
// user's ack and read cursors, and the last message if any.
type ConvInfo struct {
	Conv    string   `json:"conv"`
	LastSeq int64    `json:"last_seq"`
	AckSeq  int64    `json:"ack_seq"`
	ReadSeq int64    `json:"read_seq"`
	Last    *Message `json:"last,omitempty"`
	// MentionSeq (1.1) is the highest seq above ReadSeq whose message, not
	// recalled and not the user's own, mentions the user or everyone; 0
	// when there is none.
	MentionSeq int64 `json:"mention_seq"`
}

var convInfoFields = []string{"conv", "last_seq", "ack_seq", "read_seq"}

// RequiredFields implements Body.
func (*ConvInfo) RequiredFields() []string { return convInfoFields }

// MsgSendReq is the body of msg.send: exactly one of ToUser and ToGroup is
// set; an empty Type means "text". Mentions and MentionAll are for group
// messages only; ReplyTo quotes a seq of the same conversation (1.1).
type MsgSendReq struct {
	ToUser      int64   `json:"to_user,omitempty"`
	ToGroup     int64   `json:"to_group,omitempty"`
	Type        string  `json:"type,omitempty"`
	Body        string  `json:"body"`
	ClientMsgID string  `json:"client_msg_id"`
	Mentions    []int64 `json:"mentions,omitempty"`
	MentionAll  bool    `json:"mention_all,omitempty"`
	ReplyTo     int64   `json:"reply_to,omitempty"`
}

var msgSendFields = []string{"body", "client_msg_id"}

// RequiredFields implements Body.
func (*MsgSendReq) RequiredFields() []string { return msgSendFields }

// Validate implements Request.
func (r *MsgSendReq) Validate(l *Limits) error {
	if err := checkTarget(r.ToUser, r.ToGroup); err != nil {
		return err
	}
	switch r.Type {
	case "", MsgText:
		if err := l.CheckText("body", r.Body); err != nil {
			return err
		}
	case MsgFile:
		if _, ok := parseID(r.Body); !ok {
			return BadRequest("body", "a file message body must be a file_id")
		}
	default:
		return BadRequest("type", `must be "text" or "file"`)
	}
	if err := r.checkMentions(l); err != nil {
		return err
	}
	if r.ReplyTo != 0 {
		if err := CheckID("reply_to", r.ReplyTo); err != nil {
			return err
		}
	}
	return l.CheckClientMsgID(r.ClientMsgID)
}

// checkMentions applies the rules the body alone decides: mentions only in
// a group, at most MaxMentions valid ids. Membership is the server's check.
func (r *MsgSendReq) checkMentions(l *Limits) error {
	if len(r.Mentions) == 0 && !r.MentionAll {
		return nil
	}
	if r.ToGroup == 0 {
		return BadRequest("mentions", "mentions are for group conversations only")
	}
	if len(r.Mentions) > l.orDefault().MaxMentions {
		return BadRequest("mentions", "at most "+strconv.Itoa(l.orDefault().MaxMentions)+" user ids")
	}
	for _, id := range r.Mentions {
		if err := CheckID("mentions", id); err != nil {
			return err
		}
	}
	return nil
}

// TypeOrDefault returns the message type, MsgText when absent.
func (r *MsgSendReq) TypeOrDefault() string {
	if r.Type == "" {
		return MsgText
	}
	return r.Type
}

// checkTarget checks the to_user | to_group pair of msg.send and file.offer.
func checkTarget(toUser, toGroup int64) error {
	switch {
	case toUser != 0 && toGroup != 0:
		return BadRequest("to_user", "give either to_user or to_group, not both")
	case toUser != 0:
		return CheckID("to_user", toUser)
	case toGroup != 0:
		return CheckID("to_group", toGroup)
	}
	return BadRequest("to_user", "to_user or to_group required")
}

// FileMessageBody returns the body of a "file" message for fileID.
func FileMessageBody(fileID int64) string { return strconv.FormatInt(fileID, 10) }

// ParseFileMessageBody returns the file_id of a "file" message body.
func ParseFileMessageBody(body string) (int64, error) {
	id, ok := parseID(body)
	if !ok {
		return 0, BadRequest("body", "not a file_id")
	}
	return id, nil
}

// MsgSendResp is the reply to msg.send, sent once the message is durable.
type MsgSendResp struct {
	Status
	MsgID int64  `json:"msg_id"`
	Conv  string `json:"conv"`
	Seq   int64  `json:"seq"`
	Ts    int64  `json:"ts"`
}

var msgSendRespFields = []string{"code", "msg_id", "conv", "seq", "ts"}

// RequiredFields implements Body.
func (r *MsgSendResp) RequiredFields() []string { return r.need(msgSendRespFields) }

// MsgSyncReq is the body of msg.sync: messages with seq > AfterSeq. Limit 0
// means the default; see Limits.SyncLimit.
type MsgSyncReq struct {
	Conv     string `json:"conv"`
	AfterSeq int64  `json:"after_seq"`
	Limit    int    `json:"limit,omitempty"`
}

var msgSyncFields = []string{"conv", "after_seq"}

// RequiredFields implements Body.
func (*MsgSyncReq) RequiredFields() []string { return msgSyncFields }

// Validate implements Request.
func (r *MsgSyncReq) Validate(*Limits) error {
	if _, err := ParseConv(r.Conv); err != nil {
		return err
	}
	if r.AfterSeq < 0 || r.AfterSeq >= MaxID {
		return BadRequest("after_seq", "must be a non-negative integer below 2^53")
	}
	if r.Limit < 0 {
		return BadRequest("limit", "must not be negative")
	}
	return nil
}

// MsgSyncResp is the reply to msg.sync; More is true when messages remain.
type MsgSyncResp struct {
	Status
	Messages []Message `json:"messages"`
	More     bool      `json:"more"`
}

var msgSyncRespFields = []string{"code", "messages", "more"}

// RequiredFields implements Body.
func (r *MsgSyncResp) RequiredFields() []string { return r.need(msgSyncRespFields) }

// Normalize implements Normalizer.
func (r *MsgSyncResp) Normalize() {
	if r.Messages == nil {
		r.Messages = []Message{}
	}
}

// MsgAckReq is the body of msg.ack (reply: bare Status). The cursor never
// moves back: a lower seq is accepted and changes nothing.
type MsgAckReq struct {
	Conv string `json:"conv"`
	Seq  int64  `json:"seq"`
}

var convSeqFields = []string{"conv", "seq"}

// RequiredFields implements Body.
func (*MsgAckReq) RequiredFields() []string { return convSeqFields }

// Validate implements Request.
func (r *MsgAckReq) Validate(*Limits) error { return checkConvSeq(r.Conv, r.Seq) }

func checkConvSeq(conv string, seq int64) error {
	if _, err := ParseConv(conv); err != nil {
		return err
	}
	if seq < 0 || seq >= MaxID {
		return BadRequest("seq", "must be a non-negative integer below 2^53")
	}
	return nil
}

// MsgReadReq is the body of msg.read (reply: bare Status).
type MsgReadReq struct {
	Conv string `json:"conv"`
	Seq  int64  `json:"seq"`
}

// RequiredFields implements Body.
func (*MsgReadReq) RequiredFields() []string { return convSeqFields }

// Validate implements Request.
func (r *MsgReadReq) Validate(*Limits) error { return checkConvSeq(r.Conv, r.Seq) }

// ConvListReq is the body of conv.list: {}.
type ConvListReq struct{}

// RequiredFields implements Body.
func (*ConvListReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (*ConvListReq) Validate(*Limits) error { return nil }

// ConvListResp is the reply to conv.list.
type ConvListResp struct {
	Status
	Convs []ConvInfo `json:"convs"`
}

var convsRespFields = []string{"code", "convs"}

// RequiredFields implements Body.
func (r *ConvListResp) RequiredFields() []string { return r.need(convsRespFields) }

// Normalize implements Normalizer.
func (r *ConvListResp) Normalize() {
	if r.Convs == nil {
		r.Convs = []ConvInfo{}
	}
}

// MsgPush is the body of the msg push.
type MsgPush struct {
	Message Message `json:"message"`
}

var messageOnlyFields = []string{"message"}

// RequiredFields implements Body.
func (*MsgPush) RequiredFields() []string { return messageOnlyFields }

// ReadReceiptPush is the body of the msg.read_receipt push: UserID has read
// Conv up to Seq.
type ReadReceiptPush struct {
	Conv   string `json:"conv"`
	UserID int64  `json:"user_id"`
	Seq    int64  `json:"seq"`
}

var readReceiptFields = []string{"conv", "user_id", "seq"}

// RequiredFields implements Body.
func (*ReadReceiptPush) RequiredFields() []string { return readReceiptFields }

// MsgRecallReq is the body of msg.recall (1.1): the message to take back.
type MsgRecallReq struct {
	Conv string `json:"conv"`
	Seq  int64  `json:"seq"`
}

// RequiredFields implements Body.
func (*MsgRecallReq) RequiredFields() []string { return convSeqFields }

// Validate implements Request.
func (r *MsgRecallReq) Validate(*Limits) error {
	if _, err := ParseConv(r.Conv); err != nil {
		return err
	}
	return CheckID("seq", r.Seq)
}

// MsgRecallResp is the reply to msg.recall: Seq is the recall message's own
// seq. A recall of a message already recalled fails with ALREADY_EXISTS and
// the existing recall's seq in Error.Seq.
type MsgRecallResp struct {
	Status
	Seq int64 `json:"seq"`
}

var msgRecallRespFields = []string{"code", "seq"}

// RequiredFields implements Body.
func (r *MsgRecallResp) RequiredFields() []string { return r.need(msgRecallRespFields) }

// RecallBody returns the body of a recall message for the recalled seq.
func RecallBody(seq int64) string { return strconv.FormatInt(seq, 10) }

// ParseRecallBody returns the recalled seq of a recall message body.
func ParseRecallBody(body string) (int64, error) {
	seq, ok := parseID(body)
	if !ok {
		return 0, BadRequest("body", "not a seq")
	}
	return seq, nil
}

// MsgTypingReq is the body of msg.typing (1.1); the reply is a bare Status.
type MsgTypingReq struct {
	Conv string `json:"conv"`
}

var convFields = []string{"conv"}

// RequiredFields implements Body.
func (*MsgTypingReq) RequiredFields() []string { return convFields }

// Validate implements Request.
func (r *MsgTypingReq) Validate(*Limits) error {
	_, err := ParseConv(r.Conv)
	return err
}

// TypingPush is the body of the typing push (1.1): UserID is typing in Conv.
type TypingPush struct {
	Conv   string `json:"conv"`
	UserID int64  `json:"user_id"`
}

var typingFields = []string{"conv", "user_id"}

// RequiredFields implements Body.
func (*TypingPush) RequiredFields() []string { return typingFields }

// MsgSearchReq is the body of msg.search (1.1): Query matched as a
// case-insensitive substring, in Conv alone when given, only msg_ids below
// BeforeMsgID when given; Limit 0 means the default (see
// Limits.MessageSearchLimit).
type MsgSearchReq struct {
	Query       string `json:"query"`
	Conv        string `json:"conv,omitempty"`
	BeforeMsgID int64  `json:"before_msg_id,omitempty"`
	Limit       int    `json:"limit,omitempty"`
}

var querySearchFields = []string{"query"}

// RequiredFields implements Body.
func (*MsgSearchReq) RequiredFields() []string { return querySearchFields }

// Validate implements Request.
func (r *MsgSearchReq) Validate(l *Limits) error {
	if err := l.CheckMessageQuery(r.Query); err != nil {
		return err
	}
	if r.Conv != "" {
		if _, err := ParseConv(r.Conv); err != nil {
			return err
		}
	}
	if r.BeforeMsgID != 0 {
		if err := CheckID("before_msg_id", r.BeforeMsgID); err != nil {
			return err
		}
	}
	if r.Limit < 0 {
		return BadRequest("limit", "must not be negative")
	}
	return nil
}

// MsgSearchResp is the reply to msg.search: matches by msg_id descending;
// More is true when more matches exist below the last one.
type MsgSearchResp struct {
	Status
	Messages []Message `json:"messages"`
	More     bool      `json:"more"`
}

var msgSearchRespFields = []string{"code", "messages", "more"}

// RequiredFields implements Body.
func (r *MsgSearchResp) RequiredFields() []string { return r.need(msgSearchRespFields) }

// Normalize implements Normalizer.
func (r *MsgSearchResp) Normalize() {
	if r.Messages == nil {
		r.Messages = []Message{}
	}
}
