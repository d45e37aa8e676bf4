package baseline

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	ole "github.com/go-ole/go-ole"
	"github.com/go-ole/go-ole/oleutil"
	"github.com/yusufpapurcu/wmi"
)

// LastPatch returns the newest successful update installation from the
// Windows Update Agent's history (what Settings > Windows Update > Update
// history shows), else from the newest Win32_QuickFixEngineering entry
// (Get-HotFix), else from the Windows 7-era Auto Update\Results\Install key.
// A source that answers with no installation at all yields a zero time.
func (w *winLive) LastPatch() (patchRecord, error) {
	var errs []error
	if t, err := wuaLastInstall(); err == nil {
		return patchRecord{Time: t, Source: "Windows Update history"}, nil
	} else {
		errs = append(errs, fmt.Errorf("Windows Update history: %w", err))
	}
	if t, err := qfeLastInstall(); err == nil {
		return patchRecord{Time: t, Source: "installed updates (Win32_QuickFixEngineering)"}, nil
	} else {
		errs = append(errs, fmt.Errorf("Win32_QuickFixEngineering: %w", err))
	}
	s, err := w.RegString(`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\Results\Install`, "LastSuccessTime")
	if err == nil {
		t, perr := time.Parse("2006-01-02 15:04:05", s)
		if perr == nil {
			return patchRecord{Time: t, Source: `WindowsUpdate\Auto Update\Results\Install`}, nil
		}
		err = perr
	}
	errs = append(errs, fmt.Errorf(`WindowsUpdate\Auto Update\Results\Install\LastSuccessTime: %w`, err))
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return patchRecord{}, errors.New(strings.Join(msgs, "; "))
}

// wuaLastInstall walks the Windows Update Agent history
// (IUpdateSearcher::QueryHistory) for the newest installation whose result
// is succeeded or succeeded with errors.
func wuaLastInstall() (time.Time, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := ole.CoInitializeEx(0, ole.COINIT_MULTITHREADED); err != nil {
		var oe *ole.OleError
		if !errors.As(err, &oe) || oe.Code() != 1 { // S_FALSE: already initialised
			return time.Time{}, fmt.Errorf("initialise COM: %w", err)
		}
	}
	defer ole.CoUninitialize()
	unknown, err := oleutil.CreateObject("Microsoft.Update.Session")
	if err != nil {
		return time.Time{}, fmt.Errorf("create Microsoft.Update.Session: %w", err)
	}
	defer unknown.Release()
	session, err := unknown.QueryInterface(ole.IID_IDispatch)
	if err != nil {
		return time.Time{}, err
	}
	defer session.Release()
	sv, err := oleutil.CallMethod(session, "CreateUpdateSearcher")
	if err != nil {
		return time.Time{}, fmt.Errorf("CreateUpdateSearcher: %w", err)
	}
	searcher := sv.ToIDispatch()
	defer searcher.Release()
	nv, err := oleutil.CallMethod(searcher, "GetTotalHistoryCount")
	if err != nil {
		return time.Time{}, fmt.Errorf("GetTotalHistoryCount: %w", err)
	}
	n := min(int(nv.Val), 2000)
	if n == 0 {
		return time.Time{}, nil
	}
	hv, err := oleutil.CallMethod(searcher, "QueryHistory", 0, n)
	if err != nil {
		return time.Time{}, fmt.Errorf("QueryHistory: %w", err)
	}
	hist := hv.ToIDispatch()
	defer hist.Release()
	cv, err := oleutil.GetProperty(hist, "Count")
	if err != nil {
		return time.Time{}, err
	}
	var entries []wuaEntry
	for i := range int(cv.Val) {
		iv, err := oleutil.GetProperty(hist, "Item", i)
		if err != nil {
			return time.Time{}, fmt.Errorf("history entry %d: %w", i, err)
		}
		item := iv.ToIDispatch()
		e := wuaEntry{}
		if v, err := oleutil.GetProperty(item, "Operation"); err == nil {
			e.Operation = int(v.Val)
		}
		if v, err := oleutil.GetProperty(item, "ResultCode"); err == nil {
			e.Result = int(v.Val)
		}
		if v, err := oleutil.GetProperty(item, "Date"); err == nil {
			e.Date, _ = v.Value().(time.Time)
		}
		item.Release()
		entries = append(entries, e)
	}
	return newestInstall(entries), nil
}

// qfeLastInstall is the newest InstalledOn of Win32_QuickFixEngineering.
func qfeLastInstall() (time.Time, error) {
	var qfe []struct{ InstalledOn string }
	if err := wmi.Query("SELECT InstalledOn FROM Win32_QuickFixEngineering", &qfe, ".", `root\CIMV2`); err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, q := range qfe {
		if t, ok := qfeTime(q.InstalledOn); ok && t.After(newest) {
			newest = t
		}
	}
	return newest, nil
}
