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
    /// Every problem found when one input had several (each naming its field); empty otherwise.
    /// `message` then says how many there are and `description` lists them all.
    public var problems: [SwellError]

    public init(_ code: Code, _ message: String, field: String? = nil, retryAfter: Int? = nil, problems: [SwellError] = []) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
        self.problems = problems
    }

    /// `field: message` when a field is named, else the message; every problem on a line
    /// of its own when there are several.
    public var description: String {
        if !problems.isEmpty {
            return ([message + ":"] + problems.map { "  " + $0.description }).joined(separator: "\n")
        }
        if let field { return "\(field): \(message)" }
        return message
    }

    /// One error standing for all of `errors`: the error itself when there is one, else
    /// an error listing them (with their code when they share one).
    /// - Parameter summary: the first line (default: `N problems`).
    public static func combined(_ errors: [SwellError], summary: String? = nil) -> SwellError {
        let flat = errors.flatMap { $0.problems.isEmpty ? [$0] : $0.problems }
        if flat.count == 1 { return flat[0] }
        let codes = Set(flat.map(\.code))
        return SwellError(codes.count == 1 ? flat[0].code : .invalidField, summary ?? "\(flat.count) problems", problems: flat)
    }

    public static func invalid(_ field: String, _ message: String) -> SwellError {
        SwellError(.invalidField, message, field: field)
    }

    public static func notFound(_ message: String) -> SwellError {
        SwellError(.notFound, message)
    }
}

/// Collects the errors of independent checks, so that one answer names every mistake
/// instead of the first (a manifest with four mistakes is fixed in one round).
///
/// ```swift
/// var problems = Problems()
/// let memory = problems.check { () throws(SwellError) in try r.int("memory", range: 128...10240) } ?? 128
/// try problems.throwIfAny()
/// ```
public struct Problems: Sendable {
    public private(set) var errors: [SwellError] = []

    public init() {}

    public var isEmpty: Bool { errors.isEmpty }

    /// Runs `body`: its result, or nil with its error kept.
    public mutating func check<T>(_ body: () throws(SwellError) -> T) -> T? {
        do {
            return try body()
        } catch {
            add(error)
            return nil
        }
    }

    public mutating func add(_ error: SwellError) {
        errors += error.problems.isEmpty ? [error] : error.problems
    }

    /// Throws every collected error as one (``SwellError/combined(_:)``).
    public func throwIfAny() throws(SwellError) {
        if !errors.isEmpty { throw SwellError.combined(errors) }
    }
}
