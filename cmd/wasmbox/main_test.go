package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/shims"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"wasmbox": func() { os.Exit(wasmboxMain()) },
	})
}

// TestScripts runs the end-to-end CLI scripts of testdata/script: the real
// wasmbox command, real stand-ins on the real wazero, a fresh store each.
func TestScripts(t *testing.T) {
	dir := testutil.ShimsDir(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv(shims.EnvDir, dir)
			env.Setenv("WASMBOX_HOME", env.WorkDir+"/home")
			env.Setenv("REPO", root)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"registry":      cmdRegistry,
			"foreign-image": cmdForeignImage,
		},
	})
}
