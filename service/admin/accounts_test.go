package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/chatd/chatd/store"
)

// fakeEnforcer records what the account routes asked of it.
type fakeEnforcer struct {
	enforced []int64
	deleted  map[int64]store.AccountDeletion
}

func (f *fakeEnforcer) EnforceAccount(_ context.Context, id int64) (int, error) {
	f.enforced = append(f.enforced, id)
	return 2, nil
}

func (f *fakeEnforcer) EnforceDeletion(_ context.Context, id int64, del store.AccountDeletion) (int, error) {
	if id == 99 {
		return 0, errors.New("the account is not deleted")
	}
	f.deleted[id] = del
	return 1, nil
}

func post(t *testing.T, h http.Handler, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

func TestAccountRoutes(t *testing.T) {
	f := &fakeEnforcer{deleted: map[int64]store.AccountDeletion{}}
	h := handler(t, Config{Accounts: f})
	if code, body := post(t, h, "/accounts/7/enforce", ""); code != 200 || body != "{\"kicked\":2}\n" {
		t.Fatalf("enforce = %d %q", code, body)
	}
	code, body := post(t, h, "/accounts/8/deleted",
		`{"friends":[3],"dismissed":[{"group_id":5,"members":[3,4]}],"left":[{"group_id":6,"members":[4]}]}`)
	if code != 200 || body != "{\"kicked\":1}\n" {
		t.Fatalf("deleted = %d %q", code, body)
	}
	want := store.AccountDeletion{Friends: []int64{3},
		Dismissed: []store.GroupMembers{{GroupID: 5, Members: []int64{3, 4}}},
		Left:      []store.GroupMembers{{GroupID: 6, Members: []int64{4}}}}
	if got := f.deleted[8]; !reflect.DeepEqual(got, want) {
		t.Fatalf("deletion passed on as %+v, want %+v", got, want)
	}
	for path, wantCode := range map[string]int{
		"/accounts/0/enforce": 400, "/accounts/x/deleted": 400, "/accounts/99/deleted": 500,
	} {
		if code, _ := post(t, h, path, "{}"); code != wantCode {
			t.Errorf("POST %s = %d, want %d", path, code, wantCode)
		}
	}
	if code, _ := post(t, h, "/accounts/9/deleted", "{"); code != 400 {
		t.Errorf("POST a truncated body = %d, want 400", code)
	}
	if _, ok := f.deleted[9]; ok || len(f.enforced) != 1 {
		t.Fatalf("a refused request reached the enforcer: %v %v", f.deleted, f.enforced)
	}
	if code, _ := post(t, handler(t, Config{}), "/accounts/7/deleted", "{}"); code != http.StatusNotFound {
		t.Errorf("without Accounts: %d, want 404", code)
	}
}
