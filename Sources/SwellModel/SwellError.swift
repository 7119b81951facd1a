/// An error of the Swell platform: a stable machine-readable code, an HTTP status,
/// a message for people and, when a field of the input is at fault, its path.
///
/// ```swift
/// throw SwellError(.invalidField, "must be between 128 and 10240 (got 5)", field: "functions.hello.memory")
/// ```
public struct SwellError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of error, each with its wire code and HTTP status.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        case invalidField = "invalid_field"
        case invalidJSON = "invalid_json"
        case invalidRequest = "invalid_request"
        case unauthorized
        case forbidden
        case notFound = "not_found"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case throttled
        case `internal`

        /// The HTTP status that carries this code.
        public var httpStatus: Int {
            switch self {
            case .invalidField, .invalidJSON, .invalidRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .conflict: 409
            case .payloadTooLarge: 413
            case .throttled: 429
            case .internal: 500
            }
        }
    }

    public var code: Code
    public var message: String
    /// Dotted path of the offending input field, e.g. `functions.hello.memory`.
    public var field: String?
    /// Seconds a client should wait before retrying (sent as `Retry-After`).
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    /// `field: message` when a field is named, else the message.
    public var description: String {
        if let field { return "\(field): \(message)" }
        return message
    }

    public static func invalid(_ field: String, _ message: String) -> SwellError {
        SwellError(.invalidField, message, field: field)
    }

    public static func notFound(_ message: String) -> SwellError {
        SwellError(.notFound, message)
    }
}
