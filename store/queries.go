package store

import "strings"

// The queries chatd runs at login and on the message path, named so that
// explain_test.go can check each one's plan uses an index.
const (
	qUserByName = `SELECT ` + userCols + `, password_hash FROM users WHERE username_key = ? AND deleted_at = 0`
	qUserByID   = `SELECT ` + userCols + `, password_hash FROM users WHERE id = ?`
	qSession    = `SELECT user_id, device, created_at, expires_at FROM sessions WHERE token_hash = ?`
	// A token login's session and user together: one query, not two.
	qSessionUser = `SELECT ` + userColsU + `,
		s.device, s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND u.username_key = ? AND u.deleted_at = 0`
	qFriends    = `SELECT ` + userColsU + ` FROM friends f JOIN users u ON u.id = f.friend_id WHERE f.user_id = ? ORDER BY f.friend_id LIMIT ?`
	qAreFriends = `SELECT COUNT(*) FROM friends WHERE user_id = ? AND friend_id = ?`
	qPendingIn  = `SELECT ` + requestCols + ` FROM friend_requests WHERE to_id = ? AND status = 0 ORDER BY id LIMIT ?`
	qPendingOut = `SELECT ` + requestCols + ` FROM friend_requests WHERE from_id = ? AND status = 0 ORDER BY id LIMIT ?`
	// What a login owes the user about friend requests, in one read (a
	// query costs more on SQLite than the rows it finds here): kind 0, the
	// pending requests to it, oldest first; kind 1, the answers to its own
	// requests not yet told to it, in the index's order (accepted, then
	// rejected, each by id: an ORDER BY id would sort in a temporary B-tree
	// on every login; the caller sorts). Args: user, limit, user, limit.
	qFriendNotices = `SELECT * FROM (SELECT 0 AS kind, ` + requestCols + ` FROM friend_requests WHERE to_id = ? AND status = 0 ORDER BY id LIMIT ?) pending_in
		UNION ALL SELECT * FROM (SELECT 1 AS kind, ` + requestCols + ` FROM friend_requests WHERE from_id = ? AND notified = 0 AND status IN (1, 2) LIMIT ?) answered`
	qUserGroupConv = `SELECT conv FROM conv_members WHERE user_id = ? AND conv >= 'g:' AND conv < 'g;' ORDER BY conv LIMIT ?`
	// Conversation ids are ASCII and compare byte-wise, so 'g:' <= conv <
	// 'g;' is exactly the group conversations: a primary-key range.
	qGroupsByIDs  = `SELECT id, name, owner_id, created_at, notice, member_count FROM chat_groups WHERE id IN (%s) ORDER BY id`
	qConvMembers  = `SELECT user_id FROM conv_members WHERE conv = ? ORDER BY user_id`
	qIsConvMember = `SELECT COUNT(*) FROM conv_members WHERE user_id = ? AND conv = ?`
	// A user's conversations with their cursors, mention seqs and newest
	// messages. The mention seq is the latest mention of the user or of
	// all (user_id 0, mention_all) above its read cursor, not its own
	// (recalled messages have no rows), 0 for none. The newest message is
	// a probe of messages' unique (conv, seq) key per row, its columns in
	// scanMessage's order with a conversation without one (last_seq 0)
	// read as id 0. All in one query: a query costs SQLite more than these
	// index probes (a second query for the newest messages was 44-51% of
	// this read's CPU at login). Both ids in one IN list: bound in two runs of one
	// statement, the changing id made SQLite re-prepare it on every login.
	// Args: user, user, limit.
	qConversations = `SELECT cm.conv, c.last_seq, c.last_ts, cm.ack_seq, cm.read_seq,
		COALESCE((SELECT MAX(mm.seq) FROM message_mentions mm WHERE mm.conv = cm.conv AND mm.user_id IN (?, 0)
			AND mm.seq > cm.read_seq AND mm.from_id <> cm.user_id), 0),
		COALESCE(m.id, 0), cm.conv, c.last_seq, COALESCE(m.from_id, 0), COALESCE(m.ts, 0), COALESCE(m.type, ''),
		COALESCE(m.body, ''), m.client_msg_id, COALESCE(m.mentions, ''), COALESCE(m.mention_all, 0), COALESCE(m.reply_to, 0)
		FROM conv_members cm JOIN conversations c ON c.id = cm.conv
		LEFT JOIN messages m ON m.conv = cm.conv AND m.seq = c.last_seq
		WHERE cm.user_id = ? ORDER BY cm.conv LIMIT ?`
	qMessagesAfter = `SELECT ` + msgCols + ` FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?`
	qMessageByID   = `SELECT ` + msgCols + ` FROM messages WHERE id = ?`
	qMessageAt     = `SELECT ` + msgCols + ` FROM messages WHERE conv = ? AND seq = ?`
	// Group commit: lock the batch's conversations (lock clause appended),
	// find existing idempotency keys, read the senders' cursors.
	qLockConvs = `SELECT id, last_seq FROM conversations WHERE id IN (%s) ORDER BY id`
	qIdemKeys  = `SELECT ` + msgCols + ` FROM messages WHERE client_msg_id IN (%s)`
	// Senders' cursors: %s is a derived table of (u, c, f, t) rows: move
	// user u's cursor in conv c from f to t. Joined on the primary key, so
	// no other row is touched.
	qCursors = `UPDATE conv_members cm JOIN (%s) v ON cm.user_id = v.u AND cm.conv = v.c AND cm.ack_seq = v.f SET cm.ack_seq = v.t`
	// Ack and read: %[1]s is the cursor column, %[2]s the dialect's min.
	qMoveCursor = `UPDATE conv_members SET %[1]s = %[2]s(?, (SELECT last_seq FROM conversations WHERE id = ?)) WHERE user_id = ? AND conv = ? AND %[1]s < %[2]s(?, (SELECT last_seq FROM conversations WHERE id = ?))`
	// The same steps one row at a time, for SQLite's prepared statements.
	qLockConv      = `SELECT last_seq FROM conversations WHERE id = ?`
	qFindKey       = `SELECT ` + msgCols + ` FROM messages WHERE client_msg_id = ? AND from_id = ?`
	qInsertMessage = `INSERT INTO messages (` + msgCols + `) VALUES (` + msgPlaceholders + `)`
	qAdvanceConv   = `UPDATE conversations SET last_seq = ?, last_ts = MAX(last_ts, ?) WHERE id = ?`
	qAdvanceCursor = `UPDATE conv_members SET ack_seq = ? WHERE user_id = ? AND conv = ? AND ack_seq = ?`
	// User search: %s is the dialect's prefix condition on the column.
	qSearch = `SELECT ` + userCols + ` FROM users WHERE %s AND deleted_at = 0 ORDER BY %s LIMIT ?`
)

