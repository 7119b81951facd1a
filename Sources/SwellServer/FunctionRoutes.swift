import Foundation
import Hummingbird
import NIOPosix
import SwellInvoker
import SwellModel
import SwellStore

/// `/v1/namespaces/{ns}/functions…`, `/deploy` and `/code`: the control plane's REST surface.
struct FunctionRoutes {
    let control: ControlPlane
    let catalog: Catalog
    let code: CodeStore

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.get("namespaces/:ns/functions") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            return try JSONBody.response(["functions": catalog.functions(namespace: ns).map(API.FunctionInfo.init)])
        }
        group.get("namespaces/:ns/functions/:name") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .invoker)
            guard let f = catalog.function(ns, name) else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            return try JSONBody.response(API.FunctionDetail(
                function: .init(f), versions: catalog.versions(ns, name).map(API.VersionInfo.init),
                aliases: catalog.aliases(ns, name).map(API.AliasInfo.init)))
        }
        group.put("namespaces/:ns/functions/:name") { request, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            let body = try await JSONBody.read(request)
            // Unpacking the code is file work: ControlPlane does it off the cooperative pool.
            let (record, change, fields) = try await control.putFunction(namespace: ns, name: name, spec: body, path: "")
            AuditNote.current?.set("change", .string(change))
            AuditNote.current?.set("fields", .array(fields.map { .string($0) }))
            return try JSONBody.response(
                API.PutFunctionResult(function: .init(record), change: change, fields: fields),
                status: change == "created" ? .created : .ok)
        }
        group.delete("namespaces/:ns/functions/:name") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            try await control.deleteFunction(namespace: ns, name: name)
            return Response(status: .noContent)
        }
        group.post("namespaces/:ns/functions/:name/versions") { request, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            let body = try FieldReader(try await JSONBody.read(request), path: "")
            try body.rejectUnknown(["description"])
            let (version, created) = try await control.publish(namespace: ns, name: name, description: try body.string("description") ?? "")
            AuditNote.current?.set("version", .int(version.version))
            AuditNote.current?.set("created", .bool(created))
            return try JSONBody.response(API.VersionInfo(version), status: created ? .created : .ok)
        }
        group.get("namespaces/:ns/functions/:name/versions") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .invoker)
            guard catalog.function(ns, name) != nil else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            return try JSONBody.response(["versions": catalog.versions(ns, name).map(API.VersionInfo.init)])
        }
        group.get("namespaces/:ns/functions/:name/aliases") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .invoker)
            guard catalog.function(ns, name) != nil else { throw SwellError.notFound("function \(name) does not exist in namespace \(ns)") }
            return try JSONBody.response(["aliases": catalog.aliases(ns, name).map(API.AliasInfo.init)])
        }
        group.put("namespaces/:ns/functions/:name/aliases/:alias") { request, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            let alias = ctx.parameters.get("alias") ?? ""
            let record = try await control.putAlias(namespace: ns, function: name, name: alias, body: try await JSONBody.read(request))
            return try JSONBody.response(API.AliasInfo(record))
        }
        group.delete("namespaces/:ns/functions/:name/aliases/:alias") { _, ctx in
            let (ns, name) = try names(ctx)
            _ = try ctx.authorize(ns, .developer)
            try await control.deleteAlias(namespace: ns, function: name, name: ctx.parameters.get("alias") ?? "")
            return Response(status: .noContent)
        }
        group.post("namespaces/:ns/deploy") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let body = try FieldReader(try await JSONBody.read(request, limit: 8 << 20), path: "")
            try body.rejectUnknown(["functions", "prune", "namespace"])
            let functions = try body.object("functions") ?? FieldReader(.object([:]), path: "functions")
            let prune = try body.bool("prune") ?? false
            if let declared = try body.string("namespace"), declared != ns {
                throw SwellError.invalid("namespace", "the manifest's namespace \"\(declared)\" differs from the request's \"\(ns)\"")
            }
            // Validate everything before changing anything, and report every problem at once.
            var problems = Problems()
            for (name, spec) in functions.entries() {
                do throws(SwellError) {
                    _ = try await control.validateFunction(namespace: ns, name: name, spec: spec, path: functions.field(name))
                } catch {
                    problems.add(error)
                }
            }
            try problems.throwIfAny()
            var changes: [API.Change] = []
            for (name, spec) in functions.entries() {
                let path = functions.field(name)
                let (_, change, fields) = try await control.putFunction(namespace: ns, name: name, spec: spec, path: path)
                changes.append(.init(function: name, change: change, fields: fields))
            }
            if prune {
                let keep = Set(functions.entries().map(\.0))
                for f in catalog.functions(namespace: ns) where !keep.contains(f.name) {
                    try await control.deleteFunction(namespace: ns, name: f.name)
                    changes.append(.init(function: f.name, change: "deleted", fields: []))
                }
            }
            AuditNote.current?.set("changes", .array(changes.map { c in
                ["function": .string(c.function), "change": .string(c.change), "fields": .array(c.fields.map { .string($0) })]
            }))
            return try JSONBody.response(["changes": changes])
        }
        group.head("namespaces/:ns/code/:sha") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            return Response(status: try await code.ensureLocal(namespace: ns, sha256: ctx.parameters.get("sha") ?? "") ? .ok : .notFound)
        }
        group.put("namespaces/:ns/code/:sha") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .developer)
            let sha = ctx.parameters.get("sha") ?? ""
            guard sha.utf8.count == 64, sha.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw SwellError.invalid("sha256", "must be 64 lowercase hex characters")
            }
            var request = request
            let buffer = try await JSONBody.collect(&request, limit: Limits.maxCodeBytes)
            let size: Int
            do {
                let data = Data(buffer.readableBytesView)
                size = try await code.store(data, namespace: ns, sha256: sha)
            } catch let error as TarArchive.FormatError {
                throw SwellError.invalid("body", "not a valid code package: \(error.description)")
            }
            return try JSONBody.response(["sha256": .string(sha), "size": ConfigValue.int(size)], status: .created)
        }
    }
}

/// Reads and checks the `:ns` path parameter.
func namespace(_ ctx: SwellRequestContext) throws(SwellError) -> String {
    let ns = ctx.parameters.get("ns") ?? ""
    guard Names.isNamespaceName(ns) else {
        throw SwellError.invalid("namespace", "namespace names are 1-32 characters of a-z 0-9 - (got \"\(ns)\")")
    }
    return ns
}

/// Reads the `:ns` and `:name` path parameters.
func names(_ ctx: SwellRequestContext) throws(SwellError) -> (String, String) {
    let ns = try namespace(ctx)
    let name = ctx.parameters.get("name") ?? ""
    guard Names.isFunctionName(name) else {
        throw SwellError.notFound("function \(name) does not exist in namespace \(ns)")
    }
    return (ns, name)
}
