import Foundation

/// The canonical code package format: a POSIX ustar archive with entries sorted by path,
/// owner 0, mtime 0 and only the executable bit of the mode kept, so that the same tree
/// always gives the same bytes and therefore the same SHA-256.
public enum TarArchive {
    public enum Kind: Sendable, Hashable {
        case file(Data)
        case directory
        case symlink(String)
    }

    public struct Entry: Sendable, Hashable {
        /// Relative path with `/` separators, no `.` or `..` components.
        public var path: String
        public var mode: Int
        public var kind: Kind

        public init(path: String, mode: Int, kind: Kind) {
            self.path = path
            self.mode = mode
            self.kind = kind
        }
    }

    /// Errors reading or writing an archive.
    public struct FormatError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: Writing

    /// Writes entries (sorted here) as a canonical archive.
    public static func write(_ entries: [Entry]) throws -> Data {
        var out = Data()
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            try checkPath(entry.path)
            var header = [UInt8](repeating: 0, count: 512)
            let (prefix, name) = try splitPath(entry.path + (entry.kind == .directory ? "/" : ""))
            put(name, at: 0, length: 100, in: &header)
            let executable = entry.mode & 0o111 != 0
            let mode: Int
            let size: Int
            let type: UInt8
            var linkName = ""
            switch entry.kind {
            case .file(let data):
                mode = executable ? 0o755 : 0o644
                size = data.count
                type = UInt8(ascii: "0")
            case .directory:
                mode = 0o755
                size = 0
                type = UInt8(ascii: "5")
            case .symlink(let target):
                mode = 0o777
                size = 0
                type = UInt8(ascii: "2")
                linkName = target
                guard target.utf8.count <= 100 else { throw FormatError(description: "\(entry.path): symlink target too long") }
            }
            putOctal(mode, at: 100, length: 8, in: &header)
            putOctal(0, at: 108, length: 8, in: &header)
            putOctal(0, at: 116, length: 8, in: &header)
            putOctal(size, at: 124, length: 12, in: &header)
            putOctal(0, at: 136, length: 12, in: &header)
            header[156] = type
            put(linkName, at: 157, length: 100, in: &header)
            put("ustar", at: 257, length: 6, in: &header)
            header[263] = UInt8(ascii: "0")
            header[264] = UInt8(ascii: "0")
            put(prefix, at: 345, length: 155, in: &header)
            for i in 148..<156 { header[i] = UInt8(ascii: " ") }
            let sum = header.reduce(0) { $0 + Int($1) }
            putOctal(sum, at: 148, length: 7, in: &header)
            header[155] = UInt8(ascii: " ")
            out.append(contentsOf: header)
            if case .file(let data) = entry.kind {
                out.append(data)
                let pad = (512 - data.count % 512) % 512
                out.append(contentsOf: [UInt8](repeating: 0, count: pad))
            }
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: 1024))
        return out
    }

    // MARK: Reading

    /// Reads an archive, rejecting unsafe paths, links that leave the tree (however they are
    /// chained), entries below a link or a file, duplicates and unknown entry types (hard links,
    /// devices, FIFOs): see `checkLayout`.
    public static func read(_ data: Data) throws -> [Entry] {
        let bytes = [UInt8](data)
        var entries: [Entry] = []
        var offset = 0
        while offset + 512 <= bytes.count {
            let header = Array(bytes[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) {
                try checkLayout(entries)
                return entries
            }
            let stored = parseOctal(header[148..<156])
            var sum = 0
            for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            guard stored == sum else { throw FormatError(description: "corrupt archive: bad header checksum at offset \(offset)") }
            let name = string(header[0..<100])
            let prefix = string(header[345..<500])
            var path = prefix.isEmpty ? name : "\(prefix)/\(name)"
            while path.hasSuffix("/") { path.removeLast() }
            while path.hasPrefix("./") { path.removeFirst(2) }
            let size = parseOctal(header[124..<136])
            let mode = parseOctal(header[100..<108])
            let type = header[156]
            offset += 512
            guard size >= 0, offset + size <= bytes.count else { throw FormatError(description: "corrupt archive: \(path) is truncated") }
            if path.isEmpty || path == "." {
                offset += (size + 511) / 512 * 512
                continue
            }
            try checkPath(path)
            switch type {
            case UInt8(ascii: "0"), 0:
                entries.append(Entry(path: path, mode: mode, kind: .file(Data(bytes[offset..<(offset + size)]))))
            case UInt8(ascii: "5"):
                entries.append(Entry(path: path, mode: mode, kind: .directory))
            case UInt8(ascii: "2"):
                let target = string(header[157..<257])
                entries.append(Entry(path: path, mode: mode, kind: .symlink(target)))
            case UInt8(ascii: "1"):
                throw FormatError(description: "\(path): hard links are not allowed in a package")
            default:
                throw FormatError(description: "\(path): unsupported entry type \(Character(UnicodeScalar(type)))")
            }
            offset += (size + 511) / 512 * 512
        }
        throw FormatError(description: "corrupt archive: missing end-of-archive marker")
    }

    /// Rejects absolute paths, `.`, `..` and empty components.
    public static func checkPath(_ path: String) throws {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !parts.contains(".."), !parts.contains("."), !parts.contains(""), !path.utf8.contains(0) else {
            throw FormatError(description: "unsafe path in package: \(path)")
        }
    }

    /// Checks a whole package as the tree it unpacks to, so that unpacking can never write
    /// or point outside its directory whatever the links:
    /// - every path is relative, without `.`, `..` or empty components, and appears once;
    /// - no entry lies below a symbolic link or a file (so creating entries never follows a link);
    /// - every symbolic link, resolved the way the kernel walks a path through the finished
    ///   tree (links followed, `..` applied to where a link led), stays inside the package at
    ///   every step; absolute targets are refused; more than 40 links in a row is a loop.
    /// Links to paths that do not exist are allowed (the kernel stops at the missing component).
    public static func checkLayout(_ entries: [Entry]) throws {
        var kinds: [String: LayoutKind] = [:]
        for entry in entries {
            try checkPath(entry.path)
            let kind: LayoutKind
            switch entry.kind {
            case .file: kind = .file
            case .directory: kind = .directory
            case .symlink(let target): kind = .symlink(target)
            }
            if let existing = kinds[entry.path] {
                // A directory named both explicitly and by an entry below it is one directory.
                guard existing == .directory && kind == .directory else {
                    throw FormatError(description: "\(entry.path): appears more than once in the package")
                }
            }
            kinds[entry.path] = kind
        }
        // Parents: implicit directories, never a link or a file (reported after the links, so
        // that a link that leaves the package is named rather than an entry below it).
        var misplaced: FormatError?
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            let parts = entry.path.split(separator: "/")
            var prefix = ""
            for part in parts.dropLast() {
                prefix += prefix.isEmpty ? String(part) : "/\(part)"
                switch kinds[prefix] {
                case nil: kinds[prefix] = .directory
                case .directory?: break
                case .symlink?: misplaced = misplaced ?? FormatError(description: "\(entry.path): lies below the symbolic link \(prefix)")
                case .file?: misplaced = misplaced ?? FormatError(description: "\(entry.path): lies below the file \(prefix)")
                }
            }
        }
        for entry in entries.sorted(by: { $0.path < $1.path }) {
            guard case .symlink(let target) = entry.kind else { continue }
            try resolveLink(entry.path, target: target, in: kinds)
        }
        if let misplaced { throw misplaced }
    }

    /// What a path of the unpacked tree is.
    enum LayoutKind: Equatable {
        case file, directory, symlink(String)
    }

    /// Walks a link's target as the kernel would and throws if any step leaves the package.
    static func resolveLink(_ path: String, target: String, in kinds: [String: LayoutKind]) throws {
        guard !target.isEmpty, !target.utf8.contains(0) else { throw FormatError(description: "\(path): symbolic link with an empty target") }
        var directory = path.split(separator: "/").dropLast().map(String.init)
        var pending = target.split(separator: "/", omittingEmptySubsequences: true).map(String.init)[...]
        if target.hasPrefix("/") { throw FormatError(description: "\(path): symbolic link to an absolute path (\(target))") }
        var hops = 0
        while let part = pending.popFirst() {
            if part == "." { continue }
            if part == ".." {
                guard !directory.isEmpty else { throw FormatError(description: "\(path): symbolic link leaves the package (\(target))") }
                directory.removeLast()
                continue
            }
            let candidate = (directory + [part]).joined(separator: "/")
            switch kinds[candidate] {
            case .directory?:
                directory.append(part)
            case .symlink(let next)?:
                hops += 1
                guard hops <= 40 else { throw FormatError(description: "\(path): symbolic link loop (\(target))") }
                guard !next.hasPrefix("/") else { throw FormatError(description: "\(path): symbolic link leaves the package through \(candidate) (\(target))") }
                // The next link's target is relative to the directory it lies in: `directory`.
                pending = (next.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + pending)[...]
            case .file?, nil:
                // A file ends the walk (ENOTDIR below it); a missing component ends it too (ENOENT).
                return
            }
        }
    }

    static func splitPath(_ path: String) throws -> (prefix: String, name: String) {
        let utf8 = Array(path.utf8)
        if utf8.count <= 100 { return ("", path) }
        for i in stride(from: utf8.count - 1, through: 0, by: -1) where utf8[i] == UInt8(ascii: "/") {
            if i <= 155 && utf8.count - i - 1 <= 100 && utf8.count - i - 1 > 0 {
                return (String(decoding: utf8[0..<i], as: UTF8.self), String(decoding: utf8[(i + 1)...], as: UTF8.self))
            }
        }
        throw FormatError(description: "path too long for the package format: \(path)")
    }

    static func put(_ s: String, at offset: Int, length: Int, in header: inout [UInt8]) {
        for (i, b) in s.utf8.prefix(length).enumerated() { header[offset + i] = b }
    }

    static func putOctal(_ value: Int, at offset: Int, length: Int, in header: inout [UInt8]) {
        let digits = String(value, radix: 8)
        let padded = String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits
        put(padded, at: offset, length: length - 1, in: &header)
        header[offset + length - 1] = 0
    }

    static func parseOctal(_ field: ArraySlice<UInt8>) -> Int {
        var value = 0
        for b in field {
            if b == 0 || b == UInt8(ascii: " ") {
                if value > 0 { break } else { continue }
            }
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "7") else { return -1 }
            value = value * 8 + Int(b - UInt8(ascii: "0"))
        }
        return value
    }

    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}
