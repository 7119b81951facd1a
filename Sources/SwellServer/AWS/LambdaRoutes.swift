import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import SwellDeploy
import SwellInvoker
import SwellModel
import SwellStore
import SwellTasks

extension HTTPField.Name {
    static let amzInvocationType = HTTPField.Name("X-Amz-Invocation-Type")!
    static let amzLogType = HTTPField.Name("X-Amz-Log-Type")!
    static let amzLogResult = HTTPField.Name("X-Amz-Log-Result")!
    static let amzFunctionError = HTTPField.Name("X-Amz-Function-Error")!
    static let amzExecutedVersion = HTTPField.Name("X-Amz-Executed-Version")!
    static let amzClientContext = HTTPField.Name("X-Amz-Client-Context")!
}

/// The Lambda API (REST paths under `/2015-03-31/…` and its later dates) over Swell's
/// catalog, control plane, invoker and task queue. Every route runs behind
/// ``SigV4Middleware``; errors answer in AWS's shape.
struct LambdaRoutes {
    let control: ControlPlane
    let catalog: Catalog
    let code: CodeStore
    let invoker: Invoker
    let tasks: TaskService
    let layers: any LayerStorage

    /// The API dates whose paths this front serves (the Lambda API's every date, so that an
    /// action Swell lacks is signed-checked and answered as AWS answers an unknown one).
    static let dates = [
        "2015-03-31", "2016-08-19", "2017-03-31", "2017-10-31", "2018-10-31", "2019-09-25", "2019-09-30", "2020-04-22",
        "2020-06-30", "2021-07-20", "2021-10-31", "2021-11-15", "2022-07-20", "2024-08-31",
    ]

