import Foundation
import SwellModel

/// The SQL statements a batch of task writes takes, as a pure value: writes of one task that
/// meet in one transaction are folded together. A task that starts and ends between two
/// commits of the journal (the common case on a busy queue) costs one attempt row and one
/// update of its task, instead of an update to `running`, an attempt row, an update of the
/// attempt and an update of the task. The rows come out the same as applying every write.
public enum TaskWriteStep: Sendable, Equatable {
    /// A write applied as it is.
    case write(TaskWrite)
    /// A `started` whose task's state change follows in the batch: only its attempt row
    /// (`attempt`, with the end of the attempt when that follows in the batch too).
    case attempt(TaskAttempt)
    /// A `started` whose attempt's end follows in the batch but not its task's state: the
    /// task is marked running, and the attempt row is written whole.
    case startedAttempt(TaskAttempt, starts: Int)
    /// A `state` change after a `started` of the same task in the batch: the task's `starts`
    /// are written with it.
    case state(TaskWrite, starts: Int)

    /// The steps for `writes`, in order.
    public static func plan(_ writes: [TaskWrite]) -> [TaskWriteStep] {
        struct AttemptKey: Hashable {
            var task: String
            var number: Int
        }
        // Where each attempt ends and where each task's next state change is, looking forward.
        // (Positions in the batch are kept in arrays indexed by position, -1 for none: only
        // the task ids are hashed.)
        var finishedAt: [AttemptKey: Int] = [:]
        var pendingStarts: [String: Int] = [:]  // task → index of its latest `started` not yet matched to a state
        var stateAfterStart = [Int](repeating: -1, count: writes.count)  // index of a `started` → index of the state change that follows it
        for (i, w) in writes.enumerated() {
            switch w {
            case .attemptFinished(let a):
                finishedAt[AttemptKey(task: a.taskID, number: a.number)] = i
            case .started(let a, _):
                pendingStarts[a.taskID] = i
            case .state(let id, _, _, _, _, _, _, _):
                if let s = pendingStarts.removeValue(forKey: id) { stateAfterStart[s] = i }
            case .redrive(let id, _):
                pendingStarts[id] = nil
            case .insert, .purge:
                break
            }
        }
        var steps: [TaskWriteStep] = []
        steps.reserveCapacity(writes.count)
        var folded = [Bool](repeating: false, count: writes.count)
        var startsOfState = [Int](repeating: -1, count: writes.count)
        for (i, w) in writes.enumerated() {
            if folded[i] { continue }
            switch w {
            case .started(var a, let starts):
                var whole = false
                if let f = finishedAt[AttemptKey(task: a.taskID, number: a.number)], f > i, case .attemptFinished(let end) = writes[f] {
                    a.finishedAt = end.finishedAt
                    a.outcome = end.outcome
                    a.errorType = end.errorType
                    a.error = end.error
                    a.durationMs = end.durationMs
                    a.coldStart = end.coldStart
                    folded[f] = true
                    whole = true
                }
                if stateAfterStart[i] >= 0 {
                    startsOfState[stateAfterStart[i]] = starts
                    steps.append(.attempt(a))
                } else if whole {
                    steps.append(.startedAttempt(a, starts: starts))
                } else {
                    steps.append(.write(w))
                }
            case .state:
                if startsOfState[i] >= 0 { steps.append(.state(w, starts: startsOfState[i])) } else { steps.append(.write(w)) }
            default:
                steps.append(.write(w))
            }
        }
        return steps
    }
}

extension TaskWrite: Equatable {
    public static func == (l: TaskWrite, r: TaskWrite) -> Bool {
        switch (l, r) {
        case (.insert(let a), .insert(let b)): a == b
        case (.started(let a, let s), .started(let b, let t)): a == b && s == t
        case (.attemptFinished(let a), .attemptFinished(let b)): a == b
        case (.state(let i, let s, let n, let r, let f, let res, let e, let at), .state(let i2, let s2, let n2, let r2, let f2, let res2, let e2, let at2)):
            i == i2 && s == s2 && n == n2 && r == r2 && f == f2 && res == res2 && e == e2 && at == at2
        case (.redrive(let a, let t), .redrive(let b, let u)): a == b && t == u
        case (.purge(let a), .purge(let b)): a == b
        default: false
        }
    }
}
