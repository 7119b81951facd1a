import Foundation
import SwellModel

/// An unpacked code package seen by ``HandlerCheck``: paths relative to `root`; symbolic
/// links are not followed (they count as present, as in the archive view).
struct DirectoryFiles: HandlerCheck.Files {
    let root: String

    func node(_ path: String) -> HandlerCheck.Node? {
        var st = stat()
        guard lstat("\(root)/\(path)", &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFREG: return .file(executable: st.st_mode & 0o111 != 0)
        default: return nil
        }
    }

    func names(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? root : "\(root)/\(directory)")) ?? []
    }
}
