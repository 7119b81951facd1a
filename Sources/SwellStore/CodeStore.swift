import Crypto
import Foundation
import SwellModel

/// Code packages, stored once per content: `code/SHA256.tar` (the canonical archive as
/// uploaded) and `code/SHA256/` (unpacked, read-only, shared by every instance using it).
public final class CodeStore: Sendable {
    /// Where the archives are kept.
    public let directory: String
    /// Where they are unpacked for instances (elsewhere than `directory` when instances run
    /// under other uids that cannot traverse the data directory).
    public let unpackDirectory: String

    public init(directory: String, unpackDirectory: String? = nil) throws {
        self.directory = directory
        self.unpackDirectory = unpackDirectory ?? directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: self.unpackDirectory, withIntermediateDirectories: true)
    }

    /// Whether a package with this digest is stored.
    public func has(_ sha256: String) -> Bool {
        FileManager.default.fileExists(atPath: archivePath(sha256))
    }

    /// The unpacked code directory of a stored package (unpacking it again if it went missing).
    public func codeDirectory(_ sha256: String) throws -> String {
        let dir = "\(unpackDirectory)/\(sha256)"
        if !FileManager.default.fileExists(atPath: "\(dir)/.swell-complete") {
            let data = try Data(contentsOf: URL(fileURLWithPath: archivePath(sha256)))
            try unpack(data, into: dir)
        }
        return dir
    }

    /// Stores an uploaded package after checking its digest and its archive format.
    /// - Returns: the package size in bytes.
    @discardableResult
    public func put(_ data: Data, sha256 expected: String) throws -> Int {
        let actual = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        guard actual == expected else {
            throw SwellError.invalid("sha256", "the upload's digest is \(actual), not \(expected)")
        }
        if has(expected) { return data.count }
        let dir = "\(unpackDirectory)/\(expected)"
        try unpack(data, into: dir)
        let tmp = archivePath(expected) + ".tmp-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: tmp))
        try FileManager.default.moveItem(atPath: tmp, toPath: archivePath(expected))
        return data.count
    }

    /// Size of a stored package.
    public func size(_ sha256: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: archivePath(sha256)))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private func archivePath(_ sha256: String) -> String { "\(directory)/\(sha256).tar" }

    private func unpack(_ data: Data, into dir: String) throws {
        let fm = FileManager.default
        let staging = "\(dir).unpack-\(UUID().uuidString)"
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            let entries = try TarArchive.read(data)
            for entry in entries {
                let path = "\(staging)/\(entry.path)"
                switch entry.kind {
                case .directory:
                    try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
                case .file(let bytes):
                    try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    guard fm.createFile(atPath: path, contents: bytes) else {
                        throw SwellError(.internal, "cannot write \(entry.path)")
                    }
                    try fm.setAttributes([.posixPermissions: entry.mode & 0o755 | 0o444], ofItemAtPath: path)
                case .symlink(let target):
                    try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try fm.createSymbolicLink(atPath: path, withDestinationPath: target)
                }
            }
            fm.createFile(atPath: "\(staging)/.swell-complete", contents: Data())
            try? fm.removeItem(atPath: dir)
            try fm.moveItem(atPath: staging, toPath: dir)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }
}