    func register(on router: Router<SwellRequestContext>, keys: any AWSKeyStorage) {
        let cache = SigningKeyCache()
        for date in Self.dates {
            let group = router.group(RouterPath(date)).add(
                middleware: SigV4Middleware(catalog: catalog, keys: keys, service: "lambda", bodyLimit: Self.bodyLimit, signingKeys: cache))
            switch date {
            case "2015-03-31": functions(group)
            case "2017-10-31": reservedConcurrency(group)
            case "2018-10-31": LayerRoutes(layers: layers, routes: self).register(on: group)
            case "2019-09-25": eventInvokeConfig(group)
            case "2019-09-30": provisionedConcurrency(group)
            case "2021-10-31": urls(group)
            default: break
            }
            // Anything else on these paths is an action Swell does not implement.
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .head] {
                group.on("**", method: method) { request, _ -> Response in
                    throw AWSError(
                        .unknownOperation, 404,
                        "Swell does not support this Lambda API action (\(request.method) \(request.uri.path)); docs/aws.md lists the supported ones")
                }
            }
        }
    }

    /// Code packages arrive base64-encoded inside JSON (up to Lambda's 50 MB zip: ~67 MB).
    static let bodyLimit = 70 << 20

    // MARK: Functions

    func functions(_ g: RouterGroup<SwellRequestContext>) {
        g.post("functions") { request, ctx in try await createFunction(request, ctx) }
        g.get("functions") { request, ctx in try listFunctions(request, ctx) }
        g.get("functions/:name") { request, ctx in
            let t = try target(request, ctx, .invoker)
            let configuration = try configuration(t)
            var result: [String: Any] = ["Configuration": configuration, "Code": ["RepositoryType": "Swell"]]
            if let f = catalog.function(t.namespace, t.name), f.config.scaling.maxInstances != ScalingConfig().maxInstances {
                result["Concurrency"] = ["ReservedConcurrentExecutions": f.config.scaling.maxInstances * f.config.concurrency]
            }
            return try LambdaShapes.response(result)
        }
        g.get("functions/:name/configuration") { request, ctx in
            try LambdaShapes.response(try configuration(try target(request, ctx, .invoker)))
        }
        g.delete("functions/:name") { request, ctx in
            let t = try target(request, ctx, .developer)
            if let q = t.qualifier, q != "$LATEST" {
                throw AWSError.invalid("Swell deletes whole functions only; versions are kept until the function is deleted (Qualifier \(q))")
            }
            guard catalog.function(t.namespace, t.name) != nil else { throw notFound(t) }
            try await control.deleteFunction(namespace: t.namespace, name: t.name)
            return Response(status: .noContent)
        }
        g.put("functions/:name/code") { request, ctx in try await updateCode(request, ctx) }
        g.put("functions/:name/configuration") { request, ctx in try await updateConfiguration(request, ctx) }
        g.post("functions/:name/invocations") { request, ctx in try await invoke(request, ctx) }
        g.post("functions/:name/invoke-async") { _, _ -> Response in
            throw AWSError(.unknownOperation, 404, "Swell does not support the deprecated InvokeAsync action; use Invoke with InvocationType Event")
        }
        g.post("functions/:name/versions") { request, ctx in
            let t = try target(request, ctx, .developer)
            let body = try await LambdaBody(request)
            guard let current = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            if let sha = try body.string("CodeSha256"), sha != LambdaShapes.codeSha256(current.config.codeSha256) {
                throw AWSError(.preconditionFailed, 412, "CodeSha256 (\(sha)) is different from current CodeSha256 in $LATEST. Please try again with the CodeSha256 in $LATEST.")
            }
            let description = try body.string("Description") ?? ""
            let (version, created) = try await control.publish(namespace: t.namespace, name: t.name, description: description)
            return try LambdaShapes.response(versionConfiguration(version), status: created ? .created : .ok)
        }
        g.get("functions/:name/versions") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            var all: [[String: Any]] = [latestConfiguration(f)]
            all += catalog.versions(t.namespace, t.name).map(versionConfiguration)
            let (page, next) = try Self.page(all, request: request)
            var result: [String: Any] = ["Versions": page]
            if let next { result["NextMarker"] = next }
            return try LambdaShapes.response(result)
        }
        // Aliases
        g.post("functions/:name/aliases") { request, ctx in
            let t = try target(request, ctx, .developer)
            let body = try await LambdaBody(request)
            guard let alias = try body.string("Name") else { throw AWSError.invalid("Name is required") }
            guard catalog.function(t.namespace, t.name) != nil else { throw notFound(t) }
            if catalog.alias(t.namespace, t.name, alias) != nil {
                throw AWSError.conflict("Alias already exists: \(LambdaARN.function(t.namespace, t.name, alias))")
            }
            let record = try await putAlias(t, alias, body: body, existing: nil)
            return try LambdaShapes.response(LambdaShapes.alias(namespace: t.namespace, function: t.name, record), status: .created)
        }
        g.get("functions/:name/aliases") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard catalog.function(t.namespace, t.name) != nil else { throw notFound(t) }
            var aliases = catalog.aliases(t.namespace, t.name)
            if let v = request.uri.queryParameters.get("FunctionVersion") {
                aliases = aliases.filter { String($0.config.version) == v }
            }
            let (page, next) = try Self.page(aliases.map { LambdaShapes.alias(namespace: t.namespace, function: t.name, $0) }, request: request)
            var result: [String: Any] = ["Aliases": page]
            if let next { result["NextMarker"] = next }
            return try LambdaShapes.response(result)
        }
        g.get("functions/:name/aliases/:alias") { request, ctx in
            let t = try target(request, ctx, .invoker)
            let name = ctx.parameters.get("alias").map(percentDecoded) ?? ""
            guard let alias = catalog.alias(t.namespace, t.name, name) else { throw aliasNotFound(t, name) }
            return try LambdaShapes.response(LambdaShapes.alias(namespace: t.namespace, function: t.name, alias))
        }
        g.put("functions/:name/aliases/:alias") { request, ctx in
            let t = try target(request, ctx, .developer)
            let name = ctx.parameters.get("alias").map(percentDecoded) ?? ""
            guard let existing = catalog.alias(t.namespace, t.name, name) else { throw aliasNotFound(t, name) }
            let record = try await putAlias(t, name, body: try await LambdaBody(request), existing: existing)
            return try LambdaShapes.response(LambdaShapes.alias(namespace: t.namespace, function: t.name, record))
        }
        g.delete("functions/:name/aliases/:alias") { request, ctx in
            let t = try target(request, ctx, .developer)
            let name = ctx.parameters.get("alias").map(percentDecoded) ?? ""
            guard catalog.function(t.namespace, t.name) != nil else { throw notFound(t) }
            // Deleting an alias that is not there succeeds, as on Lambda.
            if catalog.alias(t.namespace, t.name, name) != nil {
                try await control.deleteAlias(namespace: t.namespace, function: t.name, name: name)
            }
            return Response(status: .noContent)
        }
        EventSourceMappingRoutes(routes: self).register(on: g)
    }

    func createFunction(_ request: Request, _ ctx: SwellRequestContext) async throws -> Response {
        let body = try await LambdaBody(request)
        guard let raw = try body.string("FunctionName") else { throw AWSError.invalid("FunctionName is required") }
        let parsed = try LambdaARN.parseFunction(raw)
        guard parsed.qualifier == nil else { throw AWSError.invalid("FunctionName must not carry a qualifier") }
        let ns = try parsed.namespace ?? ctx.requirePrincipal().namespace
        _ = try ctx.authorize(ns, .developer)
        try body.rejectUnsupported(["ImageConfig", "VpcConfig", "DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs", "CodeSigningConfigArn", "SnapStart"], operation: "CreateFunction")
        if let type = try body.string("PackageType"), type != "Zip" { throw AWSError.invalid("Swell runs Zip packages only (PackageType \(type))") }
        guard let runtimeName = try body.string("Runtime") else { throw AWSError.invalid("Runtime is required for a Zip package") }
        guard let runtime = RuntimeKind(named: runtimeName) else {
            throw AWSError.invalid("Value \(runtimeName) at 'runtime' failed to satisfy constraint: Swell runs \(RuntimeKind.acceptedNames)")
        }
        let handler = try body.string("Handler") ?? (runtime == .provided ? "bootstrap" : "")
        guard let codeBody = try body.object("Code") else { throw AWSError.invalid("Code is required") }
        let sha = try await storeZip(codeBody, namespace: ns)
        var config = FunctionConfig(runtime: runtime, handler: handler, codeSha256: sha)
        try await apply(body, to: &config, namespace: ns)
        let initial = config
        let (record, _) = try await control.updateFunction(namespace: ns, name: parsed.name, create: initial) { _ in }
        if try body.bool("Publish") == true {
            let (version, _) = try await control.publish(namespace: ns, name: parsed.name, description: "")
            return try LambdaShapes.response(versionConfiguration(version), status: .created)
        }
        return try LambdaShapes.response(latestConfiguration(record), status: .created)
    }

    func updateCode(_ request: Request, _ ctx: SwellRequestContext) async throws -> Response {
        let t = try target(request, ctx, .developer)
        let body = try await LambdaBody(request)
        guard catalog.function(t.namespace, t.name) != nil else { throw notFound(t) }
        let sha = try await storeZip(body, namespace: t.namespace)
        if try body.bool("DryRun") == true {
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            var c = latestConfiguration(f)
            c["CodeSha256"] = LambdaShapes.codeSha256(sha)
            return try LambdaShapes.response(c)
        }
        let (record, _) = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { $0.codeSha256 = sha }
        if try body.bool("Publish") == true {
            let (version, _) = try await control.publish(namespace: t.namespace, name: t.name, description: "")
            return try LambdaShapes.response(versionConfiguration(version))
        }
        return try LambdaShapes.response(latestConfiguration(record))
    }

    func updateConfiguration(_ request: Request, _ ctx: SwellRequestContext) async throws -> Response {
        let t = try target(request, ctx, .developer)
        let body = try await LambdaBody(request)
        try body.rejectUnsupported(["ImageConfig", "VpcConfig", "DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs", "SnapStart"], operation: "UpdateFunctionConfiguration")
        if let revision = try body.string("RevisionId"), let f = catalog.function(t.namespace, t.name), revision != LambdaShapes.revisionID(f.revision) {
            throw AWSError(.preconditionFailed, 412, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        }
        let ns = t.namespace
        let (record, _) = try await control.updateFunction(namespace: ns, name: t.name, create: nil) { config in
            if let runtimeName = try body.string("Runtime") {
                guard let runtime = RuntimeKind(named: runtimeName) else {
                    throw AWSError.invalid("Value \(runtimeName) at 'runtime' failed to satisfy constraint: Swell runs \(RuntimeKind.acceptedNames)")
                }
                config.runtime = runtime
            }
            if let handler = try body.string("Handler") { config.handler = handler }
            try await apply(body, to: &config, namespace: ns)
        }
        return try LambdaShapes.response(latestConfiguration(record))
    }

    /// The fields CreateFunction and UpdateFunctionConfiguration share.
    func apply(_ body: LambdaBody, to config: inout FunctionConfig, namespace: String) async throws {
        if let memory = try body.int("MemorySize", FunctionConfig.memoryRange) { config.memory = memory }
        if let timeout = try body.int("Timeout", FunctionConfig.timeoutRange) { config.timeout = timeout }
        if let description = try body.string("Description") {
            guard description.count <= FunctionConfig.maxDescriptionLength else {
                throw AWSError.invalid("Description must be at most \(FunctionConfig.maxDescriptionLength) characters")
            }
            config.description = description
        }
        if let env = try body.object("Environment") {
            var variables: [String: ConfigValue] = [:]
            if let v = try env.object("Variables") { variables = v.fields }
            // The manifest's checks (names, reserved keys, 4 KB) apply, with Lambda's error class.
            do {
                let parsed = try FunctionSpec.parse(
                    .object(["runtime": .string(config.runtime.rawValue), "handler": .string(config.handler), "codeSha256": .string(config.codeSha256),
                             "environment": .object(variables)]), path: "")
                config.environment = parsed.environment
            } catch {
                throw AWSError.invalid("Environment.Variables: \(error.description)")
            }
        }
        if let layerARNs = try body.strings("Layers") {
            var refs: [LayerRef] = []
            for arn in layerARNs {
                guard let parsed = LayerRef.parse(arn), parsed.namespace == nil || parsed.namespace == namespace else {
                    throw AWSError.invalid("Layers: \(arn) is not a layer version ARN of namespace \(namespace)")
                }
                refs.append(LayerRef(name: parsed.name, version: parsed.version))
            }
            do {
                config.layers = try await control.resolveLayers(refs, namespace: namespace, field: "Layers")
            } catch {
                throw AWSError.invalid(error.description)
            }
        }
        if let architectures = try body.strings("Architectures"), architectures != [LambdaShapes.architecture] {
            throw AWSError.invalid("this Swell host runs \(LambdaShapes.architecture) only (Architectures \(architectures))")
        }
        try config.validateHandlerSyntax()
    }

    /// Stores `ZipFile` (base64) as the namespace's code package; its digest.
    func storeZip(_ body: LambdaBody, namespace: String) async throws -> String {
        try body.rejectUnsupported(["S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"], operation: "Code")
        guard let encoded = try body.string("ZipFile") else { throw AWSError.invalid("ZipFile is required (Swell takes code inline)") }
        guard let zip = Data(base64Encoded: encoded) else { throw AWSError.invalid("ZipFile must be base64") }
        // Unzipping and re-packing is CPU and file work: off the cooperative pool.
        let package = try await NIOThreadPool.singleton.runIfActive {
            do {
                return try CodePackage.pack(zip: zip)
            } catch let error as CodePackage.PackError {
                throw AWSError.invalid("Could not unzip uploaded file: \(error.description)")
            }
        }
        // Stored locally and, on a shared store, for the other nodes.
        _ = try await code.store(package.data, namespace: namespace, sha256: package.sha256)
        return package.sha256
    }

    func listFunctions(_ request: Request, _ ctx: SwellRequestContext) throws -> Response {
        let principal = try ctx.requirePrincipal()
        let ns = principal.namespace
        _ = try ctx.authorize(ns, .invoker)
        let all = request.uri.queryParameters.get("FunctionVersion") == "ALL"
        var items: [[String: Any]] = []
        for f in catalog.functions(namespace: ns) {
            items.append(latestConfiguration(f))
            if all { items += catalog.versions(ns, f.name).map(versionConfiguration) }
        }
        let (page, next) = try Self.page(items, request: request)
        var result: [String: Any] = ["Functions": page]
        if let next { result["NextMarker"] = next }
        return try LambdaShapes.response(result)
    }

    /// A page of `items` after `Marker` (an offset, as Swell writes it), `MaxItems` long (default 50).
    static func page(_ items: [[String: Any]], request: Request) throws -> ([[String: Any]], String?) {
        let q = request.uri.queryParameters
        let start: Int
        if let marker = q.get("Marker") {
            guard let n = Int(marker), n >= 0 else { throw AWSError.invalid("Marker \(marker) is not one Swell issued") }
            start = min(n, items.count)
        } else {
            start = 0
        }
        let max = try int(q.get("MaxItems").map { String($0) }, field: "MaxItems", range: 1...10_000) ?? 50
        let end = min(items.count, start + max)
        return (Array(items[start..<end]), end < items.count ? String(end) : nil)
    }

    // MARK: Invoke

    func invoke(_ request: Request, _ ctx: SwellRequestContext) async throws -> Response {
        let t = try target(request, ctx, .invoker)
        let qualifier: Qualifier
        do {
            qualifier = try Qualifier(parsing: t.qualifier)
        } catch {
            throw AWSError.invalid(error.description)
        }
        var request = request
        var payload = try await request.collectBody(upTo: Limits.maxPayloadBytes + 1)
        guard payload.readableBytes <= Limits.maxPayloadBytes else {
            throw AWSError(.requestTooLarge, 413, "Request must be smaller than \(Limits.maxPayloadBytes) bytes for the InvokeFunction operation")
        }
        if payload.readableBytes == 0 {
            payload = ByteBuffer(string: "{}")
        } else if !JSONScanner.isValid(Array(payload.readableBytesView)) {
            throw AWSError(.invalidRequestContent, 400, "Could not parse request body into json: the payload must be valid JSON")
        }
        switch request.headers[.amzInvocationType] ?? "RequestResponse" {
        case "RequestResponse":
            break
        case "Event":
            _ = try catalog.resolve(t.namespace, t.name, qualifier, random: 0)
            guard payload.readableBytes <= TaskLimits.maxPayloadBytes else {
                throw AWSError(.requestTooLarge, 413, "Request must be smaller than \(TaskLimits.maxPayloadBytes) bytes for an Event invocation")
            }
            let result = try await tasks.enqueue(
                namespace: t.namespace, function: t.name, qualifier: qualifier.description, payload: Data(payload.readableBytesView), options: TaskOptions())
            var headers = HTTPFields()
            headers[.amznRequestID] = result.taskID
            return Response(status: .accepted, headers: headers)
        case "DryRun":
            _ = try catalog.resolve(t.namespace, t.name, qualifier, random: 0)
            return Response(status: .noContent)
        case let other:
            throw AWSError.invalid("InvocationType must be RequestResponse, Event or DryRun (got \(other))")
        }
        let tail = request.headers[.amzLogType] == "Tail"
        var clientContext: String?
        if let encoded = request.headers[.amzClientContext] {
            guard let data = Data(base64Encoded: encoded) else { throw AWSError.invalid("X-Amz-Client-Context must be base64") }
            clientContext = String(decoding: data, as: UTF8.self)
        }
        let response = try await invoker.invoke(
            namespace: t.namespace, name: t.name, qualifier: qualifier, payload: payload, captureLogs: tail,
            traceID: request.headers[.amznTraceID], clientContext: clientContext)
        var headers = HTTPFields()
        headers.reserveCapacity(5)
        headers[.contentType] = "application/json"
        headers[.amznRequestID] = response.requestID
        headers[.amzExecutedVersion] = response.executedVersion
        if let lines = response.logLines {
            var text = lines.joined(separator: "\n")
            if !text.isEmpty { text += "\n" }
            text += "REPORT RequestId: \(response.requestID)\tDuration: \(InvokeRoutes.milliseconds(response.durationMs)) ms\tBilled Duration: \(response.billedMs) ms\n"
            var bytes = Array(text.utf8)
            if bytes.count > Limits.logTailBytes { bytes = Array(bytes.suffix(Limits.logTailBytes)) }
            headers[.amzLogResult] = Data(bytes).base64EncodedString()
        }
        switch response.result {
        case .success(let result):
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: result))
        case .failure(_, let error):
            headers[.amzFunctionError] = "Unhandled"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: (try? JSONBody.encoder.encode(error)) ?? Data())))
        }
    }

    // MARK: Event invoke config, concurrency, URLs

    func eventInvokeConfig(_ g: RouterGroup<SwellRequestContext>) {
        @Sendable func write(_ request: Request, _ ctx: SwellRequestContext, replace: Bool) async throws -> Response {
            let t = try target(request, ctx, .developer)
            try latestOnly(t, what: "event invoke config")
            let body = try await LambdaBody(request)
            let ns = t.namespace
            let (record, _) = try await control.updateFunction(namespace: ns, name: t.name, create: nil) { config in
                if replace { config.async = AsyncConfig(concurrency: config.async.concurrency) }
                if let retries = try body.int("MaximumRetryAttempts", 0...(AsyncConfig.attemptsRange.upperBound - 1)) {
                    config.async.maxAttempts = retries + 1
                }
                if let age = try body.int("MaximumEventAgeInSeconds", 60...AsyncConfig.eventAgeRange.upperBound) { config.async.maxEventAge = age }
                if let destinations = try body.object("DestinationConfig") {
                    if let s = try destinations.object("OnSuccess") { config.async.onSuccess = try destination(s, namespace: ns) }
                    if let f = try destinations.object("OnFailure") { config.async.onFailure = try destination(f, namespace: ns) }
                }
            }
            return try LambdaShapes.response(eventInvokeConfig(record))
        }
        g.put("functions/:name/event-invoke-config") { request, ctx in try await write(request, ctx, replace: true) }
        g.post("functions/:name/event-invoke-config") { request, ctx in try await write(request, ctx, replace: false) }
        g.get("functions/:name/event-invoke-config") { request, ctx in
            let t = try target(request, ctx, .invoker)
            try latestOnly(t, what: "event invoke config")
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            guard f.config.async != AsyncConfig(concurrency: f.config.async.concurrency) else {
                throw AWSError.notFound("The function \(LambdaARN.function(t.namespace, t.name)) doesn't have an EventInvokeConfig")
            }
            return try LambdaShapes.response(eventInvokeConfig(f))
        }
        g.get("functions/:name/event-invoke-config/list") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            let configs = f.config.async != AsyncConfig(concurrency: f.config.async.concurrency) ? [eventInvokeConfig(f)] : []
            return try LambdaShapes.response(["FunctionEventInvokeConfigs": configs])
        }
        g.delete("functions/:name/event-invoke-config") { request, ctx in
            let t = try target(request, ctx, .developer)
            try latestOnly(t, what: "event invoke config")
            _ = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                config.async = AsyncConfig(concurrency: config.async.concurrency)
            }
            return Response(status: .noContent)
        }
    }

    func eventInvokeConfig(_ f: FunctionRecord) -> [String: Any] {
        var destinations: [String: Any] = [:]
        func arn(_ d: Destination?) -> [String: Any]? {
            switch d {
            case .function(let name, let qualifier)?: ["Destination": LambdaARN.function(f.namespace, name, qualifier)]
            case .webhook(let url, _)?: ["Destination": url]
            case .kafka(let brokers, let topic)?: ["Destination": "kafka://\(brokers.joined(separator: ","))/\(topic)"]
            case .workflow(let name)?: ["Destination": LambdaARN.stateMachine(f.namespace, name)]
            case nil: nil
            }
        }
        if let s = arn(f.config.async.onSuccess) { destinations["OnSuccess"] = s }
        if let s = arn(f.config.async.onFailure) { destinations["OnFailure"] = s }
        return [
            "FunctionArn": LambdaARN.function(f.namespace, f.name, "$LATEST"),
            "LastModified": f.updatedAt.timeIntervalSince1970,
            "MaximumRetryAttempts": f.config.async.maxAttempts - 1,
            "MaximumEventAgeInSeconds": f.config.async.maxEventAge,
            "DestinationConfig": destinations,
        ]
    }

    /// A destination ARN: a function of the same namespace (Swell's destinations are functions,
    /// webhooks and Kafka topics; SQS, SNS and EventBridge are not there).
    func destination(_ body: LambdaBody, namespace: String) throws -> Destination? {
        guard let arn = try body.string("Destination"), !arn.isEmpty else { return nil }
        if arn.hasPrefix("http://") || arn.hasPrefix("https://") { return .webhook(url: arn, cloudEvents: false) }
        guard arn.hasPrefix("arn:aws:lambda:") else {
            throw AWSError.invalid("Swell delivers destinations to Lambda function ARNs (or http(s) webhooks) only; got \(arn)")
        }
        let parsed = try LambdaARN.parseFunction(arn)
        guard parsed.namespace == nil || parsed.namespace == namespace else {
            throw AWSError.invalid("the destination function must be in the same namespace (\(namespace))")
        }
        return .function(name: parsed.name, qualifier: parsed.qualifier)
    }

    func reservedConcurrency(_ g: RouterGroup<SwellRequestContext>) {
        g.put("functions/:name/concurrency") { request, ctx in
            let t = try target(request, ctx, .developer)
            let body = try await LambdaBody(request)
            guard let n = try body.int("ReservedConcurrentExecutions", 0...100_000) else {
                throw AWSError.invalid("ReservedConcurrentExecutions is required")
            }
            guard n >= 1 else { throw AWSError.invalid("Swell cannot reserve 0 (a function is stopped by deleting it or its triggers)") }
            _ = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                let instances = max(1, (n + config.concurrency - 1) / config.concurrency)
                guard ScalingConfig.instancesRange.contains(instances) else {
                    throw AWSError.invalid("ReservedConcurrentExecutions needs \(instances) instances; Swell allows at most \(ScalingConfig.instancesRange.upperBound)")
                }
                config.scaling.maxInstances = instances
                config.scaling.minInstances = min(config.scaling.minInstances, instances)
            }
            return try LambdaShapes.response(["ReservedConcurrentExecutions": n])
        }
        g.delete("functions/:name/concurrency") { request, ctx in
            let t = try target(request, ctx, .developer)
            _ = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                config.scaling.maxInstances = ScalingConfig().maxInstances
            }
            return Response(status: .noContent)
        }
    }

    func provisionedConcurrency(_ g: RouterGroup<SwellRequestContext>) {
        g.get("functions/:name/concurrency") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            guard f.config.scaling.maxInstances != ScalingConfig().maxInstances else { return try LambdaShapes.response([String: Any]()) }
            return try LambdaShapes.response(["ReservedConcurrentExecutions": f.config.scaling.maxInstances * f.config.concurrency])
        }
        g.put("functions/:name/provisioned-concurrency") { request, ctx in
            let t = try target(request, ctx, .developer)
            try latestOnly(t, what: "provisioned concurrency (scaling.minInstances)")
            let body = try await LambdaBody(request)
            guard let n = try body.int("ProvisionedConcurrentExecutions", 1...100_000) else {
                throw AWSError.invalid("ProvisionedConcurrentExecutions is required")
            }
            let (record, _) = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                let instances = (n + config.concurrency - 1) / config.concurrency
                guard instances <= config.scaling.maxInstances else {
                    throw AWSError.invalid("ProvisionedConcurrentExecutions needs \(instances) instances, more than the function's maximum \(config.scaling.maxInstances)")
                }
                config.scaling.minInstances = instances
            }
            return try LambdaShapes.response(provisioned(record), status: .accepted)
        }
        g.get("functions/:name/provisioned-concurrency") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            if t.qualifier == nil {
                let configs = f.config.scaling.minInstances > 0 ? [provisioned(f)] : []
                return try LambdaShapes.response(["ProvisionedConcurrencyConfigs": configs])
            }
            try latestOnly(t, what: "provisioned concurrency (scaling.minInstances)")
            guard f.config.scaling.minInstances > 0 else {
                throw AWSError(.resourceNotFound, 404, "No Provisioned Concurrency Config found for this function")
            }
            return try LambdaShapes.response(provisioned(f))
        }
        g.delete("functions/:name/provisioned-concurrency") { request, ctx in
            let t = try target(request, ctx, .developer)
            try latestOnly(t, what: "provisioned concurrency (scaling.minInstances)")
            _ = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { $0.scaling.minInstances = 0 }
            return Response(status: .noContent)
        }
    }

    func provisioned(_ f: FunctionRecord) -> [String: Any] {
        let n = f.config.scaling.minInstances * f.config.concurrency
        return [
            "FunctionArn": LambdaARN.function(f.namespace, f.name, "$LATEST"),
            "RequestedProvisionedConcurrentExecutions": n,
            "AvailableProvisionedConcurrentExecutions": n,
            "AllocatedProvisionedConcurrentExecutions": n,
            "Status": "READY",
            "LastModified": LambdaShapes.lastModified(f.updatedAt),
        ]
    }

    func urls(_ g: RouterGroup<SwellRequestContext>) {
        @Sendable func write(_ request: Request, _ ctx: SwellRequestContext, create: Bool) async throws -> Response {
            let t = try target(request, ctx, .developer)
            let body = try await LambdaBody(request)
            try body.rejectUnsupported(["Cors"], operation: create ? "CreateFunctionUrlConfig" : "UpdateFunctionUrlConfig")
            if let mode = try body.string("InvokeMode"), mode != "BUFFERED" { throw AWSError.invalid("Swell's function URLs buffer responses (InvokeMode \(mode))") }
            let qualifier = t.qualifier ?? "$LATEST"
            guard qualifier == "$LATEST" || Names.isAliasName(qualifier) else {
                throw AWSError.invalid("a function URL points at $LATEST or an alias (Qualifier \(qualifier))")
            }
            let auth = try body.string("AuthType")
            if create && auth == nil { throw AWSError.invalid("AuthType is required") }
            let (record, _) = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                if create, config.url != nil {
                    throw AWSError.conflict("Failed to create function url config for [functionArn = \(LambdaARN.function(t.namespace, t.name))]. Error message: FunctionUrlConfig exists for this Lambda function")
                }
                if !create, config.url?.qualifier != qualifier { throw urlNotFound(t) }
                var url = config.url ?? URLConfig(auth: .key, qualifier: qualifier)
                switch auth {
                case "NONE"?: url.auth = .none
                case "AWS_IAM"?: url.auth = .key
                case nil: break
                case let other?: throw AWSError.invalid("AuthType must be NONE or AWS_IAM (got \(other))")
                }
                config.url = url
            }
            return try LambdaShapes.response(urlConfig(record, request: request), status: create ? .created : .ok)
        }
        g.post("functions/:name/url") { request, ctx in try await write(request, ctx, create: true) }
        g.put("functions/:name/url") { request, ctx in try await write(request, ctx, create: false) }
        g.get("functions/:name/url") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            guard let url = f.config.url, url.qualifier == (t.qualifier ?? "$LATEST") else { throw urlNotFound(t) }
            return try LambdaShapes.response(urlConfig(f, request: request))
        }
        g.get("functions/:name/urls") { request, ctx in
            let t = try target(request, ctx, .invoker)
            guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
            return try LambdaShapes.response(["FunctionUrlConfigs": f.config.url == nil ? [] : [urlConfig(f, request: request)]])
        }
        g.delete("functions/:name/url") { request, ctx in
            let t = try target(request, ctx, .developer)
            _ = try await control.updateFunction(namespace: t.namespace, name: t.name, create: nil) { config in
                guard config.url?.qualifier == (t.qualifier ?? "$LATEST") else { throw urlNotFound(t) }
                config.url = nil
            }
            return Response(status: .noContent)
        }
    }

    func urlConfig(_ f: FunctionRecord, request: Request) -> [String: Any] {
        let url = f.config.url ?? URLConfig(auth: .key)
        let host = request.head.authority ?? "localhost"
        return [
            "FunctionUrl": "http://\(host)/fn/\(f.namespace)/\(f.name)/",
            "FunctionArn": LambdaARN.function(f.namespace, f.name, url.qualifier == "$LATEST" ? nil : url.qualifier),
            "AuthType": url.auth == .none ? "NONE" : "AWS_IAM",
            "CreationTime": Timestamps.iso8601(f.createdAt),
            "LastModifiedTime": Timestamps.iso8601(f.updatedAt),
            "InvokeMode": "BUFFERED",
        ]
    }

    // MARK: Helpers

    /// The function a request names (path and `Qualifier` query), authorized for `role`.
    struct Target {
        var namespace: String
        var name: String
        var qualifier: String?
    }

    func target(_ request: Request, _ ctx: SwellRequestContext, _ role: Role) throws -> Target {
        let raw = percentDecoded(ctx.parameters.get("name") ?? "")
        let parsed = try LambdaARN.parseFunction(raw)
        let query = request.uri.queryParameters.get("Qualifier").map { String($0) }
        if let a = parsed.qualifier, let b = query, a != b {
            throw AWSError.invalid("The derived qualifier from the function name does not match the specified qualifier.")
        }
        let ns = try parsed.namespace ?? ctx.requirePrincipal().namespace
        _ = try ctx.authorize(ns, role)
        return Target(namespace: ns, name: parsed.name, qualifier: parsed.qualifier ?? query)
    }

    func notFound(_ t: Target) -> AWSError {
        AWSError.notFound("Function not found: \(LambdaARN.function(t.namespace, t.name, t.qualifier))")
    }

    func aliasNotFound(_ t: Target, _ alias: String) -> AWSError {
        catalog.function(t.namespace, t.name) == nil ? notFound(t) : AWSError.notFound("Alias not found: \(LambdaARN.function(t.namespace, t.name, alias))")
    }

    func urlNotFound(_ t: Target) -> AWSError {
        AWSError.notFound("The resource you requested does not exist.")
    }

    func latestOnly(_ t: Target, what: String) throws {
        if let q = t.qualifier, q != "$LATEST" {
            throw AWSError.invalid("Swell keeps \(what) on $LATEST (published versions keep what they had when published); Qualifier \(q) is not supported")
        }
    }

    func configuration(_ t: Target) throws -> [String: Any] {
        guard let f = catalog.function(t.namespace, t.name) else { throw notFound(t) }
        switch t.qualifier {
        case nil, "$LATEST"?:
            return latestConfiguration(f)
        case let q?:
            let n: Int
            if let v = Int(q) {
                n = v
            } else if let alias = catalog.alias(t.namespace, t.name, q) {
                n = alias.config.version
            } else {
                throw notFound(t)
            }
            guard let version = catalog.versions(t.namespace, t.name).first(where: { $0.version == n }) else { throw notFound(t) }
            return versionConfiguration(version)
        }
    }

    func latestConfiguration(_ f: FunctionRecord) -> [String: Any] {
        LambdaShapes.configuration(
            namespace: f.namespace, name: f.name, config: f.config, version: "$LATEST", modified: f.updatedAt,
            revision: LambdaShapes.revisionID(f.revision), layers: describe(f.config.layers, namespace: f.namespace))
    }

    func versionConfiguration(_ v: VersionRecord) -> [String: Any] {
        LambdaShapes.configuration(
            namespace: v.namespace, name: v.function, config: v.config, version: String(v.version), modified: v.publishedAt,
            revision: LambdaShapes.revisionID(v.version), layers: describe(v.config.layers, namespace: v.namespace))
    }

    /// `Layers` of a `FunctionConfiguration`.
    func describe(_ layers: [LayerRef], namespace: String) -> [[String: Any]] {
        layers.map { ["Arn": LambdaARN.layer(namespace, $0.name, $0.version), "CodeSize": code.size(namespace: namespace, sha256: $0.sha256)] }
    }

    func putAlias(_ t: Target, _ name: String, body: LambdaBody, existing: AliasRecord?) async throws -> AliasRecord {
        var fields: [String: ConfigValue] = [:]
        let version = try body.string("FunctionVersion") ?? existing.map { String($0.config.version) }
        guard let version else { throw AWSError.invalid("FunctionVersion is required") }
        guard let n = Int(version) else {
            throw AWSError.invalid("Swell's aliases point at published versions (FunctionVersion \(version)); publish one first")
        }
        fields["version"] = .int(n)
        fields["description"] = .string(try body.string("Description") ?? existing?.config.description ?? "")
        if let routing = try body.object("RoutingConfig") {
            if let weights = try routing.object("AdditionalVersionWeights") {
                fields["additionalVersionWeights"] = .object(weights.fields)
            }
        } else if let existing, !existing.config.additionalVersionWeights.isEmpty {
            fields["additionalVersionWeights"] = .object(Dictionary(uniqueKeysWithValues: existing.config.additionalVersionWeights.map { (String($0.key), ConfigValue.double($0.value)) }))
        }
        do {
            return try await control.putAlias(namespace: t.namespace, function: t.name, name: name, body: .object(fields))
        } catch let error as SwellError where error.code == .invalidField && error.message.contains("no published version") {
            throw AWSError.notFound("Function not found: \(LambdaARN.function(t.namespace, t.name, version))")
        }
    }
}

func percentDecoded(_ s: String) -> String {
    s.contains("%") ? (s.removingPercentEncoding ?? s) : s
}

extension FunctionConfig {
    /// The handler's syntax for its runtime (the manifest's rule), as Lambda's error class.
    func validateHandlerSyntax() throws(AWSError) {
        do {
            _ = try FunctionSpec.parse(
                .object(["runtime": .string(runtime.rawValue), "handler": .string(handler), "codeSha256": .string(codeSha256)]), path: "")
        } catch {
            throw AWSError.invalid(error.description)
        }
    }
}
