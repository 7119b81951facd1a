/// A state machine of the Amazon States Language, validated: every target exists, every
/// state is reachable, every path parses. Parse one with `StateMachine(parsing:)`; Parallel
/// branches and Map processors are state machines of their own, nested.
///
/// ```swift
/// let machine = try StateMachine(parsing: #"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
/// ```
public struct StateMachine: Sendable {
    public var comment: String?
    public var startAt: String
    /// The states by name.
    public var states: [String: State]
    /// State names in the order the definition lists them.
    public var stateNames: [String]
    /// Execution time limit (top level only).
    public var timeoutSeconds: Int?

    public subscript(name: String) -> State? { states[name] }
}

/// One state of a machine: the fields every type shares and the type's own.
public struct State: Sendable {
    public var name: String
    public var comment: String?
    /// `InputPath`; nil when the definition says `null` (the effective input is then `{}`).
    public var inputPath: JSONPath?
    /// `OutputPath`; nil for `null` (the output is then `{}`).
    public var outputPath: JSONPath?
    /// `ResultPath`; nil for `null` (the result is discarded and the output is the raw input).
    public var resultPath: JSONPath?
    public var parameters: PayloadTemplate?
    public var resultSelector: PayloadTemplate?
    /// Where the state goes when done; nil for Choice, Succeed and Fail.
    public var transition: Transition?
    public var retry: [Retrier]
    public var catchers: [Catcher]
    public var body: Body

    public enum Transition: Sendable, Hashable {
        case next(String)
        case end
    }

    public enum Body: Sendable {
        case pass(result: JSON?)
        case task(TaskSpec)
        case choice(choices: [ChoiceRule], defaultNext: String?)
        case wait(WaitSpec)
        case succeed
        case fail(error: ValueSource?, cause: ValueSource?)
        case parallel(branches: [StateMachine])
        case map(MapSpec)
    }

    /// The state's `Type` as written.
    public var typeName: String {
        switch body {
        case .pass: "Pass"
        case .task: "Task"
        case .choice: "Choice"
        case .wait: "Wait"
        case .succeed: "Succeed"
        case .fail: "Fail"
        case .parallel: "Parallel"
        case .map: "Map"
        }
    }
}

/// A literal value or a Reference Path to it (`Error`/`ErrorPath`, `TimeoutSeconds`/`TimeoutSecondsPath`…).
public enum ValueSource: Sendable, Hashable {
    case literal(JSON)
    case path(JSONPath)
}

public struct TaskSpec: Sendable {
    public var resource: TaskResource
    /// `TimeoutSeconds` or `TimeoutSecondsPath` (default: none for functions' own limit).
    public var timeout: ValueSource?
    /// `HeartbeatSeconds` or `HeartbeatSecondsPath`.
    public var heartbeat: ValueSource?
}

public enum WaitSpec: Sendable, Hashable {
    case seconds(Int)
    case timestamp(Timestamp)
    case secondsPath(JSONPath)
    case timestampPath(JSONPath)
}

public struct MapSpec: Sendable {
    /// `ItemsPath` (default `$`), applied to the effective input.
    public var itemsPath: JSONPath
    /// `ItemSelector`, or the legacy `Parameters` of a Map.
    public var itemSelector: PayloadTemplate?
    /// `ItemProcessor`, or the legacy `Iterator`.
    public var processor: StateMachine
    /// `MaxConcurrency` or `MaxConcurrencyPath`; 0 means no limit.
    public var maxConcurrency: ValueSource?
    public var toleratedFailurePercentage: ValueSource?
    public var toleratedFailureCount: ValueSource?
}

/// A policy of the `Retry` field.
public struct Retrier: Sendable, Hashable {
    public var errorEquals: [String]
    public var intervalSeconds: Int = 1
    public var maxAttempts: Int = 3
    public var backoffRate: Double = 2.0
    public var maxDelaySeconds: Int?
    public var jitter: Jitter = .none

    public enum Jitter: String, Sendable, Hashable { case full = "FULL", none = "NONE" }

    public init(errorEquals: [String], intervalSeconds: Int = 1, maxAttempts: Int = 3, backoffRate: Double = 2.0, maxDelaySeconds: Int? = nil, jitter: Jitter = .none) {
        self.errorEquals = errorEquals
        self.intervalSeconds = intervalSeconds
        self.maxAttempts = maxAttempts
        self.backoffRate = backoffRate
        self.maxDelaySeconds = maxDelaySeconds
        self.jitter = jitter
    }

    /// The delay before retry number `attempt + 1` (`attempt` retries already made):
    /// `IntervalSeconds × BackoffRate^attempt`, capped at `MaxDelaySeconds`; with FULL jitter, a
    /// uniformly random delay between 0 and that.
    public func delay(afterAttempt attempt: Int, random: inout some RandomNumberGenerator) -> Double {
        var delay = Double(intervalSeconds) * pow(backoffRate, Double(attempt))
        if let maxDelaySeconds { delay = min(delay, Double(maxDelaySeconds)) }
        if !delay.isFinite { delay = Double(maxDelaySeconds ?? 31_622_400) }
        if jitter == .full { delay = Double.random(in: 0...delay, using: &random) }
        return delay
    }
}

/// A fallback of the `Catch` field.
public struct Catcher: Sendable, Hashable {
    public var errorEquals: [String]
    public var next: String
    /// `ResultPath` (default `$`); nil for `null`.
    public var resultPath: JSONPath?
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Integral exponents only (the attempt number): repeated squaring, no libm.
    var result = 1.0
    var b = base
    var e = Int(exponent)
    while e > 0 {
        if e & 1 == 1 { result *= b }
        b *= b
        e >>= 1
    }
    return result
}

extension StateMachine {
    /// The functions the definition names statically (Task `Resource`s and constant
    /// `lambda:invoke` `FunctionName`s), in branches and Map processors too, each once, in the
    /// order of the definition: what a deploy can check exists.
    public var functionReferences: [FunctionReference] {
        var seen: Set<FunctionReference> = []
        var out: [FunctionReference] = []
        func visit(_ machine: StateMachine) {
            for name in machine.stateNames {
                guard let state = machine.states[name] else { continue }
                switch state.body {
                case .task(let spec):
                    var ref: FunctionReference?
                    switch spec.resource {
                    case .function(let r): ref = r
                    case .lambdaInvoke:
                        if case .object(let members)? = state.parameters, let member = members.first(where: { $0.name == "FunctionName" }),
                            case .literal(.string(let text)) = member.value
                        {
                            ref = FunctionReference.parse(text)
                        } else if case .literal(let value)? = state.parameters, let text = value["FunctionName"]?.stringValue {
                            ref = FunctionReference.parse(text)
                        }
                    }
                    if let ref, seen.insert(ref).inserted { out.append(ref) }
                case .parallel(let branches): branches.forEach(visit)
                case .map(let spec): visit(spec.processor)
                default: break
                }
            }
        }
        visit(self)
        return out
    }
}
