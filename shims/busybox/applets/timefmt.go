package applets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// strftime formats t like date +FORMAT (GNU directives, with the flags
// - _ 0 ^ # and a field width).
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		// flags
		var pad byte // 0: default
		upper, swapCase := false, false
		for ; i < len(format); i++ {
			switch format[i] {
			case '-', '_', '0':
				pad = format[i]
				continue
			case '^':
				upper = true
				continue
			case '#':
				swapCase = true
				continue
			}
			break
		}
		width := -1
		for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
			if width < 0 {
				width = 0
			}
			width = width*10 + int(format[i]-'0')
		}
		colons := 0
		for ; i < len(format) && format[i] == ':'; i++ {
			colons++
		}
		if i >= len(format) {
			b.WriteString(format[strings.LastIndexByte(format, '%'):])
			break
		}
		d := format[i]
		// num formats a number with a default width and padding.
		num := func(n int64, w int, defPad byte) string {
			p := defPad
			if pad != 0 {
				p = pad
			}
			if width >= 0 {
				w = width
			}
			neg := n < 0
			if neg {
				n = -n
			}
			s := strconv.FormatInt(n, 10)
			if neg {
				w--
			}
			if p != '-' {
				fill := "0"
				if p == '_' {
					fill = " "
				}
				for len(s) < w {
					s = fill + s
				}
			}
			if neg {
				s = "-" + s
			}
			return s
		}
		str := func(s string) string {
			if upper {
				s = strings.ToUpper(s)
			}
			if swapCase {
				if strings.ToUpper(s) == s {
					s = strings.ToLower(s)
				} else {
					s = strings.ToUpper(s)
				}
			}
			if width > len(s) {
				fill := " "
				if pad == '0' {
					fill = "0"
				}
				s = strings.Repeat(fill, width-len(s)) + s
			}
			return s
		}
		hour12 := t.Hour() % 12
		if hour12 == 0 {
			hour12 = 12
		}
		year, week := t.ISOWeek()
		switch d {
		case '%':
			b.WriteString("%")
		case 'a':
			b.WriteString(str(t.Weekday().String()[:3]))
		case 'A':
			b.WriteString(str(t.Weekday().String()))
		case 'b', 'h':
			b.WriteString(str(t.Month().String()[:3]))
		case 'B':
			b.WriteString(str(t.Month().String()))
		case 'c':
			b.WriteString(str(strftime("%a %b %e %H:%M:%S %Y", t)))
		case 'C':
			b.WriteString(num(int64(t.Year()/100), 2, '0'))
		case 'd':
			b.WriteString(num(int64(t.Day()), 2, '0'))
		case 'D', 'x':
			b.WriteString(str(strftime("%m/%d/%y", t)))
		case 'e':
			b.WriteString(num(int64(t.Day()), 2, '_'))
		case 'F':
			b.WriteString(str(strftime("%Y-%m-%d", t)))
		case 'g':
			b.WriteString(num(int64(year%100), 2, '0'))
		case 'G':
			b.WriteString(num(int64(year), 4, '0'))
		case 'H':
			b.WriteString(num(int64(t.Hour()), 2, '0'))
		case 'I':
			b.WriteString(num(int64(hour12), 2, '0'))
		case 'j':
			b.WriteString(num(int64(t.YearDay()), 3, '0'))
		case 'k':
			b.WriteString(num(int64(t.Hour()), 2, '_'))
		case 'l':
			b.WriteString(num(int64(hour12), 2, '_'))
		case 'm':
			b.WriteString(num(int64(t.Month()), 2, '0'))
		case 'M':
			b.WriteString(num(int64(t.Minute()), 2, '0'))
		case 'n':
			b.WriteString("\n")
		case 'N':
			s := fmt.Sprintf("%09d", t.Nanosecond())
			if width > 0 && width < 9 {
				s = s[:width]
			}
			b.WriteString(s)
		case 'p':
			s := "AM"
			if t.Hour() >= 12 {
				s = "PM"
			}
			if swapCase {
				s = strings.ToLower(s)
				swapCase = false
			}
			b.WriteString(str(s))
		case 'P':
			s := "am"
			if t.Hour() >= 12 {
				s = "pm"
			}
			b.WriteString(str(s))
		case 'r':
			b.WriteString(str(strftime("%I:%M:%S %p", t)))
		case 'R':
			b.WriteString(str(strftime("%H:%M", t)))
		case 's':
			b.WriteString(num(t.Unix(), 1, '0'))
		case 'S':
			b.WriteString(num(int64(t.Second()), 2, '0'))
		case 't':
			b.WriteString("\t")
		case 'T', 'X':
			b.WriteString(str(strftime("%H:%M:%S", t)))
		case 'u':
			wd := int64(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(num(wd, 1, '0'))
		case 'U':
			b.WriteString(num(int64((t.YearDay()+6-int(t.Weekday()))/7), 2, '0'))
		case 'V':
			b.WriteString(num(int64(week), 2, '0'))
		case 'w':
			b.WriteString(num(int64(t.Weekday()), 1, '0'))
		case 'W':
			b.WriteString(num(int64((t.YearDay()+6-(int(t.Weekday())+6)%7)/7), 2, '0'))
		case 'y':
			b.WriteString(num(int64(t.Year()%100), 2, '0'))
		case 'Y':
			b.WriteString(num(int64(t.Year()), 1, '0'))
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign = '-'
				off = -off
			}
			h, m, s := off/3600, off/60%60, off%60
			switch colons {
			case 0:
				fmt.Fprintf(&b, "%c%02d%02d", sign, h, m)
			case 1:
				fmt.Fprintf(&b, "%c%02d:%02d", sign, h, m)
			default:
				fmt.Fprintf(&b, "%c%02d:%02d:%02d", sign, h, m, s)
			}
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(str(name))
		default:
			b.WriteByte('%')
			b.WriteByte(d)
		}
	}
	return b.String()
}

