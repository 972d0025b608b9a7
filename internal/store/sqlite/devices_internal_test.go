package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// TestPurgeDeviceCodes checks that Purge keeps an expired device
// authorization for DeviceRetention, so late polls still hear
// expired_token, and removes it afterwards.
func TestPurgeDeviceCodes(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "b.db"))
	s := d.Store()
	ctx := t.Context()
	exp := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := s.DeviceCodes.Put(ctx, "dc", &store.DeviceCode{
		ClientID: "c", UserCodeHash: "u", ExpiresAt: exp, Interval: 5 * time.Second, Status: store.DevicePending,
	}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM device_codes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := d.Purge(ctx, exp.Add(DeviceRetention-time.Second)); err != nil {
		t.Fatal(err)
	}
	if count() != 1 {
		t.Fatal("device code purged inside its retention window")
	}
	if _, _, err := s.DeviceCodes.Poll(ctx, "dc", time.Now(), time.Second); err != nil {
		t.Errorf("Poll of an expired device code inside retention: %v", err)
	}
	if _, err := d.Purge(ctx, exp.Add(DeviceRetention)); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Error("device code kept past its retention window")
	}
}
