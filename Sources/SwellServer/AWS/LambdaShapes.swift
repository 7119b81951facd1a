import Foundation
import Hummingbird
import NIOCore
import SwellModel

/// The JSON shapes of the Lambda API (`FunctionConfiguration`, `AliasConfiguration`, …),
/// built from Swell's records, and the readers of request bodies.
enum LambdaShapes {
    /// `2026-12-01T17:00:00.000+0000`, as Lambda writes `LastModified`.
    static func lastModified(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        func p(_ v: Int?, _ w: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(c.year, 4))-\(p(c.month, 2))-\(p(c.day, 2))T\(p(c.hour, 2)):\(p(c.minute, 2)):\(p(c.second, 2)).\(p((c.nanosecond ?? 0) / 1_000_000, 3))+0000"
    }

    static func codeSha256(_ hex: String) -> String {
        Data(SigV4.bytes(hex: hex) ?? Data()).base64EncodedString()
    }

    /// A `FunctionConfiguration`.
    static func configuration(
        namespace: String, name: String, config: FunctionConfig, version: String, modified: Date, revision: String, layers: [[String: Any]]
    ) -> [String: Any] {
        var c: [String: Any] = [
            "FunctionName": name,
            "FunctionArn": LambdaARN.function(namespace, name, version == "$LATEST" ? nil : version),
            "Runtime": config.runtime.lambdaName,
            "Role": LambdaARN.role(namespace),
            "Handler": config.handler,
            "CodeSize": config.codeSize,
            "Description": config.description,
            "Timeout": config.timeout,
            "MemorySize": config.memory,
            "LastModified": lastModified(modified),
            "CodeSha256": codeSha256(config.codeSha256),
            "Version": version,
            "Environment": ["Variables": config.environment],
            "TracingConfig": ["Mode": "PassThrough"],
            "RevisionId": revision,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": [architecture],
            "EphemeralStorage": ["Size": 512],
            "LoggingConfig": ["LogFormat": "Text", "LogGroup": "/swell/\(namespace)/\(name)"],
        ]
        if !layers.isEmpty { c["Layers"] = layers }
        return c
    }

    static var architecture: String {
        #if arch(arm64)
        "arm64"
        #else
        "x86_64"
        #endif
    }

    static func alias(namespace: String, function: String, _ alias: AliasRecord) -> [String: Any] {
        var a: [String: Any] = [
            "AliasArn": LambdaARN.function(namespace, function, alias.name),
            "Name": alias.name,
            "FunctionVersion": String(alias.config.version),
            "Description": alias.config.description,
            "RevisionId": revisionID(alias.config.hashValue),
        ]
        if !alias.config.additionalVersionWeights.isEmpty {
            a["RoutingConfig"] = ["AdditionalVersionWeights": Dictionary(uniqueKeysWithValues: alias.config.additionalVersionWeights.map { (String($0.key), $0.value) })]
        }
        return a
    }

    /// A revision id in the UUID form Lambda uses, derived from a number.
    static func revisionID(_ n: Int) -> String {
        let hex = String(UInt64(bitPattern: Int64(n)), radix: 16)
        let padded = String(repeating: "0", count: max(0, 32 - hex.count)) + hex
        let u = Array(padded)
        return "\(String(u[0..<8]))-\(String(u[8..<12]))-\(String(u[12..<16]))-\(String(u[16..<20]))-\(String(u[20..<32]))"
    }

    static func response(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

/// A Lambda request body: a JSON object whose fields are read by their AWS names, with
/// `InvalidParameterValueException`s that name the field.
struct LambdaBody {
    let fields: [String: ConfigValue]

    init(_ request: Request) async throws {
        var request = request
        let buffer = try await request.collectBody(upTo: .max)
        guard buffer.readableBytes > 0 else {
            fields = [:]
            return
        }
        guard case .object(let o)? = try? JSONDecoder().decode(ConfigValue.self, from: Data(buffer.readableBytesView)) else {
            throw AWSError(.invalidRequestContent, 400, "Could not parse request body into json: the body must be a JSON object")
        }
        fields = o
    }

    init(fields: [String: ConfigValue]) { self.fields = fields }

    func has(_ key: String) -> Bool { fields[key] != nil && fields[key] != .null }

    func string(_ key: String) throws(AWSError) -> String? {
        switch fields[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw AWSError.invalid("\(key) must be a string")
        }
    }

    func int(_ key: String, _ range: ClosedRange<Int>) throws(AWSError) -> Int? {
        switch fields[key] {
        case nil, .null?: return nil
        case .int(let i)? where range.contains(i): return i
        case .double(let d)? where d.rounded() == d && range.contains(Int(d)): return Int(d)
        default:
            throw AWSError.invalid("1 validation error detected: Value at '\(key.prefix(1).lowercased() + key.dropFirst())' failed to satisfy constraint: Member must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
    }

    func bool(_ key: String) throws(AWSError) -> Bool? {
        switch fields[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw AWSError.invalid("\(key) must be a boolean")
        }
    }

    func object(_ key: String) throws(AWSError) -> LambdaBody? {
        switch fields[key] {
        case nil, .null?: return nil
        case .object(let o)?: return LambdaBody(fields: o)
        default: throw AWSError.invalid("\(key) must be an object")
        }
    }

    func strings(_ key: String) throws(AWSError) -> [String]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map { item throws(AWSError) in
                guard case .string(let s) = item else { throw AWSError.invalid("\(key) must be a list of strings") }
                return s
            }
        default: throw AWSError.invalid("\(key) must be a list of strings")
        }
    }

    /// Rejects fields Swell cannot honour, saying so (rather than ignoring them silently).
    func rejectUnsupported(_ names: [String], operation: String) throws(AWSError) {
        for name in names where has(name) {
            throw AWSError.invalid("\(operation): Swell does not support \(name) (see docs/aws.md)")
        }
    }
}
