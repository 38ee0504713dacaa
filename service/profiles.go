package service

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// Profiles and user search (section 5).

func (s *Server) profileGet(x *call, req *protocol.ProfileGetReq) (*protocol.ProfileGetResp, error) {
	u, err := s.store.UserByID(x.ctx(), req.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeNotFound, "user not found")
	}
	if err != nil {
		return nil, err
	}
	resp := &protocol.ProfileGetResp{Status: protocol.OK(), Profile: toProfile(u)}
	if u.AvatarSHA256 != "" {
		img, err := s.store.Avatar(x.ctx(), u.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if len(img) > 0 {
			resp.Avatar = base64.StdEncoding.EncodeToString(img)
		}
	}
	return resp, nil
}

func (s *Server) profileUpdate(x *call, req *protocol.ProfileUpdateReq) (*protocol.ProfileUpdateResp, error) {
	upd := store.ProfileUpdate{Nickname: req.Nickname, Signature: req.Signature}
	if req.Avatar != nil {
		img, err := s.cfg.Limits.CheckAvatar(*req.Avatar)
		if err != nil {
			return nil, err
		}
		upd.SetAvatar, upd.Avatar = true, img
	}
	u, err := s.store.UpdateProfile(x.ctx(), x.sess.userID, upd)
	if err != nil {
		return nil, err
	}
	p := toProfile(u)
	s.storeOwnProfile(u.ID, p)
	if s.node != nil {
		// The user's sessions on other nodes keep their own copy too.
		b, _ := json.Marshal(p)
		env := encodeBus(busProfile, &busHeader{From: s.node.ID(), User: u.ID}, b)
		for _, id := range s.node.Nodes(nil, u.ID) {
			if err := s.node.Send(id, env); err != nil {
				s.log.Warn().Str("to_node", id).Err(err).Msg("bus: profile not sent")
			}
		}
	}
	friends, err := s.store.Friends(x.ctx(), u.ID, maxFriends)
	if err != nil {
		return nil, err
	}
	if len(friends) > 0 {
		s.pushUsers(friendIDs(friends), encodePush(protocol.OpProfileChanged, &protocol.ProfileChangedPush{Profile: p}), "", 0, nil)
	}
	return &protocol.ProfileUpdateResp{Status: protocol.OK(), Profile: p}, nil
}

// storeOwnProfile replaces the profile this node's sessions of user keep.
func (s *Server) storeOwnProfile(user int64, p protocol.Profile) {
	for _, sess := range s.router.Sessions(user) {
		sess.profile.Store(&p)
	}
}

func (s *Server) userSearch(x *call, req *protocol.UserSearchReq) (*protocol.UserSearchResp, error) {
	users, err := s.store.SearchUsers(x.ctx(), req.Query, s.cfg.Limits.SearchResults)
	if err != nil {
		return nil, err
	}
	resp := &protocol.UserSearchResp{Status: protocol.OK(), Users: make([]protocol.Profile, 0, len(users))}
	for _, u := range users {
		resp.Users = append(resp.Users, toProfile(u))
	}
	return resp, nil
}

// profiles returns the profiles of ids (missing users get a bare profile
// with only the id, which cannot happen for ids read from the store).
func (s *Server) profiles(x *call, ids ...int64) (map[int64]protocol.Profile, error) {
	users, err := s.store.UsersByIDs(x.ctx(), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]protocol.Profile, len(ids))
	for _, id := range ids {
		if u, ok := users[id]; ok {
			out[id] = toProfile(u)
		} else {
			out[id] = protocol.Profile{UserID: id}
		}
	}
	return out, nil
}
