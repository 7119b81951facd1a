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
}
