package depcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runtime's exported API names no type of wazero: a library user depends
// on runtime, not on wazero's experimental packages, and the overlay's
// build-side methods live behind internal/engine.
func TestRuntimeAPIHidesWazero(t *testing.T) {
	dir := filepath.Join("..", "..", "runtime")
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	exported := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		// The local names of wazero's packages in this file.
		wazero := map[string]bool{}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, "github.com/tetratelabs/wazero") {
				continue
			}
			local := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			wazero[local] = true
		}
		check := func(what string, n ast.Node) {
			exported++
			ast.Inspect(n, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && wazero[id.Name] {
						t.Errorf("%s: runtime's API names wazero's %s.%s", what, id.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
					continue
				}
				check(fset.Position(d.Pos()).String()+" "+d.Name.Name, d.Type)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							check(fset.Position(s.Pos()).String()+" "+s.Name.Name, exportedParts(s.Type))
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() && s.Type != nil {
								check(fset.Position(s.Pos()).String()+" "+n.Name, s.Type)
							}
						}
					}
				}
			}
		}
	}
	if exported < 20 {
		t.Fatalf("found only %d exported declarations in runtime: the walk is broken", exported)
	}
}

func exportedRecv(recv *ast.FieldList) bool {
	t := recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// exportedParts is what of a type declaration a user sees: an interface's
// methods, a struct's exported fields.
func exportedParts(t ast.Expr) ast.Node {
	st, ok := t.(*ast.StructType)
	if !ok {
		if it, ok := t.(*ast.InterfaceType); ok {
			var kept []*ast.Field
			for _, m := range it.Methods.List {
				if len(m.Names) == 0 || m.Names[0].IsExported() {
					kept = append(kept, m)
				}
			}
			return &ast.FieldList{List: kept}
		}
		return t
	}
	var kept []*ast.Field
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.IsExported() {
				kept = append(kept, f)
				break
			}
		}
	}
	return &ast.FieldList{List: kept}
}
