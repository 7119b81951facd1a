import Foundation
import SwellModel

/// Gives every data directory on this host a block of function uids of its own.
///
/// uids are allocated per data directory (`function_uids` in `swell.db`), so two servers on
/// one host with their own data directories would otherwise hand out the same uids, and a
/// function of one could use the other's instances (the Runtime API serves a uid) and read
/// its temp files. The blocks are recorded in one host-wide file, changed under an
/// exclusive `flock`: a line `FIRST PATH` per data directory. A block whose data directory no
/// longer exists is given to the next one that needs a block.
public enum HostUIDBlocks {
    /// Where the host's blocks are recorded (root only).
    public static let defaultRegistry = "/var/lib/swell/uid-blocks"
    /// uids per data directory.
    public static let blockSize: UInt32 = 1_000_000
    /// Blocks start at 200000 (as the single range did before) and stay below 2^31.
    static let firstUID: UInt32 = 200_000
    static let maxBlocks: UInt32 = 2_000

    public enum Failure: Error, CustomStringConvertible {
        case io(String, Int32)
        case full

        public var description: String {
            switch self {
            case .io(let what, let e): "cannot record this data directory's uid block (\(what)): \(String(cString: strerror(e)))"
            case .full: "every function uid block of this host is taken (\(HostUIDBlocks.maxBlocks) data directories)"
            }
        }
    }

    /// The block of `dataDirectory` (claimed now if it has none).
    public static func claim(dataDirectory: String, registry: String = defaultRegistry) throws -> UIDRange {
        let path = URL(fileURLWithPath: dataDirectory).resolvingSymlinksInPath().path
        let parent = (registry as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(registry, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure.io("open \(registry)", errno) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw Failure.io("lock \(registry)", errno) }
        var text = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { throw Failure.io("read \(registry)", errno) }
            if n == 0 { break }
            text.append(contentsOf: chunk[0..<n])
        }
        var entries = parse(String(decoding: text, as: UTF8.self))
        let (first, changed) = try choose(for: path, in: &entries) { FileManager.default.fileExists(atPath: $0) }
        if changed {
            let out = Array(entries.map { "\($0.first) \($0.path)\n" }.joined().utf8)
            guard ftruncate(fd, 0) == 0, pwrite(fd, out, out.count, 0) == out.count, fsync(fd) == 0 else {
                throw Failure.io("write \(registry)", errno)
            }
        }
        return UIDRange(first: first, count: blockSize)
    }

    struct Entry: Equatable {
        var first: UInt32
        var path: String
    }

    static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let first = UInt32(parts[0]) else { return nil }
            return Entry(first: first, path: String(parts[1]))
        }
    }

    /// The block for `path`: its own, else a free one (blocks of vanished directories are
    /// free). - Returns: the block's first uid and whether `entries` changed.
    static func choose(for path: String, in entries: inout [Entry], exists: (String) -> Bool) throws -> (UInt32, Bool) {
        if let mine = entries.first(where: { $0.path == path }) { return (mine.first, false) }
        entries.removeAll { !exists($0.path) }
        let taken = Set(entries.map(\.first))
        for k in 0..<maxBlocks {
            let first = firstUID + k * blockSize
            if !taken.contains(first) {
                entries.append(Entry(first: first, path: path))
                return (first, true)
            }
        }
        throw Failure.full
    }
}
