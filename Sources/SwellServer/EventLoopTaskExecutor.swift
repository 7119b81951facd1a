import NIOCore

/// Runs a task's jobs on one event loop. A function-URL request's task prefers the loop that
/// read the request: the route, the pool's grant and the answer run on that thread, and the
/// only hand-offs left are to the instance's Runtime API loop and back — not through the
/// cooperative pool in between (two threads on a 2-core machine, each hop a wake-up).
///
/// Jobs must not block: the request path has no blocking work (SQLite, fsync and file work run
/// on thread pools); anything the task awaits on an actor runs on the loop too.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