// parseDate understands the date strings people give date -d and touch -d:
// "@EPOCH", "now", "today", "yesterday", "tomorrow", ISO 8601 and RFC 3339
// forms ("2024-01-02", "2024-01-02 03:04[:05[.N]]", "2024-01-02T03:04:05Z",
// with an optional zone offset), RFC 2822 and date's default output, plus
// relative items "N unit[s] [ago]" after any of these. loc is the zone of
// times without one.
func parseDate(s string, now time.Time, loc *time.Location) (time.Time, error) {
	orig := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		f, err := strconv.ParseFloat(s[1:], 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid date '%s'", orig)
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).In(loc), nil
	}
	base := now.In(loc)
	rest := s
	lower := strings.ToLower(s)
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999 Z07:00",
		"2006-01-02 15:04:05.999999999 -0700",
		"2006-01-02 15:04:05.999999999 MST",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04 Z07:00",
		"2006-01-02 15:04",
		"2006-01-02",
		"20060102",
		"2006/01/02 15:04:05",
		"2006/01/02",
		time.RFC1123Z,
		time.RFC1123,
		"Mon, 2 Jan 2006 15:04:05 -0700",
		time.UnixDate,
		"Mon Jan _2 15:04:05 2006",
		time.ANSIC,
		"Jan 2 2006 15:04:05",
		"Jan 2 2006",
		"2 Jan 2006 15:04:05",
		"2 Jan 2006",
		"January 2, 2006",
		"15:04:05",
		"15:04",
	}
	found := false
	switch {
	case lower == "" || strings.HasPrefix(lower, "now"):
		rest = s[min(len(s), 3):]
		found = true
	case strings.HasPrefix(lower, "today"):
		rest = s[5:]
		found = true
	case strings.HasPrefix(lower, "yesterday"):
		base = base.AddDate(0, 0, -1)
		rest = s[9:]
		found = true
	case strings.HasPrefix(lower, "tomorrow"):
		base = base.AddDate(0, 0, 1)
		rest = s[8:]
		found = true
	}
	if !found {
		// Try the longest prefix of words that parses with a layout.
		words := strings.Fields(s)
		for n := len(words); n > 0 && !found; n-- {
			cand := strings.Join(words[:n], " ")
			for _, l := range layouts {
				t, err := time.ParseInLocation(l, cand, loc)
				if err != nil {
					continue
				}
				if l == "15:04:05" || l == "15:04" {
					t = time.Date(base.Year(), base.Month(), base.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
				}
				base = t
				rest = strings.Join(words[n:], " ")
				found = true
				break
			}
		}
	}
	if !found {
		// Relative items alone apply to now.
		rest = s
	}
	t, err := applyRelative(base, rest)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid date '%s'", orig)
	}
	return t, nil
}

// applyRelative applies "[+-]N unit [ago]" items ("1 day ago", "+2 hours",
// "next week", "last month").
func applyRelative(t time.Time, s string) (time.Time, error) {
	words := strings.Fields(strings.ToLower(s))
	for i := 0; i < len(words); i++ {
		n := int64(1)
		w := words[i]
		switch w {
		case "next":
			i++
		case "last":
			n = -1
			i++
		default:
			if v, err := strconv.ParseInt(strings.TrimPrefix(w, "+"), 10, 64); err == nil {
				n = v
				i++
			} else if k := strings.IndexFunc(w, func(r rune) bool { return r < '0' || r > '9' }); k > 0 || (k > 1 && (w[0] == '-' || w[0] == '+')) {
				v, err := strconv.ParseInt(w[:k], 10, 64)
				if err != nil {
					return t, err
				}
				n = v
				words[i] = w[k:]
			}
		}
		if i >= len(words) {
			return t, errors.New("missing unit")
		}
		unit := strings.TrimSuffix(words[i], "s")
		if i+1 < len(words) && words[i+1] == "ago" {
			n = -n
			i++
		}
		switch unit {
		case "sec", "second":
			t = t.Add(time.Duration(n) * time.Second)
		case "min", "minute":
			t = t.Add(time.Duration(n) * time.Minute)
		case "hour":
			t = t.Add(time.Duration(n) * time.Hour)
		case "day":
			t = t.AddDate(0, 0, int(n))
		case "week":
			t = t.AddDate(0, 0, 7*int(n))
		case "fortnight":
			t = t.AddDate(0, 0, 14*int(n))
		case "month":
			t = t.AddDate(0, int(n), 0)
		case "year":
			t = t.AddDate(int(n), 0, 0)
		case "utc", "z":
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		default:
			return t, errors.New("unknown unit")
		}
	}
	return t, nil
}

// zone is the time zone of an applet: $TZ when it names a zone the box
// has data for, else UTC (a box has no local time of its own).
func (c *cmd) zone() *time.Location {
	tz := strings.TrimPrefix(c.env.Getenv("TZ"), ":")
	switch tz {
	case "", "UTC", "UTC0", "GMT", "GMT0", "Etc/UTC":
		return time.UTC
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.UTC
}
