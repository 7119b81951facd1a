import NIOCore
import Synchronization

/// Runs a task's jobs on one event loop. A function-URL request's task prefers the loop that
/// read the request, and a trigger's batch prefers one of the group's loops: the route or
/// batch, the pool's grant and the answer run on that thread, and the only hand-offs left are
/// to the instance's Runtime API loop and back (none when that is the same loop) — not through
/// the cooperative pool in between (two threads on a 2-core machine, each hop a wake-up).
///
/// Jobs must not block: the invoke path has no blocking work (SQLite, fsync and file work run
/// on thread pools); anything the task awaits on a default actor runs on the loop too.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// One ``EventLoopTaskExecutor`` per loop of a group, handed out in turn.
public final class EventLoopTaskExecutors: Sendable {
    private let executors: [EventLoopTaskExecutor]
    private let turn = Atomic<Int>(0)

    public init(group: any EventLoopGroup) {
        executors = group.makeIterator().map { EventLoopTaskExecutor($0) }
    }

    /// The executor of the calling thread's loop, or the next one in turn off the loops.
    public func next() -> EventLoopTaskExecutor {
        if let current = executors.first(where: { $0.loop.inEventLoop }) { return current }
        let i = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        return executors[(i & Int.max) % executors.count]
    }
}
