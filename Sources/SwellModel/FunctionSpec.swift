/// Reads a function's configuration from a manifest entry or an API body.
///
/// The same reader serves `swell.yaml` (where `code` is a path the CLI resolves) and the
/// REST API (where `codeSha256` names an uploaded package), so both report errors alike:
/// `functions.hello.memory: must be between 128 and 10240 (got 5)`.
public enum FunctionSpec {
    /// Fields a function entry may carry.
    public static let knownFields: Set<String> = [
        "runtime", "handler", "code", "codeSha256", "codeSize", "memory", "timeout", "concurrency",
        "environment", "description", "url", "scaling", "async", "triggers", "gpu", "layers",
    ]

    /// Parses and validates one function entry, reporting every field in error at once
    /// (a ``SwellError`` whose `problems` lists them when there are several).
    /// - Parameters:
    ///   - value: the entry.
    ///   - path: the dotted path of the entry, for error messages (`functions.hello`).
    ///   - codeSha256: the digest of the code package when the caller resolved `code` itself.
    public static func parse(_ value: ConfigValue, path: String, codeSha256 resolved: String? = nil, codeSize resolvedSize: Int? = nil) throws(SwellError) -> FunctionConfig {
        let r = try FieldReader(value, path: path)
        var problems = Problems()
        _ = problems.check { () throws(SwellError) in try r.rejectUnknown(knownFields) }

        let runtime: RuntimeKind? = problems.check { () throws(SwellError) -> RuntimeKind in
            guard let runtimeName = try r.string("runtime") else {
                throw SwellError.invalid(r.field("runtime"), "is required (one of: nodejs20, python3, provided)")
            }
            guard let runtime = RuntimeKind(named: runtimeName) else {
                throw SwellError.invalid(r.field("runtime"), "must be one of \(RuntimeKind.acceptedNames) (got \"\(runtimeName)\")")
            }
            return runtime
        }

        let handler: String? = problems.check { () throws(SwellError) -> String? in
            let handler = try r.string("handler") ?? (runtime == .provided ? "bootstrap" : "")
            guard let runtime else { return nil }
            try validateHandler(handler, runtime: runtime, field: r.field("handler"))
            return handler
        } ?? nil

        let sha: String? = problems.check { () throws(SwellError) -> String in
            if let resolved { return resolved }
            if let given = try r.string("codeSha256") {
                guard given.utf8.count == 64, given.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                    throw SwellError.invalid(r.field("codeSha256"), "must be 64 lowercase hex characters")
                }
                return given
            }
            throw SwellError.invalid(r.field(r.has("code") ? "code" : "codeSha256"), "is required (the function's code package)")
        }
        let givenSize = problems.check { () throws(SwellError) in try r.int("codeSize", range: 0...Int.max) } ?? nil
        let size = resolvedSize ?? givenSize ?? 0

        let memory = problems.check { () throws(SwellError) in try r.int("memory", range: FunctionConfig.memoryRange) } ?? nil
        let timeout = problems.check { () throws(SwellError) in try r.int("timeout", range: FunctionConfig.timeoutRange) } ?? nil
        let concurrency = problems.check { () throws(SwellError) in try r.int("concurrency", range: FunctionConfig.concurrencyRange) } ?? nil
        let environment = problems.check { () throws(SwellError) in try parseEnvironment(r) }

        let description = problems.check { () throws(SwellError) -> String in
            let description = try r.string("description") ?? ""
            guard description.count <= FunctionConfig.maxDescriptionLength else {
                throw SwellError.invalid(r.field("description"), "must be at most \(FunctionConfig.maxDescriptionLength) characters (got \(description.count))")
            }
            return description
        }

        let url = problems.check { () throws(SwellError) -> URLConfig? in
            guard let u = try r.object("url") else { return nil }
            var inner = Problems()
            _ = inner.check { () throws(SwellError) in try u.rejectUnknown(["auth", "qualifier"]) }
            let auth = inner.check { () throws(SwellError) -> URLAuth in
                let authName = try u.string("auth") ?? "key"
                guard let auth = URLAuth(rawValue: authName) else {
                    throw SwellError.invalid(u.field("auth"), "must be none or key (got \"\(authName)\")")
                }
                return auth
            }
            let qualifier = inner.check { () throws(SwellError) -> String in
                let qualifier = try u.string("qualifier") ?? "$LATEST"
                if qualifier != "$LATEST" && !Names.isAliasName(qualifier) {
                    throw SwellError.invalid(u.field("qualifier"), "must be $LATEST or an alias name (got \"\(qualifier)\")")
                }
                return qualifier
            }
            try inner.throwIfAny()
            return URLConfig(auth: auth!, qualifier: qualifier!)
        } ?? nil

