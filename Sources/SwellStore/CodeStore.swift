import CSwellSpawn
import Crypto
import Foundation
import NIOPosix
import SwellModel

/// Code packages, stored per namespace and unpacked per function.
///
/// ```
/// DATA/code/                    0700  root          archives, readable by Swell alone
/// DATA/code/NS/SHA256.tar       0600  root          the canonical archive as uploaded
/// RUN/code/                     0711  root          traversable, not listable
/// RUN/code/.staging/            0700  root          unpacking in progress
/// RUN/code/NS/                  0711  root
/// RUN/code/NS/FUNCTION/         0750  root:GID      only the function's gid gets in
/// RUN/code/NS/FUNCTION/SHA256/  0750  root:GID      the unpacked tree: dirs 0750, files 0640 or 0750
/// ```
///
/// A digest uploaded to one namespace is unknown to every other, so a tenant cannot deploy
/// (and run) another tenant's code by naming its digest. Each function gets its own copy,
/// group-owned by its own gid, so no other function's uid can read it; nobody but root can
/// write it. Unpacking never follows a link (`TarArchive.checkLayout` plus `openat` with
/// `O_NOFOLLOW` for every component) and, when Swell is root, runs with the function's own
/// uid as the thread's filesystem uid, so even a bug in the checks could only write where
/// that function could already write.
public final class CodeStore: Sendable {
    /// Where the archives are kept (inside the data directory).
    public let directory: String
    /// Where they are unpacked for instances (the run directory, reachable by instances' uids).
    public let unpackDirectory: String
    let stagingDirectory: String
    /// Where every node finds the packages any node stored (scale-out); nil for an embedded server.
    public let shared: (any PackageStorage)?

    /// The uid and gid a function's code belongs to (its own gid reads it; root owns it).
    public struct Owner: Sendable, Hashable {
        public var uid: UInt32
        public var gid: UInt32

