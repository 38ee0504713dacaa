package protocol

import "testing"

func TestConvBuild(t *testing.T) {
	if PrivateConv(1002, 1001) != "p:1001:1002" || PrivateConv(1001, 1002) != "p:1001:1002" {
		t.Error("PrivateConv order")
	}
	if GroupConv(77) != "g:77" {
		t.Error("GroupConv")
	}
	c, err := NewPrivateConv(9, 3)
	if err != nil || c.String() != "p:3:9" || !c.IsPrivate() || c.IsGroup() || c.Kind() != ConvPrivate {
		t.Errorf("%v %v", c, err)
	}
	if a, b := c.Users(); a != 3 || b != 9 {
		t.Error("Users")
	}
	if c.Peer(3) != 9 || c.Peer(9) != 3 || c.Peer(4) != 0 || !c.Has(3) || c.Has(4) || c.GroupID() != 0 {
		t.Error("Peer/Has")
	}
	if _, err := NewPrivateConv(3, 3); err == nil {
		t.Error("self conversation accepted")
	}
	if _, err := NewPrivateConv(0, 3); err == nil {
		t.Error("zero id accepted")
	}
	g, err := NewGroupConv(5)
	if err != nil || g.String() != "g:5" || g.GroupID() != 5 || g.Peer(5) != 0 || g.Has(5) {
		t.Errorf("%v %v", g, err)
	}
	if a, b := g.Users(); a != 0 || b != 0 {
		t.Error("group Users")
	}
	if _, err := NewGroupConv(MaxID); err == nil {
		t.Error("group id 2^53 accepted")
	}
	var zero ConvID
	if zero.Valid() || zero.String() != "" {
		t.Error("zero ConvID")
	}
}

func TestParseConv(t *testing.T) {
	good := map[string]ConvID{
		"p:1:2":                {kind: ConvPrivate, a: 1, b: 2},
		"p:1001:1002":          {kind: ConvPrivate, a: 1001, b: 1002},
		"g:1":                  {kind: ConvGroup, a: 1},
		"g:9007199254740991":   {kind: ConvGroup, a: MaxID - 1},
		"p:1:9007199254740991": {kind: ConvPrivate, a: 1, b: MaxID - 1},
	}
	for s, want := range good {
		got, err := ParseConv(s)
		if err != nil || got != want || got.String() != s || !got.Valid() {
			t.Errorf("%q: %+v %v", s, got, err)
		}
	}
	bad := []string{"", "p", "g", "g:", "p:", "x:1", "g:0", "g:01", "g:-1", "g:+1", "g:1 ", " g:1",
		"g:1a", "g:9007199254740992", "g:99999999999999999999", "p:2:1", "p:1:1", "p:0:1",
		"p:1:02", "p:1:", "p::2", "p:1:2:3", "p:1", "G:1", "g::1", "g:1:2", "p:1;2"}
	for _, s := range bad {
		if c, err := ParseConv(s); err == nil {
			t.Errorf("%q accepted as %+v", s, c)
		} else if e := AsError(err); e.Code != CodeBadRequest || e.Message[:5] != "conv:" {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func FuzzParseConv(f *testing.F) {
	for _, s := range []string{"p:1:2", "g:77", "p:1001:1002", "g:0", "p:2:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConv(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("%q parsed to %+v printing %q", s, c, c.String())
		}
	})
}
