package fsimage

import (
	"io/fs"
	"strings"
)

// MaxLinks is how many symbolic links one path resolution may follow, as
// Linux's MAXSYMLINKS.
const MaxLinks = 40

// Walker is what Walk needs of a tree of nodes of type N: the runtime's
// overlay, the flattened tree of a foreign image and an fsimage Tree all
// walk their paths through it.
type Walker[N any] interface {
	// Root is the directory names resolve from, and which they never leave.
	Root() N
	// Lookup returns the child name of the directory dir, and whether it
	// exists. When it does not, the node returned is what Walk gives back
	// for a missing last element (a create target), or the zero N.
	Lookup(dir N, name string) (N, bool)
	// IsDir reports whether n is a directory.
	IsDir(n N) bool
	// Link returns the target of n and true if n is a symbolic link.
	Link(n N) (string, bool)
}

// Walked is where Walk led.
type Walked[N any] struct {
	// Node is the node the name leads to. If Found is false, only the last
	// element was missing: Node is what Lookup returned for it, and its
	// parent directory exists.
	Node  N
	Found bool
	// Path is the real path of Node from the root, slash-separated, "."
	// for the root itself: the links followed on the way are replaced by
	// where they lead.
	Path string
}

// Walk resolves name in w, element by element, the way a Linux kernel
// resolves a path inside a chroot: symbolic links are followed in every
// element but the last, and in the last too if follow is set or a "/"
// follows it. Whatever the name or the links say, the walk stays inside
// w's root: a leading "/" (of the name or of a link target) starts again
// at the root, and ".." at the root stays at the root.
//
// Errors: more than MaxLinks links, ErrLoop; an element that must be a
// directory (one followed by a "/") and is not, ErrNotDir; a missing
// element before the last one, or a link with an empty target,
// fs.ErrNotExist. A missing last element is no error: the result has
// Found false.
func Walk[N any](w Walker[N], name string, follow bool) (Walked[N], error) {
	root := w.Root()
	// dirs are the directories from the root down to the current one, by
	// their real names: ".." pops one, a leading "/" keeps only the root.
	dirs := []N{root}
	var names []string
	rest, links := name, 0
	for rest != "" {
		var elem string
		var more bool // a "/" follows elem: it must be a directory
		elem, rest, more = strings.Cut(rest, "/")
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(names) > 0 {
				dirs, names = dirs[:len(dirs)-1], names[:len(names)-1]
			}
			continue
		}
		last := strings.Trim(rest, "/") == ""
		n, ok := w.Lookup(dirs[len(dirs)-1], elem)
		if !ok {
			if !last {
				return Walked[N]{}, fs.ErrNotExist
			}
			return Walked[N]{Node: n, Path: joinPath(names, elem)}, nil
		}
		if target, isLink := w.Link(n); isLink && (more || follow) {
			if links++; links > MaxLinks {
				return Walked[N]{}, ErrLoop
			}
			if target == "" {
				return Walked[N]{}, fs.ErrNotExist
			}
			if more {
				rest = target + "/" + rest
			} else {
				rest = target
			}
			if target[0] == '/' {
				dirs, names = dirs[:1], names[:0]
			}
			continue
		}
		if more {
			if !w.IsDir(n) {
				return Walked[N]{}, ErrNotDir
			}
			dirs, names = append(dirs, n), append(names, elem)
			continue
		}
		return Walked[N]{Node: n, Found: true, Path: joinPath(names, elem)}, nil
	}
	return Walked[N]{Node: dirs[len(dirs)-1], Found: true, Path: joinPath(names, "")}, nil
}

// joinPath is the path of elem in the directory names ("" for the
// directory itself).
func joinPath(names []string, elem string) string {
	if elem != "" {
		names = append(names[:len(names):len(names)], elem)
	}
	if len(names) == 0 {
		return "."
	}
	return strings.Join(names, "/")
}
