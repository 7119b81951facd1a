/// A snapshot of the async queue for `GET /v1/metrics`: per function, the tasks waiting and
/// running and what became of the accepted ones; for the node, the journal's group commits.
public struct TaskMetrics: Sendable {
    /// One function's queue (all its qualifiers together).
    public struct Function: Sendable, Hashable {
        public var namespace: String
        public var function: String
        /// Waiting to start: ready, delayed, or waiting for a retry.
        public var queued: Int
        /// Attempts in flight.
        public var running: Int
        /// Counters since the server started (recovered tasks count as queued, not as accepted).
        public var accepted: Int
        public var succeeded: Int
        public var failed: Int
        public var expired: Int
        public var stopped: Int
        /// Attempts that were followed by another (function errors, timeouts, throttles).
        public var retries: Int
    }

    public var functions: [Function]
    public var journal: TaskJournal.Stats
    /// Idempotency keys remembered now (within their window).
    public var idempotencyKeys: Int

    /// The Prometheus text exposition (version 0.0.4) of the snapshot.
    public var prometheusText: String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func perFunction(_ name: String, _ type: String, _ help: String, _ value: (Function) -> Int) {
            family(name, type, help)
            for f in functions { out += "\(name){namespace=\"\(f.namespace)\",function=\"\(f.function)\"} \(value(f))\n" }
        }
        perFunction("swell_tasks_queued", "gauge", "Async tasks waiting to start (ready, delayed or waiting for a retry).") { $0.queued }
        perFunction("swell_tasks_running", "gauge", "Async task attempts in flight.") { $0.running }
        perFunction("swell_tasks_accepted_total", "counter", "Async tasks accepted (committed to the journal; duplicates not counted).") { $0.accepted }
        perFunction("swell_tasks_succeeded_total", "counter", "Async tasks that succeeded.") { $0.succeeded }
        perFunction("swell_tasks_failed_total", "counter", "Async tasks that failed for good (attempts used up).") { $0.failed }
        perFunction("swell_tasks_expired_total", "counter", "Async tasks given up at their maximum event age.") { $0.expired }
        perFunction("swell_tasks_stopped_total", "counter", "Async tasks stopped through the API.") { $0.stopped }
        perFunction("swell_task_retries_total", "counter", "Async task attempts followed by another attempt.") { $0.retries }

        family("swell_task_journal_commits_total", "counter", "Transactions of the task journal (one fsync each).")
        out += "swell_task_journal_commits_total \(journal.commits)\n"
        family("swell_task_journal_writes_total", "counter", "Task writes (inserts, starts, finishes, state changes) in those transactions.")
        out += "swell_task_journal_writes_total \(journal.writes)\n"
        family("swell_task_journal_commit_seconds_total", "counter", "Time spent in task journal transactions, fsync included.")
        out += "swell_task_journal_commit_seconds_total \(journal.commitSeconds)\n"
        family("swell_task_journal_commit_tasks", "histogram", "Tasks accepted per journal transaction (transactions that accepted any).")
        var cumulative = 0
        for (bound, count) in zip(TaskJournal.Stats.taskBucketBounds, journal.taskBuckets) {
            cumulative += count
            out += "swell_task_journal_commit_tasks_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "swell_task_journal_commit_tasks_bucket{le=\"+Inf\"} \(journal.taskCommits)\n"
        out += "swell_task_journal_commit_tasks_sum \(journal.tasks)\n"
        out += "swell_task_journal_commit_tasks_count \(journal.taskCommits)\n"
        family("swell_task_idempotency_keys", "gauge", "Idempotency keys remembered (used within the last 24 hours).")
        out += "swell_task_idempotency_keys \(idempotencyKeys)\n"
        return out
    }
}
