import Crypto
import Foundation

/// Where one execution of a state machine stands: every run that is under way (the top-level
/// one, each Parallel branch and Map iteration), the invocations and timers it waits for, and
/// its random number generator. A value: `Codable` so that it can be journaled, and nothing in
/// it depends on anything but the events applied to it (time comes with each event).
public struct ExecutionState: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case notStarted = "NOT_STARTED"
        case running = "RUNNING"
        case succeeded = "SUCCEEDED"
        case failed = "FAILED"
        case timedOut = "TIMED_OUT"
        case aborted = "ABORTED"
    }

    public internal(set) var status: Status = .notStarted
    public let info: ExecutionInfo
    public internal(set) var input: JSON = .null
    public internal(set) var startTime: Timestamp?
    public internal(set) var output: JSON?
    public internal(set) var error: StatesError?
    /// The number of history events recorded so far (the id of the last one).
    public internal(set) var lastEventID = 0
    /// The number of state transitions so far (states entered).
    public internal(set) var transitions = 0

    var random: SplitMix64
    /// The secret task tokens are made from (derived from the seed by SHA-256, so that random
    /// numbers a workflow sees reveal neither the seed nor other tasks' tokens).
    var tokenKey: String
    var nextID = 1
    var runs: [Int: Run] = [:]
    var tasks: [Int: PendingTask] = [:]
    var tokens: [String: Int] = [:]
    var timers: [Int: TimerPurpose] = [:]

    /// A new execution, not started yet: apply `.started(input:)` to start it.
    /// - Parameter seed: the seed of the execution's random numbers (jitter, MathRandom, UUID, task tokens).
    public init(info: ExecutionInfo, seed: UInt64) {
        self.info = info
        let randomSeed = SHA256.hash(data: Array("random:\(seed)".utf8)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        self.random = SplitMix64(seed: randomSeed)
        self.tokenKey = SHA256.hash(data: Array("task-token:\(seed)".utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The invocations the execution waits for.
    public var pendingTasks: [TaskID] { tasks.keys.sorted().map(TaskID.init) }
    /// The timers the execution waits for.
    public var pendingTimers: [TimerID] { timers.keys.sorted().map(TimerID.init) }
    /// Runs under way (1 for a simple execution; each Parallel branch and Map iteration adds one).
    public var openRuns: Int { runs.count }

    /// The task a callback token belongs to, if it is still waited for.
    public func task(forToken token: String) -> TaskID? { tokens[token].map(TaskID.init) }

    public var isFinished: Bool {
        switch status {
        case .notStarted, .running: false
        default: true
        }
    }
}

/// One path of execution through one state machine: the top-level machine, a Parallel branch or a Map iteration.
struct Run: Sendable, Codable {
    /// How to find this run's machine in the definition, from the top.
    var machine: [MachineStep]
    var parent: ParentLink?
    var stateName: String
    /// The current state's raw input.
    var stateInput: JSON
    var enteredTime: Timestamp
    /// Retries made in the current state (`$$.State.RetryCount`).
    var retryCount = 0
    /// Retries made per retrier of the current state.
    var retrierAttempts: [Int] = []
    var waiting: Waiting = .nothing
    var lastEventID: Int
}

enum MachineStep: Sendable, Hashable, Codable {
    case branch(state: String, index: Int)
    case processor(state: String)
}

struct ParentLink: Sendable, Hashable, Codable {
    var run: Int
    /// The branch index of a Parallel, the item index of a Map.
    var slot: Int
}

enum Waiting: Sendable, Codable {
    case nothing
    case task(Int)
    case timer(Int)
    case children(Children)
}

/// A Parallel or Map state's bookkeeping while its branches or iterations run.
struct Children: Sendable, Codable {
    var isMap: Bool
    var effectiveInput: JSON
    /// Map only: the items still to start run from `nextItem`.
    var items: [JSON]
    var nextItem: Int
    var results: [JSON?]
    var running: Set<Int>
    var done: Int
    var failures: Int
    var maxConcurrency: Int
    /// Map only: nil when the failure tolerance is not configured (the first failure fails the Map).
    var toleratedCount: Int?
    var toleratedPercentage: Double?
}

struct PendingTask: Sendable, Codable {
    var run: Int
    var token: String?
    var timeoutTimer: Int?
    var heartbeatTimer: Int?
    var heartbeatSeconds: Int?
    var lambdaInvoke: Bool
    var resource: String
}

enum TimerPurpose: Sendable, Codable {
    case wait(run: Int)
    case retry(run: Int)
    case taskTimeout(task: Int)
    case heartbeat(task: Int)
    case executionTimeout
}