// Message search (search.go). msgColsM is msgCols of table alias m.
var (
	msgColsM = "m." + strings.ReplaceAll(msgCols, ", ", ", m.")
	// A trigram index (%[1]s, rowid -id) newest first, joined to the
	// messages and (%[2]s) to the user's memberships, with more
	// conditions (%[3]s). Args: [user], phrase, -before, [conditions'],
	// limit.
	qSearchIndexed = `SELECT ` + msgColsM + ` FROM search.%[1]s f CROSS JOIN messages m ON m.id = -f.rowid %[2]s
		WHERE f.%[1]s MATCH ? AND f.rowid > ? AND m.type = 'text'%[3]s ORDER BY f.rowid LIMIT ?`
	qUserConvs = ` CROSS JOIN conv_members cm ON cm.user_id = ? AND cm.conv = m.conv`
	// A scan of the conversations (%[1]s: their ids), newest first, for a
	// condition (%[2]s); args: the conversations', before, the
	// condition's, limit.
	qSearchScan = `SELECT ` + msgColsM + ` FROM messages m WHERE m.conv IN (%[1]s) AND m.id < ? AND m.type = 'text' AND %[2]s ORDER BY m.id DESC LIMIT ?`
	// SQLite's messages not yet indexed (ftsindex.go), read by id (the
	// unary + keeps the planner off the conversation index: the id range
	// is the short one); args: mark, before, the conversations', the
	// condition's, limit.
	qSearchTail = `SELECT ` + msgColsM + ` FROM messages m WHERE m.id > ? AND m.id < ? AND m.type = 'text' AND +m.conv IN (%[1]s) AND %[2]s ORDER BY m.id DESC LIMIT ?`
)
