//go:build !wasip1

package proc

// defaultHost stands in for the wasmbox_proc imports outside wasip1:
// there is no box, so every call fails with ENOSYS.
type defaultHost struct{}

func (defaultHost) spawn([]byte) (uint32, Errno)            { return 0, ENOSYS }
func (defaultHost) lastError() string                       { return "" }
func (defaultHost) write(uint32, []byte) (int, Errno)       { return 0, ENOSYS }
func (defaultHost) read(uint32, int32, []byte) (int, Errno) { return 0, ENOSYS }
func (defaultHost) close(uint32, int32) Errno               { return ENOSYS }
func (defaultHost) wait(uint32) (uint32, Errno)             { return 0, ENOSYS }
func (defaultHost) kill(uint32) Errno                       { return ENOSYS }
func (defaultHost) chmod(string, uint32) Errno              { return ENOSYS }
func (defaultHost) lchown(string, uint32, uint32) Errno     { return ENOSYS }
func (defaultHost) stat(string, bool, *[16]byte) Errno      { return ENOSYS }
func (defaultHost) task(int32) Errno                        { return ENOSYS }
func (defaultHost) ids() (uint32, uint32, Errno)            { return 0, 0, ENOSYS }
