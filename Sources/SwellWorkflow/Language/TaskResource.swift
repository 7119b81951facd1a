/// What a Task state's `Resource` names.
///
/// - `swell:function:NAME[:QUALIFIER]`: a Swell function; the task's result is the function's output.
/// - `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`: the same, written as AWS would
///   (region and account are ignored: the function is looked up in the workflow's namespace).
/// - `arn:aws:states:::lambda:invoke`: the optimized Lambda integration; the function and its event
///   come from `Parameters.FunctionName` and `Parameters.Payload`, and the result has the AWS shape
///   `{"ExecutedVersion", "Payload", "StatusCode", …}`.
/// - `arn:aws:states:::lambda:invoke.waitForTaskToken`: the function is invoked (its result is
///   ignored) and the task waits for a callback with the task token.
public enum TaskResource: Sendable, Hashable {
    case function(FunctionReference)
    case lambdaInvoke(waitForTaskToken: Bool)

    public static func parse(_ text: String) -> TaskResource? {
        switch text {
        case "arn:aws:states:::lambda:invoke": return .lambdaInvoke(waitForTaskToken: false)
        case "arn:aws:states:::lambda:invoke.waitForTaskToken": return .lambdaInvoke(waitForTaskToken: true)
        default: break
        }
        if text.hasPrefix("swell:function:") || text.hasPrefix("arn:") {
            return FunctionReference.parse(text).map { .function($0) }
        }
        return nil
    }
}

/// A function a task invokes: its name and an optional version or alias.
public struct FunctionReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var qualifier: String?

    public init(name: String, qualifier: String? = nil) {
        self.name = name
        self.qualifier = qualifier
    }

    public var description: String { qualifier.map { "\(name):\($0)" } ?? name }

    /// Reads `NAME`, `NAME:QUALIFIER`, `swell:function:NAME[:QUALIFIER]`, a Lambda function ARN
    /// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` or the partial
    /// `ACCOUNT:function:NAME[:QUALIFIER]` (the forms `FunctionName` takes in AWS).
    public static func parse(_ text: String) -> FunctionReference? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let rest: ArraySlice<String>
        if parts.count >= 3, parts[0] == "swell", parts[1] == "function" {
            rest = parts[2...]
        } else if parts.count >= 7, parts[0] == "arn", parts[2] == "lambda", parts[5] == "function" {
            rest = parts[6...]
        } else if parts.count >= 3, parts[1] == "function", parts[0].allSatisfy(\.isNumber) {
            rest = parts[2...]
        } else if parts.count <= 2, !text.hasPrefix("arn:") {
            rest = parts[...]
        } else {
            return nil
        }
        guard (1...2).contains(rest.count), let name = rest.first, isName(name) else { return nil }
        let qualifier = rest.count == 2 ? rest.last! : nil
        if let qualifier, qualifier.isEmpty || !isQualifier(qualifier) { return nil }
        return FunctionReference(name: name, qualifier: qualifier)
    }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }

    static func isQualifier(_ s: String) -> Bool {
        s == "$LATEST" || s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }
}
