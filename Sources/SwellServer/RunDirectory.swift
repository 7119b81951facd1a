import Foundation
import Logging
import SwellModel

/// Why the data or run directory cannot be used.
struct DirectoryError: Error, CustomStringConvertible {
    var description: String
}

/// The data directory: databases, archives and keys, readable by Swell alone.
///
/// The directory is 0700 and must belong to Swell's uid (an existing one with a looser mode
/// is tightened; one of another uid is refused). The databases, their `-wal` and `-shm`
/// files (SQLite gives them the database's mode) and `admin.key` are 0600.
enum DataDirectory {
    static let databases = ["swell.db", "tasks.db", "triggers.db"]

    /// Creates or checks the directory; returns its real path.
    /// - Parameter createDatabases: create the SQLite files 0600 up front (not with a PostgreSQL store).
    static func prepare(_ path: String, createDatabases: Bool = true, logger: Logger) throws -> String {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            // Parents first, as `--data-dir a/b/c` always allowed.
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard let resolved = realpath(path, nil) else {
            throw DirectoryError(description: "cannot use the data directory \(path): \(String(cString: strerror(errno)))")
        }
        let real = String(cString: resolved)
        free(resolved)
        let fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw DirectoryError(description: "cannot open the data directory \(real): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DirectoryError(description: "cannot stat the data directory \(real)") }
        guard st.st_uid == geteuid() else {
            throw DirectoryError(description:
                "the data directory \(real) belongs to uid \(st.st_uid), not to the uid Swell runs as (\(geteuid())); refusing to use it")
        }
        if st.st_mode & 0o777 != 0o700 {
            guard fchmod(fd, 0o700) == 0 else { throw DirectoryError(description: "cannot make \(real) private (mode 0700)") }
            logger.notice("data directory made private", metadata: ["path": "\(real)", "was": "\(String(st.st_mode & 0o777, radix: 8))", "now": "700"])
        }
        for name in databases { try privateFile(name, in: fd, directory: real, create: createDatabases) }
        for name in databases.flatMap({ ["\($0)-wal", "\($0)-shm"] }) + ["admin.key"] {
            try privateFile(name, in: fd, directory: real, create: false)
        }
        return real
    }

    /// Makes a file of the data directory 0600 (creating it empty if asked: SQLite takes an
    /// empty file as a new database and gives its `-wal` and `-shm` files the same mode).
    static func privateFile(_ name: String, in directory: Int32, directory path: String, create: Bool) throws {
        let file = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0o600)
        if file < 0 {
            if errno == ENOENT && !create { return }
            throw DirectoryError(description: "cannot open \(path)/\(name): \(String(cString: strerror(errno)))")
        }
        defer { close(file) }
        var st = stat()
        guard fstat(file, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == geteuid() else {
            throw DirectoryError(description: "\(path)/\(name) is not a regular file of Swell's uid; refusing to use it")
        }
        if st.st_mode & 0o777 != 0o600 { fchmod(file, 0o600) }
    }
}

/// Where the files instances use (unpacked code, bootstraps, temp directories) live while a
/// server runs: a directory of its own, made fresh at every start and removed at shutdown.
///
/// `/tmp/swell-run-PID.XXXXXX` with a random part (`mkdtemp`: created, never reused, so a
/// directory someone else made in advance is never used), owned by Swell, mode 0711
/// (others may traverse, not list), checked after creation through a descriptor. A marker
/// `.swell-owner` (0600) records the server's pid and start time, so that the next server
/// can reclaim the directories of servers that are gone.
struct RunDirectory: Sendable {
    let path: String
    static let prefix = "swell-run-"
    static let marker = ".swell-owner"

    /// The directory run directories are made in: `SWELL_RUN_DIR_PARENT` or `/tmp`.
    static var defaultParent: String {
        let given = ProcessInfo.processInfo.environment["SWELL_RUN_DIR_PARENT"] ?? ""
        return given.isEmpty ? "/tmp" : given
    }