        let scaling = problems.check { () throws(SwellError) in try ScalingConfig.parse(r) }
        let async = problems.check { () throws(SwellError) in try AsyncConfig.parse(r) }
        let triggers = problems.check { () throws(SwellError) in try TriggerConfig.parseList(r) }
        let gpu = problems.check { () throws(SwellError) -> GPUShare? in
            guard let g = try r.object("gpu") else { return nil }
            try g.rejectUnknown(["memory"])
            guard let memory = try g.int("memory", range: GPUShare.memoryRange) else {
                throw SwellError.invalid(g.field("memory"), "is required (MiB of GPU memory per instance, e.g. 4096)")
            }
            return GPUShare(memory: memory)
        } ?? nil
        let layers = problems.check { () throws(SwellError) in try parseLayers(r) }
        try problems.throwIfAny()

        return FunctionConfig(
            runtime: runtime!, handler: handler!, codeSha256: sha!, codeSize: size, memory: memory ?? 128, timeout: timeout ?? 3,
            concurrency: concurrency ?? 1, environment: environment!, description: description!, url: url,
            scaling: scaling!, async: async!, triggers: triggers!, gpu: gpu, layers: layers!)
    }

    /// `layers: [NAME:VERSION | layer version ARN, …]`, at most five; the server resolves each
    /// to its package (``LayerRef/sha256``).
    static func parseLayers(_ r: FieldReader) throws(SwellError) -> [LayerRef] {
        guard let value = r.value("layers") else { return [] }
        guard case .array(let items) = value else { throw SwellError.invalid(r.field("layers"), "must be a list of NAME:VERSION (got \(value.kindName))") }
        guard items.count <= LayerRef.maxPerFunction else {
            throw SwellError.invalid(r.field("layers"), "may list at most \(LayerRef.maxPerFunction) layers (got \(items.count))")
        }
        var result: [LayerRef] = []
        for (i, item) in items.enumerated() {
            let field = "\(r.field("layers"))[\(i)]"
            guard case .string(let text) = item else { throw SwellError.invalid(field, "must be NAME:VERSION or a layer version ARN (got \(item.kindName))") }
            guard let parsed = LayerRef.parse(text) else {
                throw SwellError.invalid(field, "must be NAME:VERSION or a layer version ARN (got \"\(text)\")")
            }
            result.append(LayerRef(name: parsed.name, version: parsed.version))
        }
        return result
    }

    static func validateHandler(_ handler: String, runtime: RuntimeKind, field: String) throws(SwellError) {
        guard !handler.isEmpty else {
            throw SwellError.invalid(field, "is required for runtime \(runtime.rawValue) (e.g. index.handler)")
        }
        guard handler.utf8.count <= 128, !handler.contains(".."), !handler.hasPrefix("/"),
            handler.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw SwellError.invalid(field, "must be a relative module path and export name without spaces or \"..\" (got \"\(handler)\")")
        }
        switch runtime {
        case .nodejs20, .python3:
            guard let dot = handler.lastIndex(of: "."), dot != handler.startIndex, handler.index(after: dot) != handler.endIndex else {
                throw SwellError.invalid(field, "must look like FILE.EXPORT, e.g. index.handler (got \"\(handler)\")")
            }
        case .provided:
            break
        }
    }

    static func parseEnvironment(_ r: FieldReader) throws(SwellError) -> [String: String] {
        guard let env = try r.object("environment") else { return [:] }
        var result: [String: String] = [:]
        var bytes = 0
        for (key, value) in env.entries() {
            let field = env.field(key)
            guard Names.isEnvironmentKey(key) else {
                throw SwellError.invalid(field, "is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
            }
            guard !Names.isReservedEnvironmentKey(key) else {
                throw SwellError.invalid(field, "is reserved by the platform (AWS_*, LAMBDA_*, SWELL_*, _HANDLER)")
            }
            let s: String
            switch value {
            case .string(let v): s = v
            case .int(let i): s = String(i)
            case .double(let d): s = String(d)
            case .bool(let b): s = String(b)
            default: throw SwellError.invalid(field, "must be a string (got \(value.kindName))")
            }
            guard !s.utf8.contains(0) else { throw SwellError.invalid(field, "must not contain NUL bytes") }
            bytes += key.utf8.count + s.utf8.count
            result[key] = s
        }
        guard bytes <= FunctionConfig.maxEnvironmentBytes else {
            throw SwellError.invalid(env.path, "is \(bytes) bytes; at most \(FunctionConfig.maxEnvironmentBytes) are allowed")
        }
        return result
    }
}
