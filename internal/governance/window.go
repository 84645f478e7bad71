package governance

import "time"

// dayWindow returns the quota day containing now: its start and end, given
// the time of day days start at (an offset from midnight) in loc. The
// start is that wall-clock time, so a day that spans a daylight saving
// change lasts 23 or 25 hours.
func dayWindow(now time.Time, dayStart time.Duration, loc *time.Location) (start, end time.Time) {
	local := now.In(loc)
	y, m, d := local.Date()
	h, mi, s := int(dayStart/time.Hour), int(dayStart%time.Hour/time.Minute), int(dayStart%time.Minute/time.Second)
	at := func(d int) time.Time { return time.Date(y, m, d, h, mi, s, 0, loc) }
	start = at(d)
	if start.After(local) {
		start = at(d - 1)
		d--
	}
	return start, at(d + 1)
}

// monthWindow returns the calendar month (in loc) containing now.
func monthWindow(now time.Time, loc *time.Location) (start, end time.Time) {
	local := now.In(loc)
	y, m, _ := local.Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, loc), time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
}
