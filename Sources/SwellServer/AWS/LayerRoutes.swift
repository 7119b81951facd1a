import Foundation
import Hummingbird
import NIOPosix
import SwellDeploy
import SwellModel
import SwellStore

/// `/2018-10-31/layers…`: PublishLayerVersion (zip), Get/List/DeleteLayerVersion(s),
/// ListLayers and GetLayerVersionByArn. A layer version's content is a code package of its
/// namespace (content-addressed, immutable); the version numbers are the layer store's.
struct LayerRoutes {
    let layers: any LayerStorage
    let routes: LambdaRoutes

    func register(on g: RouterGroup<SwellRequestContext>) {
        g.post("layers/:layer/versions") { request, ctx in
            let (ns, name) = try layer(ctx, .developer)
            let body = try await LambdaBody(request)
            guard let content = try body.object("Content") else { throw AWSError.invalid("Content is required") }
            let runtimes = try body.strings("CompatibleRuntimes") ?? []
            for r in runtimes where RuntimeKind(named: r) == nil {
                throw AWSError.invalid("CompatibleRuntimes: Swell runs \(RuntimeKind.acceptedNames) (got \(r))")
            }
            let description = try body.string("Description") ?? ""
            let license = try body.string("LicenseInfo") ?? ""
            let sha = try await routes.storeZip(content, namespace: ns)
            let size = try await NIOThreadPool.singleton.runIfActive { routes.code.size(namespace: ns, sha256: sha) }
            let version = try await layers.publishLayer(
                namespace: ns, name: name, sha256: sha, size: size, description: description, runtimes: runtimes, license: license)
            return try LambdaShapes.response(shape(version), status: .created)
        }
        g.get("layers/:layer/versions") { request, ctx in
            let (ns, name) = try layer(ctx, .invoker)
            let versions = try await layers.layerVersions(namespace: ns, name: name)
            let (page, next) = try LambdaRoutes.page(versions.map(listItem), request: request)
            var result: [String: Any] = ["LayerVersions": page]
            if let next { result["NextMarker"] = next }
            return try LambdaShapes.response(result)
        }
        g.get("layers/:layer/versions/:version") { _, ctx in
            let (ns, name) = try layer(ctx, .invoker)
            let n = try number(ctx)
            guard let v = try await layers.layerVersion(namespace: ns, name: name, version: n) else {
                throw AWSError.notFound("The resource you requested does not exist. (layer \(LambdaARN.layer(ns, name, n)))")
            }
            return try LambdaShapes.response(shape(v))
        }
        g.delete("layers/:layer/versions/:version") { _, ctx in
            let (ns, name) = try layer(ctx, .developer)
            let n = try number(ctx)
            try await layers.deleteLayerVersion(namespace: ns, name: name, version: n)
            return Response(status: .noContent)
        }
        g.get("layers") { request, ctx in
            let principal = try ctx.requirePrincipal()
            let q = request.uri.queryParameters
            // GetLayerVersionByArn shares the path: ?find=LayerVersion&Arn=…
            if q.get("find") == "LayerVersion" {
                guard let arn = q.get("Arn").map({ percentDecoded(String($0)) }), let parsed = LayerRef.parse(arn) else {
                    throw AWSError.invalid("Arn must be a layer version ARN")
                }
                let ns = parsed.namespace ?? principal.namespace
                _ = try ctx.authorize(ns, .invoker)
                guard let v = try await layers.layerVersion(namespace: ns, name: parsed.name, version: parsed.version) else {
                    throw AWSError.notFound("The resource you requested does not exist. (layer \(arn))")
                }
                return try LambdaShapes.response(shape(v))
            }
            _ = try ctx.authorize(principal.namespace, .invoker)
            let latest = try await layers.latestLayers(namespace: principal.namespace)
            let items: [[String: Any]] = latest.map {
                ["LayerName": $0.name, "LayerArn": LambdaARN.layer($0.namespace, $0.name), "LatestMatchingVersion": listItem($0)]
            }
            let (page, next) = try LambdaRoutes.page(items, request: request)
            var result: [String: Any] = ["Layers": page]
            if let next { result["NextMarker"] = next }
            return try LambdaShapes.response(result)
        }
    }

    /// The layer a path names: `NAME` or `arn:aws:lambda:REGION:ACCOUNT:layer:NAME`.
    func layer(_ ctx: SwellRequestContext, _ role: Role) throws -> (String, String) {
        let raw = percentDecoded(ctx.parameters.get("layer") ?? "")
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var ns = try ctx.requirePrincipal().namespace
        var name = raw
        if parts.count == 7, parts[0] == "arn", parts[5] == "layer" {
            ns = parts[4]
            name = parts[6]
        }
        guard Names.isFunctionName(name), Names.isNamespaceName(ns) else {
            throw AWSError.invalid("1 validation error detected: Value '\(raw)' at 'layerName' failed to satisfy constraint: a layer name or ARN")
        }
        _ = try ctx.authorize(ns, role)
        return (ns, name)
    }

    func number(_ ctx: SwellRequestContext) throws -> Int {
        guard let n = Int(ctx.parameters.get("version") ?? ""), n >= 1 else { throw AWSError.invalid("VersionNumber must be a positive integer") }
        return n
    }

    func listItem(_ v: LayerStore.Version) -> [String: Any] {
        [
            "LayerVersionArn": LambdaARN.layer(v.namespace, v.name, v.version),
            "Version": v.version,
            "Description": v.description,
            "CreatedDate": LambdaShapes.lastModified(v.createdAt),
            "CompatibleRuntimes": v.compatibleRuntimes,
            "LicenseInfo": v.license,
            "CompatibleArchitectures": [LambdaShapes.architecture],
        ]
    }

    func shape(_ v: LayerStore.Version) -> [String: Any] {
        var s = listItem(v)
        s["LayerArn"] = LambdaARN.layer(v.namespace, v.name)
        s["Content"] = ["CodeSha256": LambdaShapes.codeSha256(v.sha256), "CodeSize": v.size]
        return s
    }
}
