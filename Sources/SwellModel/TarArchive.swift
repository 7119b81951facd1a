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

    /// Reads an archive, rejecting unsafe paths, links that leave the tree and unknown entry types.
    public static func read(_ data: Data) throws -> [Entry] {
        let bytes = [UInt8](data)
        var entries: [Entry] = []
        var offset = 0
        while offset + 512 <= bytes.count {
            let header = Array(bytes[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) { return entries }
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
                try checkLink(target, from: path)
                entries.append(Entry(path: path, mode: mode, kind: .symlink(target)))
            default:
                throw FormatError(description: "\(path): unsupported entry type \(Character(UnicodeScalar(type)))")
            }
            offset += (size + 511) / 512 * 512
        }
        throw FormatError(description: "corrupt archive: missing end-of-archive marker")
    }

    /// Rejects absolute paths and `..` components.
    public static func checkPath(_ path: String) throws {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !parts.contains(".."), !parts.contains(""), !path.utf8.contains(0) else {
            throw FormatError(description: "unsafe path in package: \(path)")
        }
    }

    static func checkLink(_ target: String, from path: String) throws {
        guard !target.hasPrefix("/") else { throw FormatError(description: "\(path): symlink to an absolute path (\(target))") }
        var depth = path.split(separator: "/").count - 1
        for part in target.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { throw FormatError(description: "\(path): symlink leaves the package (\(target))") }
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
