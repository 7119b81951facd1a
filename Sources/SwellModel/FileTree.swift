import Foundation

/// File operations relative to open directory descriptors that never follow a symbolic link,
/// for trees another uid can write to (temp directories, run directories) or that come from
/// a package: a link swapped in for a directory makes the operation fail instead of leading
/// root elsewhere.
public enum FileTree {
    /// A failed system call on a path.
    public struct Failure: Error, CustomStringConvertible {
        public var operation: String
        public var path: String
        public var errno: Int32

        public init(_ operation: String, _ path: String, errno: Int32) {
            self.operation = operation
            self.path = path
            self.errno = errno
        }

        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// Opens a directory without following a link at its last component.
    public static func openDirectory(_ path: String) throws(Failure) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open", path, errno: errno) }
        return fd
    }

    /// Opens the directory `name` below `parent`, never following a link.
    public static func openDirectory(_ name: String, in parent: Int32, path: String) throws(Failure) -> Int32 {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open", path, errno: errno) }
        return fd
    }

    /// The names in a directory (without `.` and `..`); `fd` stays open and owned by the caller.
    public static func names(in fd: Int32, path: String) throws(Failure) -> [String] {
        let copy = dup(fd)
        guard copy >= 0 else { throw Failure("read", path, errno: errno) }
        guard let dir = fdopendir(copy) else {
            let e = errno
            close(copy)
            throw Failure("read", path, errno: e)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `lstat` of `name` in `parent`.
    public static func status(_ name: String, in parent: Int32, path: String) throws(Failure) -> stat {
        var st = stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw Failure("stat", path, errno: errno) }
        return st
    }

    public static func isDirectory(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFDIR }
    public static func isRegular(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFREG }
    public static func isLink(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFLNK }

    /// Removes `name` in `parent` and everything below it; links are removed, never followed.
    /// A missing entry is not an error.
    public static func remove(_ name: String, in parent: Int32, path: String) throws(Failure) {
        var st = stat()
        if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return }
            throw Failure("stat", path, errno: errno)
        }
        if isDirectory(st) {
            let fd = try openDirectory(name, in: parent, path: path)
            defer { close(fd) }
            for child in try names(in: fd, path: path) {
                try remove(child, in: fd, path: "\(path)/\(child)")
            }
            guard unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw Failure("remove", path, errno: errno) }
        } else {
            guard unlinkat(parent, name, 0) == 0 || errno == ENOENT else { throw Failure("remove", path, errno: errno) }
        }
    }

    /// Removes the tree at an absolute path (its parent directories are trusted, its last
    /// component and everything below it are not).
    public static func remove(_ path: String) throws(Failure) {
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let fd = try openDirectory(parent.isEmpty ? "/" : parent)
        defer { close(fd) }
        try remove(name, in: fd, path: path)
    }
}