        public init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }
    }

    public init(directory: String, unpackDirectory: String, shared: (any PackageStorage)? = nil) throws {
        self.shared = shared
        self.directory = directory
        self.unpackDirectory = unpackDirectory
        self.stagingDirectory = "\(unpackDirectory)/.staging"
        try Self.makeDirectory(directory, mode: 0o700)
        try Self.makeDirectory(unpackDirectory, mode: 0o711)
        try Self.makeDirectory(stagingDirectory, mode: 0o700)
    }

    /// The unpacked code of `function` in `namespace` (where `prepare` puts it).
    public static func functionDirectory(root: String, namespace: String, function: String, sha256: String) -> String {
        "\(root)/\(namespace)/\(function)/\(sha256)"
    }

    /// Whether `namespace` has a package with this digest.
    public func has(namespace: String, sha256: String) -> Bool {
        Self.isDigest(sha256) && FileManager.default.fileExists(atPath: archivePath(namespace, sha256))
    }

    /// Size of a stored package.
    public func size(namespace: String, sha256: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: archivePath(namespace, sha256)))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Stores an uploaded package for `namespace` after checking its digest and the whole
    /// archive (format and layout: see `TarArchive.read`).
    /// - Returns: the package size in bytes.
    @discardableResult
    public func put(_ data: Data, namespace: String, sha256 expected: String) throws -> Int {
        let actual = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard actual == expected else {
            throw SwellError.invalid("sha256", "the upload's digest is \(actual), not \(expected)")
        }
        if has(namespace: namespace, sha256: expected) { return data.count }
        _ = try TarArchive.read(data)
        try Self.makeDirectory("\(directory)/\(namespace)", mode: 0o700)
        let path = archivePath(namespace, expected)
        let tmp = path + ".tmp-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw SwellError(.internal, "cannot write \(tmp)")
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw SwellError(.internal, "cannot store the package: \(String(cString: strerror(e)))")
        }
        return data.count
    }

    /// Stores an uploaded package (see `put`) here and in the shared store, file work off the cooperative pool.
    /// - Returns: the package size in bytes.
    public func store(_ data: Data, namespace: String, sha256: String) async throws -> Int {
        let size = try await NIOThreadPool.singleton.runIfActive { try self.put(data, namespace: namespace, sha256: sha256) }
        try await shared?.putPackage(data, namespace: namespace, sha256: sha256)
        return size
    }

    /// Whether `namespace` has the package here, fetching it from the shared store first when
    /// another node stored it.
    public func ensureLocal(namespace: String, sha256: String) async throws -> Bool {
        guard Self.isDigest(sha256) else { return false }
        if try await NIOThreadPool.singleton.runIfActive({ self.has(namespace: namespace, sha256: sha256) }) { return true }
        guard let shared, let data = try await shared.package(namespace: namespace, sha256: sha256) else { return false }
        _ = try await NIOThreadPool.singleton.runIfActive { try self.put(data, namespace: namespace, sha256: sha256) }
        return true
    }

    /// Makes a package stored before code was kept per namespace (`DATA/code/SHA256.tar`)
    /// a package of `namespace`. Only called at start for code a function of that namespace
    /// already uses. - Returns: whether the namespace has the package now.
    @discardableResult
    public func adoptLegacy(namespace: String, sha256: String) -> Bool {
        if has(namespace: namespace, sha256: sha256) { return true }
        let legacy = "\(directory)/\(sha256).tar"
        guard Self.isDigest(sha256), FileManager.default.fileExists(atPath: legacy) else { return false }
        guard (try? Self.makeDirectory("\(directory)/\(namespace)", mode: 0o700)) != nil else { return false }
        let path = archivePath(namespace, sha256)
        if link(legacy, path) != 0 {
            guard (try? FileManager.default.copyItem(atPath: legacy, toPath: path)) != nil else { return false }
        }
        chmod(path, 0o600)
        return true
    }

    /// Unpacks `namespace`'s package into `function`'s own directory (once; later calls find it).
    /// - Parameter owner: the function's uid and gid when Swell runs as root; nil otherwise
    ///   (the tree then belongs to Swell's own uid and gid).
    /// - Returns: the unpacked directory.
    @discardableResult
    public func prepare(namespace: String, function: String, sha256: String, owner: Owner?) throws -> String {
        guard Names.isNamespaceName(namespace), Names.isFunctionName(function), Self.isDigest(sha256) else {
            throw SwellError(.internal, "invalid code location \(namespace)/\(function)/\(sha256)")
        }
        return try install(namespace: namespace, function: function, name: sha256, owner: owner) {
            try TarArchive.read(Data(contentsOf: URL(fileURLWithPath: archivePath(namespace, sha256))))
        }
    }

    /// Unpacks `entries` as `function`'s tree `name` (once; later calls find it): staged, sealed
    /// (root:GID, 0750/0640) and renamed into place, as ``prepare(namespace:function:sha256:owner:)`` describes.
    func install(namespace: String, function: String, name treeName: String, owner: Owner?, entries read: () throws -> [TarArchive.Entry]) throws -> String {
        let sha256 = treeName
        let gid = owner?.gid ?? getegid()
        let namespaceDirectory = "\(unpackDirectory)/\(namespace)"
        let functionDirectory = "\(namespaceDirectory)/\(function)"
        try Self.makeDirectory(namespaceDirectory, mode: 0o711)
        try Self.makeDirectory(functionDirectory, mode: 0o750)
        let functionFD = try FileTree.openDirectory(functionDirectory)
        defer { close(functionFD) }
        // Root keeps the function's directory; its gid (only) may enter.
        guard fchown(functionFD, geteuid(), gid) == 0, fchmod(functionFD, 0o750) == 0 else {
            throw FileTree.Failure("chown", functionDirectory, errno: errno)
        }
        let final = "\(functionDirectory)/\(sha256)"
        if (try? FileTree.status(sha256, in: functionFD, path: final)).map(FileTree.isDirectory) == true { return final }

        let entries = try read()
        let stagingFD = try FileTree.openDirectory(stagingDirectory)
        defer { close(stagingFD) }
        let name = UUID().uuidString
        let stagingPath = "\(stagingDirectory)/\(name)"
        guard mkdirat(stagingFD, name, 0o700) == 0 else { throw FileTree.Failure("mkdir", stagingPath, errno: errno) }
        do {
            let treeFD = try FileTree.openDirectory(name, in: stagingFD, path: stagingPath)
            defer { close(treeFD) }
            if let owner, geteuid() == 0 {
                // The function's own uid writes the files: a write that somehow aimed outside
                // could only land where that uid may write anyway.
                guard fchown(treeFD, owner.uid, owner.gid) == 0 else { throw FileTree.Failure("chown", stagingPath, errno: errno) }
                let rc = swell_set_fs_ids(Int32(bitPattern: owner.uid), Int32(bitPattern: owner.gid))
                defer { _ = swell_set_fs_ids(0, 0) }
                guard rc == 0 else { throw FileTree.Failure("setfsuid", stagingPath, errno: rc) }
                try Self.extract(entries, into: treeFD, path: stagingPath)
            } else {
                try Self.extract(entries, into: treeFD, path: stagingPath)
            }
            try Self.seal(treeFD, owner: geteuid(), gid: gid, path: stagingPath)
            if renameat(stagingFD, name, functionFD, sha256) != 0 {
                let e = errno
                // Another caller finished first: its tree is the same.
                guard e == EEXIST || e == ENOTEMPTY else { throw FileTree.Failure("rename", final, errno: e) }
                try? FileTree.remove(name, in: stagingFD, path: stagingPath)
            }
        } catch {
            try? FileTree.remove(name, in: stagingFD, path: stagingPath)
            throw error
        }
        return final
    }

    // MARK: Unpacking

    /// Creates the entries below `root` (entries checked by `TarArchive.checkLayout`), never
    /// following a link: every directory is opened with `O_NOFOLLOW`, every file created with
    /// `O_CREAT | O_EXCL | O_NOFOLLOW`.
    static func extract(_ entries: [TarArchive.Entry], into root: Int32, path rootPath: String) throws {
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let parts = entry.path.split(separator: "/").map(String.init)
            guard let last = parts.last else { continue }
            let full = "\(rootPath)/\(entry.path)"
            var fd = dup(root)
            guard fd >= 0 else { throw FileTree.Failure("dup", rootPath, errno: errno) }
            defer { close(fd) }
            for part in parts.dropLast() {
                var next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next < 0 && errno == ENOENT {
                    guard mkdirat(fd, part, 0o700) == 0 else { throw FileTree.Failure("mkdir", full, errno: errno) }
                    next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                guard next >= 0 else { throw FileTree.Failure("open", full, errno: errno) }
                close(fd)
                fd = next
            }
            switch entry.kind {
            case .directory:
                if mkdirat(fd, last, 0o700) != 0 {
                    let e = errno
                    guard e == EEXIST, let st = try? FileTree.status(last, in: fd, path: full), FileTree.isDirectory(st) else {
                        throw FileTree.Failure("mkdir", full, errno: e)
                    }
                }
            case .file(let bytes):
                let mode: mode_t = entry.mode & 0o111 != 0 ? 0o700 : 0o600
                let file = openat(fd, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
                guard file >= 0 else { throw FileTree.Failure("create", full, errno: errno) }
                defer { close(file) }
                try bytes.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(file, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw FileTree.Failure("write", full, errno: errno)
                        }
                        offset += n
                    }
                }
            case .symlink(let target):
                guard symlinkat(target, fd, last) == 0 else { throw FileTree.Failure("symlink", full, errno: errno) }
            }
        }
    }

    /// Gives the unpacked tree to `owner`:`gid` with modes 0750 (directories and executables)
    /// and 0640 (other files), through descriptors only; anything but a directory, a regular
    /// file with one link, or a symbolic link is refused.
    static func seal(_ fd: Int32, owner: uid_t, gid: gid_t, path: String) throws {
        guard fchown(fd, owner, gid) == 0, fchmod(fd, 0o750) == 0 else { throw FileTree.Failure("chown", path, errno: errno) }
        for name in try FileTree.names(in: fd, path: path) {
            let full = "\(path)/\(name)"
            let st = try FileTree.status(name, in: fd, path: full)
            if FileTree.isDirectory(st) {
                let sub = try FileTree.openDirectory(name, in: fd, path: full)
                defer { close(sub) }
                try seal(sub, owner: owner, gid: gid, path: full)
            } else if FileTree.isRegular(st) {
                guard st.st_nlink == 1 else { throw FileTree.Failure("seal (hard link)", full, errno: EMLINK) }
                let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                guard file >= 0 else { throw FileTree.Failure("open", full, errno: errno) }
                defer { close(file) }
                let mode: mode_t = st.st_mode & S_IXUSR != 0 ? 0o750 : 0o640
                guard fchown(file, owner, gid) == 0, fchmod(file, mode) == 0 else { throw FileTree.Failure("chown", full, errno: errno) }
            } else if FileTree.isLink(st) {
                guard fchownat(fd, name, owner, gid, AT_SYMLINK_NOFOLLOW) == 0 else { throw FileTree.Failure("chown", full, errno: errno) }
            } else {
                throw FileTree.Failure("seal (not a file, directory or link)", full, errno: EINVAL)
            }
        }
    }

    // MARK: Paths

    func archivePath(_ namespace: String, _ sha256: String) -> String { "\(directory)/\(namespace)/\(sha256).tar" }

    static func isDigest(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// Creates a directory owned by Swell with exactly `mode`, or checks and fixes an existing
    /// one (it must be a real directory of Swell's own uid, not a link).
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw FileTree.Failure("mkdir", path, errno: errno)
        }
        let fd = try FileTree.openDirectory(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileTree.Failure("stat", path, errno: errno) }
        guard st.st_uid == geteuid() else {
            throw SwellError(.internal, "\(path) belongs to uid \(st.st_uid), not to Swell's uid \(geteuid())")
        }
        if st.st_mode & 0o7777 != mode { guard fchmod(fd, mode) == 0 else { throw FileTree.Failure("chmod", path, errno: errno) } }
    }
}
