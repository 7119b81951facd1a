import Foundation
import SwellModel

extension CodeStore {
    /// Unpacks the merged tree of a function's layers next to its code
    /// (`RUN/code/NS/FUNCTION/opt-…`, owned and sealed like the code): each layer's package in
    /// list order, a later layer's entries replacing an earlier one's at the same path (a
    /// replaced directory takes everything below it along), as Lambda extracts layers into `/opt`.
    /// - Returns: the tree, or nil when the function has no layers.
    @discardableResult
    public func prepareLayers(namespace: String, function: String, layers: [LayerRef], owner: Owner?) throws -> String? {
        guard let treeName = LayerRef.treeName(layers) else { return nil }
        guard Names.isNamespaceName(namespace), Names.isFunctionName(function), layers.allSatisfy({ Self.isDigest($0.sha256) }) else {
            throw SwellError(.internal, "invalid layer location \(namespace)/\(function)/\(layers)")
        }
        return try install(namespace: namespace, function: function, name: treeName, owner: owner) {
            var merged: [String: TarArchive.Entry] = [:]
            for layer in layers {
                let entries = try TarArchive.read(Data(contentsOf: URL(fileURLWithPath: archivePath(namespace, layer.sha256))))
                merged = Self.overlay(merged, entries)
            }
            let result = merged.values.sorted { $0.path < $1.path }
            try TarArchive.checkLayout(result)
            return result
        }
    }

    /// `upper` laid over `lower`: same paths replaced; a file or link of `upper` replaces a
    /// directory of `lower` with everything below it, and a directory of `upper` replaces a
    /// file or link of `lower`.
    static func overlay(_ lower: [String: TarArchive.Entry], _ upper: [TarArchive.Entry]) -> [String: TarArchive.Entry] {
        var result = lower
        func key(_ path: String) -> String { path.hasSuffix("/") ? String(path.dropLast()) : path }
        for entry in upper {
            let path = key(entry.path)
            if let old = result[path] {
                let wasDirectory = if case .directory = old.kind { true } else { false }
                let isDirectory = if case .directory = entry.kind { true } else { false }
                if wasDirectory && isDirectory { continue }
                if wasDirectory { result = result.filter { !$0.key.hasPrefix(path + "/") } }
            }
            // A path below an earlier file or link: that file or link goes.
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty {
                if let p = result[parent], !(p.kind.isDirectory) { result.removeValue(forKey: parent) }
                parent = (parent as NSString).deletingLastPathComponent
            }
            var e = entry
            e.path = path
            result[path] = e
        }
        return result
    }
}

extension TarArchive.Kind {
    var isDirectory: Bool {
        if case .directory = self { return true }
        return false
    }
}
