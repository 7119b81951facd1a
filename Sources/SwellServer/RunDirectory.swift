import Foundation

/// Where the files instances use (unpacked code, bootstraps, temp directories) live.
///
/// Normally inside the data directory. When instances run under other uids (Swell runs
/// as root) and some parent of the data directory is closed to others (say `/root` or a
/// `mktemp -d` directory, mode 0700), a directory under `/tmp` is used instead, named
/// after the data directory so that one server keeps finding its own.
enum RunDirectory {
    static func prepare(data: String, instancesRunAsOtherUids: Bool) throws -> String {
        guard instancesRunAsOtherUids, !traversableByOthers(data) else { return data }
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in data.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        let dir = "/tmp/swell-run-" + String(hash, radix: 16)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Root-owned, traversable but not listable by others.
        chmod(dir, 0o711)
        return dir
    }

    /// Whether every directory from `/` down to `path` lets others through (x for "other").
    static func traversableByOthers(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/\(part)"
            var st = stat()
            guard stat(current, &st) == 0 else { return false }
            if st.st_mode & S_IXOTH == 0 { return false }
        }
        return true
    }
}
