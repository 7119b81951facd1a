import Foundation
import SwellModel
import ZIPFoundation

extension CodePackage {
    /// Packs a `.zip` held in memory (a Lambda API upload) into Swell's canonical archive:
    /// the same entries, checks and digest as `swell deploy` of that zip would give.
    public static func pack(zip data: Data) throws -> CodePackage {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw PackError(description: "the code is not a readable .zip file")
        }
        let entries: [TarArchive.Entry]
        let packed: Data
        do {
            entries = try zipEntries(archive)
            try TarArchive.checkLayout(entries)
            packed = try TarArchive.write(entries)
        } catch let error as TarArchive.FormatError {
            throw PackError(description: error.description)
        } catch let error as PackError {
            throw error
        } catch {
            throw PackError(description: "the .zip file cannot be read: \(error)")
        }
        guard packed.count <= maxBytes else {
            throw PackError(description: "the unzipped package is \(packed.count) bytes; at most \(maxBytes) are allowed")
        }
        return CodePackage(data: packed, sha256: digest(packed))
    }
}
