import Foundation
import SwellModel
import SwellStore

extension ControlPlane {
    /// Gives each listed layer version its package digest (the layer store's), naming the
    /// field of any that does not exist.
    func resolveLayers(_ refs: [LayerRef], namespace: String, field: String) async throws(SwellError) -> [LayerRef] {
        guard refs.count <= LayerRef.maxPerFunction else {
            throw SwellError.invalid(field, "may list at most \(LayerRef.maxPerFunction) layers (got \(refs.count))")
        }
        var resolved: [LayerRef] = []
        for (i, ref) in refs.enumerated() {
            let version: LayerStore.Version?
            do {
                version = try await layers?.layerVersion(namespace: namespace, name: ref.name, version: ref.version)
            } catch {
                throw SwellError(.internal, "cannot read the layer store: \(error)")
            }
            guard let version else {
                throw SwellError.invalid("\(field)[\(i)]", "layer \(ref) does not exist in namespace \(namespace)")
            }
            resolved.append(LayerRef(name: ref.name, version: ref.version, sha256: version.sha256))
        }
        return resolved
    }

    /// Whether a `provided` function without a `bootstrap` of its own gets one from its layers
    /// (`/opt/bootstrap`, as Lambda allows): the merged tree is unpacked to look.
    func layersProvideBootstrap(namespace: String, name: String, config: FunctionConfig) async -> Bool {
        guard config.runtime == .provided, !config.layers.isEmpty, config.layers.allSatisfy({ !$0.sha256.isEmpty }) else { return false }
        let uid = try? await self.uid(namespace: namespace, name: name)
        let owner = runtime.sandbox.switchesUID ? uid.map { CodeStore.Owner(uid: $0, gid: $0) } : nil
        await fetchLayers(namespace: namespace, layers: config.layers)
        guard let tree = try? code.prepareLayers(namespace: namespace, function: name, layers: config.layers, owner: owner) else { return false }
        return FileManager.default.isExecutableFile(atPath: "\(tree)/bootstrap")
    }

    /// Unpacks the merged `/opt` tree of a function's layers, owned like its code.
    func prepareLayers(namespace: String, name: String, layers: [LayerRef]) async throws {
        guard !layers.isEmpty else { return }
        let uid = try await self.uid(namespace: namespace, name: name)
        let owner = runtime.sandbox.switchesUID ? CodeStore.Owner(uid: uid, gid: uid) : nil
        await fetchLayers(namespace: namespace, layers: layers)
        do {
            try code.prepareLayers(namespace: namespace, function: name, layers: layers, owner: owner)
        } catch let error as TarArchive.FormatError {
            throw SwellError.invalid("layers", "the layers cannot be unpacked together: \(error.description)")
        }
    }

    /// Scale-out: fetches the layers' packages another node stored (a missing one fails the unpack that follows).
    func fetchLayers(namespace: String, layers: [LayerRef]) async {
        for layer in layers where !layer.sha256.isEmpty {
            _ = try? await code.ensureLocal(namespace: namespace, sha256: layer.sha256)
        }
    }
}
