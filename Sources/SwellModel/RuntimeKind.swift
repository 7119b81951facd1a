/// The language runtimes a function can use.
public enum RuntimeKind: String, Sendable, Codable, CaseIterable, Hashable {
    /// Node.js 20 with Swell's Lambda-compatible bootstrap.
    case nodejs20
    /// Python 3.11 with Swell's Lambda-compatible bootstrap.
    case python3
    /// Any executable named by the handler (default `bootstrap`) that speaks the Lambda Runtime API.
    case provided

    /// The value of `AWS_EXECUTION_ENV` that instances of this runtime see.
    public var executionEnvironment: String {
        switch self {
        case .nodejs20: "AWS_Lambda_nodejs20.x"
        case .python3: "AWS_Lambda_python3.11"
        case .provided: "AWS_Lambda_provided.al2023"
        }
    }

    /// The runtime a name stands for: Swell's own (`nodejs20`, `python3`, `provided`) or
    /// Lambda's (`nodejs20.x`, `python3.12`, `provided.al2023`, …), which run on the host's
    /// Node.js and Python as Swell's runtimes do.
    public init?(named name: String) {
        if let kind = RuntimeKind(rawValue: name) {
            self = kind
            return
        }
        switch name {
        case "nodejs18.x", "nodejs20.x", "nodejs22.x": self = .nodejs20
        case "python3.9", "python3.10", "python3.11", "python3.12", "python3.13": self = .python3
        case "provided.al2", "provided.al2023": self = .provided
        default: return nil
        }
    }

    /// Every name ``init(named:)`` accepts, for messages.
    public static let acceptedNames = "nodejs20 (or nodejs18.x, nodejs20.x, nodejs22.x), python3 (or python3.9 to python3.13), provided (or provided.al2, provided.al2023)"

    /// The name Lambda's API reports for this runtime.
    public var lambdaName: String {
        switch self {
        case .nodejs20: "nodejs20.x"
        case .python3: "python3.11"
        case .provided: "provided.al2023"
        }
    }
}
