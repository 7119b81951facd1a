import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellTasks

extension HTTPField.Name {
    static let swellRequestID = HTTPField.Name("X-Swell-Request-Id")!
    static let swellExecutedVersion = HTTPField.Name("X-Swell-Executed-Version")!
    static let swellDuration = HTTPField.Name("X-Swell-Duration-Ms")!
    static let swellBilledDuration = HTTPField.Name("X-Swell-Billed-Duration-Ms")!
    static let swellInitDuration = HTTPField.Name("X-Swell-Init-Duration-Ms")!
    static let swellColdStart = HTTPField.Name("X-Swell-Cold-Start")!
    static let swellFunctionError = HTTPField.Name("X-Swell-Function-Error")!
    static let swellLogType = HTTPField.Name("X-Swell-Log-Type")!
    static let swellLogResult = HTTPField.Name("X-Swell-Log-Result")!
}

/// `POST /v1/namespaces/{ns}/functions/{name}/invoke`: the synchronous invoke API.
struct InvokeRoutes {
    let invoker: Invoker
    let tasks: TaskService

    func register(on group: RouterGroup<SwellRequestContext>) {
        group.post("namespaces/:ns/functions/:name/invoke") { request, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .invoker)
            let (name, qualifier) = try AsyncInvoke.target(request, name: ctx.parameters.get("name") ?? "", namespace: ns)
            var request = request
            if try AsyncInvoke.isAsync(request) {
                return try await AsyncInvoke.enqueue(&request, namespace: ns, name: name, qualifier: qualifier, tasks: tasks)
            }
            var payload = try await JSONBody.collect(&request, limit: Limits.maxPayloadBytes)
            if payload.readableBytes == 0 {
                payload = ByteBuffer(string: "{}")
            } else if !JSONScanner.isValid(Array(payload.readableBytesView)) {
                throw SwellError(.invalidJSON, "the invocation payload must be valid JSON")
            }
            let tail = request.headers[.swellLogType]?.lowercased() == "tail"
            let response = try await invoker.invoke(
                namespace: ns, name: name, qualifier: qualifier, payload: payload, captureLogs: tail,
                traceID: request.headers[.amznTraceID])
            var headers = Self.headers(for: response)
            headers[.contentType] = "application/json"
            let body: ByteBuffer
            switch response.result {
            case .success(let result):
                body = result
            case .failure(let kind, let error):
                headers[.swellFunctionError] = kind.rawValue
                body = ByteBuffer(data: (try? JSONBody.encoder.encode(error)) ?? Data())
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }

    /// Milliseconds with three decimals (`2.516`), without Foundation's formatter on the hot path.
    static func milliseconds(_ ms: Double) -> String {
        let micros = Int((ms * 1000).rounded())
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// The `X-Swell-*` headers of an invocation (invoke API and function URLs alike).
    static func headers(for r: Invoker.Response) -> HTTPFields {
        var headers = HTTPFields()
        headers.reserveCapacity(10)
        headers[.swellRequestID] = r.requestID
        headers[.swellExecutedVersion] = r.executedVersion
        headers[.swellDuration] = milliseconds(r.durationMs)
        headers[.swellBilledDuration] = String(r.billedMs)
        headers[.swellInitDuration] = milliseconds(r.initMs)
        headers[.swellColdStart] = r.coldStart ? "true" : "false"
        if let lines = r.logLines {
            var text = lines.joined(separator: "\n")
            if !text.isEmpty { text += "\n" }
            var bytes = Array(text.utf8)
            if bytes.count > Limits.logTailBytes { bytes = Array(bytes.suffix(Limits.logTailBytes)) }
            headers[.swellLogResult] = Data(bytes).base64EncodedString()
        }
        return headers
    }
}
