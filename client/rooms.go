package client

import (
	"context"

	"github.com/chatd/chatd/protocol"
)

// RoomJoinInfo joins a room and returns the whole reply: the room (its
// name, owner and member count, protocol 1.1; nil from a 1.0 server), the
// first members and whether more exist (see RoomMembers).
func (c *Client) RoomJoinInfo(ctx context.Context, roomID int64) (*protocol.RoomJoinResp, error) {
	var r protocol.RoomJoinResp
	if err := c.call(ctx, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: roomID}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RoomMembers returns a page of a room's members with user_id above
// afterUserID, ascending (limit 0: the server's default); page on with the
// last user_id while the reply's More is true.
func (c *Client) RoomMembers(ctx context.Context, roomID, afterUserID int64, limit int) (*protocol.RoomMembersResp, error) {
	var r protocol.RoomMembersResp
	req := &protocol.RoomMembersReq{RoomID: roomID, AfterUserID: afterUserID, Limit: limit}
	if err := c.call(ctx, protocol.OpRoomMembers, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