    /// Creates a fresh run directory in `parent`.
    /// - Parameter reachableByOthers: instances run under other uids and must get in.
    static func create(in parent: String = defaultParent, dataDirectory: String, reachableByOthers: Bool) throws -> RunDirectory {
        try checkParent(parent)
        if reachableByOthers && !traversableByOthers(parent) {
            throw DirectoryError(description:
                "functions' uids cannot reach \(parent) (some directory on the way has no x for others); set SWELL_RUN_DIR_PARENT to a directory they can traverse")
        }
        var template = Array("\(parent)/\(prefix)\(getpid()).XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buf in mkdtemp(buf.baseAddress!) }
        guard created != nil else {
            throw DirectoryError(description: "cannot create a run directory in \(parent): \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw DirectoryError(description: "cannot open the run directory \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o777 == 0o700 else {
            throw DirectoryError(description: "the run directory \(path) is not Swell's own (uid \(st.st_uid), mode \(String(st.st_mode & 0o777, radix: 8))); refusing to use it")
        }
        guard fchmod(fd, 0o711) == 0 else { throw DirectoryError(description: "cannot set the mode of \(path)") }
        let stamp = "\(getpid()) \(processStartTime(getpid()) ?? 0)\n\(dataDirectory)\n"
        let file = openat(fd, marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw DirectoryError(description: "cannot write \(path)/\(marker)") }
        _ = stamp.withCString { write(file, $0, strlen($0)) }
        close(file)
        return RunDirectory(path: path)
    }

    /// Refuses a parent in which others could rename or replace our directory: it must
    /// belong to root or Swell and, if others may write to it, carry the sticky bit.
    static func checkParent(_ parent: String) throws {
        var st = stat()
        guard stat(parent, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw DirectoryError(description: "cannot create a run directory: \(parent) is not a directory")
        }
        let othersWrite = st.st_mode & (S_IWGRP | S_IWOTH) != 0
        guard st.st_uid == 0 || st.st_uid == geteuid(), !othersWrite || st.st_mode & S_ISVTX != 0 else {
            throw DirectoryError(description: "cannot create a run directory in \(parent): others may write to it without the sticky bit")
        }
    }

    /// Whether every directory from `/` down to `path` lets others through (x for "other").
    static func traversableByOthers(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/\(part)"
            var st = stat()
            guard stat(current, &st) == 0, st.st_mode & S_IXOTH != 0 else { return false }
        }
        return true
    }

    /// Removes the directory and everything in it (at shutdown), never following a link.
    func remove() throws {
        try FileTree.remove(path)
    }

    /// Removes the run directories of servers that are gone: Swell's own (owner and mode
    /// checked), with a marker whose process no longer runs; left by versions that wrote no
    /// marker (`swell-run-HEX`), when no running server derives that name and no process
    /// works inside; without a marker otherwise (a server that died while creating it), when
    /// older than a minute. Directories of other uids are left alone.
    /// - Returns: the paths removed.
    @discardableResult
    static func reclaimStale(in parent: String = defaultParent, logger: Logger) -> [String] {
        guard let parentFD = try? FileTree.openDirectory(parent) else { return [] }
        defer { close(parentFD) }
        var removed: [String] = []
        var legacyInUse: (names: Set<String>, directories: [String])?
        for name in (try? FileTree.names(in: parentFD, path: parent)) ?? [] where name.hasPrefix(prefix) {
            let path = "\(parent)/\(name)"
            guard let st = try? FileTree.status(name, in: parentFD, path: path), FileTree.isDirectory(st),
                st.st_uid == geteuid(), st.st_mode & 0o022 == 0
            else { continue }
            let stale: Bool
            if let owner = readMarker(path) {
                stale = !isRunning(pid: owner.pid, startTime: owner.startTime)
            } else if isLegacyName(name) {
                // Older servers named it after their data directory and wrote no marker.
                let inUse = legacyInUse ?? legacyDirectoriesInUse()
                legacyInUse = inUse
                stale = !inUse.names.contains(name) && !inUse.directories.contains { $0 == path || $0.hasPrefix(path + "/") }
            } else {
                // Being created right now (the marker follows mkdtemp), or left by a crash in between.
                stale = Date().timeIntervalSince1970 - Double(st.st_mtim.tv_sec) > 60
            }
            guard stale else { continue }
            do {
                try FileTree.remove(name, in: parentFD, path: path)
                removed.append(path)
            } catch {
                logger.warning("cannot remove a stale run directory", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        if !removed.isEmpty { logger.notice("removed run directories of servers that are gone", metadata: ["count": "\(removed.count)"]) }
        return removed
    }

    static func readMarker(_ path: String) -> (pid: pid_t, startTime: UInt64)? {
        let fd = open("\(path)/\(marker)", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid() else { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let first = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? ""
        let parts = first.split(separator: " ")
        guard parts.count == 2, let pid = pid_t(parts[0]), let start = UInt64(parts[1]) else { return nil }
        return (pid, start)
    }

    /// Whether `pid` runs and is the process that started at `startTime` (not a reused pid).
    static func isRunning(pid: pid_t, startTime: UInt64) -> Bool {
        guard let now = processStartTime(pid) else { return false }
        return startTime == 0 || now == startTime
    }

    /// Field 22 of `/proc/PID/stat` (clock ticks since boot).
    static func processStartTime(_ pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let paren = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, so start time is index 19 here.
        let fields = text[text.index(after: paren)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// What marker-less run directories running servers may use: the names older versions
    /// derived from each running `swell serve`'s data directory, and every process's working
    /// directory (instances and pre-booted runtimes work inside theirs).
    static func legacyDirectoriesInUse() -> (names: Set<String>, directories: [String]) {
        var names: Set<String> = []
        var directories: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd") else { continue }
            directories.append(cwd)
            guard let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if let data = serveDataDirectory(args) {
                let absolute = URL(fileURLWithPath: data, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
                names.insert(legacyName(absolute))
            }
        }
        return (names, directories)
    }

    /// The data directory of a `swell serve` command line, or nil for another command.
    static func serveDataDirectory(_ args: [String]) -> String? {
        guard let program = args.first, (program as NSString).lastPathComponent == "swell", args.contains("serve") else { return nil }
        for (i, arg) in args.enumerated() {
            if arg == "--data-dir", i + 1 < args.count { return args[i + 1] }
            if arg.hasPrefix("--data-dir=") { return String(arg.dropFirst("--data-dir=".count)) }
        }
        return ".swell"
    }

    /// Whether a name is one older versions used: `swell-run-` and up to 16 lowercase hex digits.
    static func isLegacyName(_ name: String) -> Bool {
        let hex = name.dropFirst(prefix.count)
        return name.hasPrefix(prefix) && (1...16).contains(hex.count) && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The run directory name older versions derived from a data directory (FNV-1a, 64 bits).
    static func legacyName(_ dataDirectory: String) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in dataDirectory.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return prefix + String(hash, radix: 16)
    }
}
