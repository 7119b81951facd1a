import Foundation
import Hummingbird
import SwellInvoker
import SwellModel
import SwellRuntime

/// The two reads the web console needs beyond the rest of the API: the namespaces a key may
/// open, and a namespace's instances in one call (not one call per function).
struct ConsoleAPIRoutes {
    let catalog: Catalog
    let runtime: RuntimeManager

    func register(on group: RouterGroup<SwellRequestContext>) {
        // Every namespace for the platform admin, else the key's own.
        group.get("namespaces") { _, ctx in
            let p = try ctx.requirePrincipal()
            return try JSONBody.response(["namespaces": p.isPlatformAdmin ? catalog.namespaceNames() : [p.namespace]])
        }
        group.get("namespaces/:ns/instances") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            var instances: [NamespaceInstance] = []
            let pools = runtime.allPools().filter { $0.key.namespace == ns }
                .sorted { ($0.key.name, $0.key.version.description) < ($1.key.name, $1.key.version.description) }
            for pool in pools {
                instances += pool.snapshot().map { NamespaceInstance(function: pool.key.name, instance: $0) }
            }
            return try JSONBody.response(["instances": instances])
        }
    }

    /// An instance with the name of its function: `{"function", …InstanceSnapshot}`.
    struct NamespaceInstance: Encodable {
        var function: String
        var instance: InstanceSnapshot

        enum CodingKeys: String, CodingKey { case function }

        func encode(to encoder: any Encoder) throws {
            try instance.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(function, forKey: .function)
        }
    }
}
