import Crypto
import Foundation
import SwellModel
import ZIPFoundation

/// A function's code as the canonical archive Swell stores, and its SHA-256.
public struct CodePackage: Sendable {
    public var data: Data
    public var sha256: String

    public struct PackError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Most bytes a package may hold.
    public static let maxBytes = Limits.maxCodeBytes

    /// Packs a directory or a `.zip` file.
    public static func pack(_ path: String) throws -> CodePackage {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PackError(description: "\(path) does not exist")
        }
        let entries = isDir.boolValue ? try directoryEntries(path) : try zipEntries(path)
        let data: Data
        do {
            // The server refuses what cannot be unpacked safely: say so before uploading.
            try TarArchive.checkLayout(entries)
            data = try TarArchive.write(entries)
        } catch let error as TarArchive.FormatError {
            throw PackError(description: error.description)
        }
        guard data.count <= maxBytes else {
            throw PackError(description: "the package is \(data.count) bytes; at most \(maxBytes) are allowed")
        }
        return CodePackage(data: data, sha256: digest(data))
    }

    public static func digest(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func directoryEntries(_ root: String) throws -> [TarArchive.Entry] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: root) else { throw PackError(description: "cannot read \(root)") }
        var entries: [TarArchive.Entry] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name == ".git" || name == ".swell" || name == ".DS_Store" {
                walker.skipDescendants()
                continue
            }
            let full = (root as NSString).appendingPathComponent(relative)
            let attributes = try fm.attributesOfItem(atPath: full)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o644
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?:
                entries.append(.init(path: relative, mode: mode, kind: .directory))
            case .typeRegular?:
                guard let data = fm.contents(atPath: full) else { throw PackError(description: "cannot read \(full)") }
                entries.append(.init(path: relative, mode: mode, kind: .file(data)))
            case .typeSymbolicLink?:
                let target = try fm.destinationOfSymbolicLink(atPath: full)
                entries.append(.init(path: relative, mode: mode, kind: .symlink(target)))
            default:
                continue
            }
        }
        return entries
    }

    static func zipEntries(_ path: String) throws -> [TarArchive.Entry] {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw PackError(description: "\(path) is neither a directory nor a readable .zip file")
        }
        return try zipEntries(archive)
    }

    /// The entries of an opened zip archive (files, directories, links; modes as stored).
    static func zipEntries(_ archive: Archive) throws -> [TarArchive.Entry] {
        var entries: [TarArchive.Entry] = []
        for entry in archive {
            var path = entry.path
            while path.hasSuffix("/") { path.removeLast() }
            if path.isEmpty { continue }
            let mode = Int(entry.fileAttributes[.posixPermissions] as? Int16 ?? 0o644)
            switch entry.type {
            case .directory:
                entries.append(.init(path: path, mode: 0o755, kind: .directory))
            case .file:
                var data = Data()
                _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
                entries.append(.init(path: path, mode: mode, kind: .file(data)))
            case .symlink:
                var data = Data()
                _ = try archive.extract(entry) { data.append($0) }
                entries.append(.init(path: path, mode: 0o777, kind: .symlink(String(decoding: data, as: UTF8.self))))
            }
        }
        return entries
    }
}
