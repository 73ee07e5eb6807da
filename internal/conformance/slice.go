package main

// The slice of CPython's regression suite that make conformance runs:
// modules agents use that do not need threads, sockets or processes
// (their tests that do are skipped by regrtest itself on WASI).
var slice = []string{
	"test_base64", "test_bz2", "test_collections", "test_csv",
	"test_dataclasses", "test_datetime", "test_decimal", "test_enum",
	"test_fractions", "test_functools", "test_glob", "test_hashlib",
	"test_itertools", "test_json", "test_lzma", "test_math", "test_os",
	"test_pathlib", "test_re", "test_shutil", "test_sqlite3",
	"test_statistics", "test_string", "test_struct", "test_tempfile",
	"test_textwrap", "test_tomllib", "test_typing", "test_unicodedata",
	"test_xml_etree", "test_zlib",
}

// quick is the part of the slice make test runs (TestQuickModules), a
// few minutes at most on 2 cores: the file system (test_os, test_shutil:
// known failures too), C modules with pure-Python fallbacks (test_datetime
// runs _datetime and _pydatetime; test_decimal, filtered to four classes,
// its C and Py variants of each, _decimal and _pydecimal), the parsers
// agents use (test_json, test_csv, test_re), and a module with a stub
// (test_sqlite3).
var quick = []string{
	"test_json", "test_csv", "test_re", "test_os", "test_shutil", "test_sqlite3", "test_datetime",
	"test_decimal:*ArithmeticOperatorsTest*:*FormatTest*:*ContextAPItests*:*CheckAttributes*",
}

// known lists tests that fail in a box for a reason outside wasmbox's
// runtime, by test id (a path.Match pattern over "module.Class.test").
// They still count as failures in the table; a module whose failures are
// all known does not fail make conformance. An entry whose test passes is
// reported, so the list cannot go stale silently.
var known = []struct{ id, reason string }{
	{"test.test_os.UtimeTests.test_utime_current*", utimeNow},
	{"test.test_pathlib.*.test_touch_common", utimeNow},
	{"test.test_pathlib.*.test_mkdir_parents", "WASI's path_create_directory has no mode: wasi-libc's mkdirat drops it (__wasilibc_nocwd_mkdirat_nomode), so Path.mkdir(0o555) makes a 0o755 directory, which the box's stat now shows"},
	{"test.test_shutil.TestArchives.test_tarfile_vs_tar", "WASI has no processes: the test runs tar through subprocess without asking for subprocess support"},
	{"test.test_sqlite3.test_transactions.TransactionTests.test_locking", sqliteLocks},
	{"test.test_sqlite3.test_transactions.TransactionTests.test_raise_timeout", sqliteLocks},
	{"test.test_shutil.TestCopyTree.test_copytree_dangling_symlinks", utimeNoFollow},
	{"test.test_shutil.TestCopyTree.test_copytree_symlink_dir", utimeNoFollow},
}

const sqliteLocks = "WASI has no file locks: the box's SQLite uses the unix-none VFS (shims/python/build.sh), so a second connection to a file does not see the first one's lock"

const utimeNoFollow = "os.utime(link, follow_symlinks=False) (copystat of a copied symlink): wazero emulates it by opening the path for writing, which follows the link: ENOENT for a dangling link, EISDIR for a link to a directory"

// stubs are Python modules the conformance box carries for some test
// modules only (on their PYTHONPATH): the box's CPython is built without
// CPython's test-only C modules (--disable-test-modules), and
// test_sqlite3 imports two C limits from _testcapi when it loads. The
// values are wasm32's (C int 32 bits, unsigned long long 64).
var stubs = map[string]map[string]string{
	"test_sqlite3": {"_testcapi.py": "# Stand-in for the two constants test_sqlite3 imports.\nINT_MAX = 2**31 - 1\nULLONG_MAX = 2**64 - 1\n"},
}

const utimeNow = "os.utime(path) without times sets the epoch: Debian's wasi-libc (clang 14) drops utimensat's NULL check (miscompiled utimens_get_timestamps), so the guest asks for time 0"
