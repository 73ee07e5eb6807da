package applets

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fnmatch reports whether name matches the shell pattern (* ? [...] with !
// or ^ negation, [:class:] and backslash escapes). With pathname set, * ?
// and [...] never match '/'. With fold, case is ignored. A malformed
// bracket matches a literal '['.
func fnmatch(pattern, name string, pathname, fold bool) bool {
	if fold {
		pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	}
	// Iterative matcher with backtracking to the last star.
	px, nx := 0, 0
	starPx, starNx := -1, -1
	for px < len(pattern) || nx < len(name) {
		if px < len(pattern) {
			c := pattern[px]
			switch c {
			case '*':
				starPx, starNx = px, nx
				px++
				continue
			case '?':
				if nx < len(name) && !(pathname && name[nx] == '/') {
					_, n := utf8.DecodeRuneInString(name[nx:])
					px++
					nx += n
					continue
				}
			case '[':
				if nx < len(name) {
					r, n := utf8.DecodeRuneInString(name[nx:])
					ok, width, valid := matchBracket(pattern[px:], r)
					if !valid {
						if name[nx] == '[' {
							px++
							nx++
							continue
						}
					} else if ok && !(pathname && r == '/') {
						px += width
						nx += n
						continue
					}
				}
			default:
				if c == '\\' && px+1 < len(pattern) {
					px++
					c = pattern[px]
				}
				if nx < len(name) && name[nx] == c {
					px++
					nx++
					continue
				}
			}
		}
		if starPx >= 0 && starNx < len(name) && !(pathname && name[starNx] == '/') {
			_, n := utf8.DecodeRuneInString(name[starNx:])
			starNx += n
			px, nx = starPx+1, starNx
			continue
		}
		return false
	}
	return true
}

// matchBracket matches r against the bracket expression at the start of p;
// it returns the match, the length of the expression and whether it was
// well formed.
func matchBracket(p string, r rune) (match bool, width int, valid bool) {
	i := 1
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return match != neg, i + 1, true
		}
		first = false
		if p[i] == '[' && i+1 < len(p) && p[i+1] == ':' {
			end := strings.Index(p[i+2:], ":]")
			if end < 0 {
				return false, 0, false
			}
			if classMatch(p[i+2:i+2+end], r) {
				match = true
			}
			i += 2 + end + 2
			continue
		}
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		lo, n := utf8.DecodeRuneInString(p[i:])
		i += n
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			i++
			if p[i] == '\\' && i+1 < len(p) {
				i++
			}
			hi, n = utf8.DecodeRuneInString(p[i:])
			i += n
		}
		if lo <= r && r <= hi {
			match = true
		}
	}
	return false, 0, false
}

// classMatch reports whether r is in the POSIX class name.
func classMatch(name string, r rune) bool {
	switch name {
	case "alpha":
		return unicode.IsLetter(r)
	case "digit":
		return r >= '0' && r <= '9'
	case "alnum":
		return unicode.IsLetter(r) || (r >= '0' && r <= '9')
	case "upper":
		return unicode.IsUpper(r)
	case "lower":
		return unicode.IsLower(r)
	case "space":
		return r == ' ' || (r >= '\t' && r <= '\r')
	case "blank":
		return r == ' ' || r == '\t'
	case "punct":
		return r < 128 && unicode.IsPunct(r) || r < 128 && unicode.IsSymbol(r)
	case "print":
		return r >= ' ' && r != 127 && unicode.IsPrint(r)
	case "graph":
		return r > ' ' && r != 127 && unicode.IsPrint(r)
	case "cntrl":
		return r < ' ' || r == 127
	case "xdigit":
		return strings.ContainsRune("0123456789abcdefABCDEF", r)
	}
	return false
}
