package fanout

// The socket file is shared with other containers of the pod (typically
// through an emptyDir volume) and outlives natsfan if natsfan is killed, so
// ListenUnix has to be careful on both ends of its life:
//
//   - At start a file may already be at the path. It is removed only if it is
//     a socket and nothing answers on it (connection refused): that is what a
//     crashed run leaves. A socket somebody answers on belongs to a live
//     process, usually a second sidecar given the same path by mistake, and
//     stealing it would silently cut that process's consumers off, so it is an
//     error. Anything that is not a socket (a regular file, a directory, a
//     symbolic link) is never touched.
//   - At a clean stop, closing the listener unlinks the file.
//
// Two natsfan processes that start at the very same moment on the same path
// can both find a stale socket and both remove it; the loser's listener is
// then unreachable. Two sidecars on one path are a misconfiguration either
// way, and the usual case, one sidecar starting while another runs, is
// caught.

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrSocketInUse is returned by ListenUnix when a process answers on the
// socket at the path: another natsfan, most likely, given the same path.
var ErrSocketInUse = errors.New("fanout: another process is serving on socket")

// staleProbeTimeout bounds the connection ListenUnix makes to tell a live
// socket from one a crashed process left behind. A connection to a Unix
// socket is answered by the kernel, not by the process, so it is quick
// unless the listener's backlog is full, which also means somebody is there.
const staleProbeTimeout = time.Second

// maxSocketPathLen is the longest path a Unix socket can be bound to: the
// size of sockaddr_un's sun_path less its terminating NUL (107 bytes on
// Linux, 103 on macOS).
var maxSocketPathLen = len(syscall.RawSockaddrUnix{}.Path) - 1

// ListenUnix listens on a Unix socket at path, whose file gets the
// permission bits mode (such as 0o660: owner and group may connect, others
// may not). Closing the listener removes the file.
//
// Missing directories on the way to path are created. Each gets search and
// read permission for every class of user (owner, group, others) the mode
// lets connect, and the owner may also write: 0o750 for a socket mode of
// 0o660, 0o700 for 0o600, 0o755 for 0o666. A directory that already exists,
// such as the mount point of a Kubernetes emptyDir volume shared with the
// application's container, is left as it is.
//
// A socket file already at path is replaced if nothing answers on it; if a
// process does, ListenUnix returns an error wrapping ErrSocketInUse. A file
// at path that is not a socket is an error and is left alone.
//
// The mode is applied with chmod once the socket exists, whatever the umask.
// In between, the file has the umask's permissions; the directory's are what
// guard that instant.
func ListenUnix(path string, mode os.FileMode) (*net.UnixListener, error) {
	switch {
	case path == "":
		return nil, errors.New("fanout: empty socket path")
	case len(path) > maxSocketPathLen:
		return nil, fmt.Errorf("fanout: socket path %q is %d bytes long, but a Unix socket path can be at most %d bytes", path, len(path), maxSocketPathLen)
	case mode&^os.ModePerm != 0:
		return nil, fmt.Errorf("fanout: socket mode %v has bits other than permissions", mode)
	}
	if err := makeSocketDir(filepath.Dir(path), dirModeFor(mode)); err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}

	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("fanout: cannot listen on socket %q: %w", path, err)
	}
	// The default for a listener made by Listen, but the whole clean-stop
	// story rests on it, so it is not left implicit.
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close() // removes the file; the chmod error is the one to report
		return nil, fmt.Errorf("fanout: cannot set the mode of socket %q: %w", path, err)
	}
	return ln, nil
}

// dirModeFor returns the mode of a directory created for a socket of the
// given mode: owner rwx, plus r-x for the group and for others if the socket
// grants them anything.
func dirModeFor(mode os.FileMode) os.FileMode {
	dir := os.FileMode(0o700)
	if mode&0o070 != 0 {
		dir |= 0o050
	}
	if mode&0o007 != 0 {
		dir |= 0o005
	}
	return dir
}

// makeSocketDir creates dir and any missing parents with mode, chmodding
// each one it creates so that the umask does not narrow it. Directories that
// exist are not changed. A path element that exists and is not a directory
// is an error.
func makeSocketDir(dir string, mode os.FileMode) error {
	// Find the directories to create, deepest first.
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("fanout: cannot create the socket's directory %q: %q is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fanout: cannot use the socket's directory %q: %w", dir, err)
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("fanout: cannot create the socket's directory: %w", err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Chmod(missing[i], mode); err != nil {
			return fmt.Errorf("fanout: cannot set the mode of the socket's directory: %w", err)
		}
	}
	return nil
}

// removeStaleSocket makes way for a new socket at path: it does nothing if
// path does not exist, removes a socket nothing answers on, and returns an
// error for anything else.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("fanout: cannot use socket path %q: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("fanout: cannot listen on socket %q: %s is in the way, and only a stale socket is ever removed; move it or choose another path", path, fileKind(fi.Mode()))
	}

	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	switch {
	case err == nil:
		_ = conn.Close()
		return fmt.Errorf("%w %q", ErrSocketInUse, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Left by a process that is gone: nobody listens on it.
	case errors.Is(err, syscall.ENOENT):
		return nil // removed since the Lstat
	default:
		// Permission denied, a full backlog, a timeout: a process may well
		// be there, so the file stays.
		return fmt.Errorf("fanout: cannot tell whether a process is serving on socket %q, so it is left in place: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fanout: cannot remove stale socket %q: %w", path, err)
	}
	return nil
}

// fileKind names the type of a file with mode m, for error messages.
func fileKind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a named pipe"
	default:
		return "a file of type " + m.Type().String()
	}
}
