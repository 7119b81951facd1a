/// The policy one instance pool (one function version) is scheduled by.
public struct PoolConfiguration: Sendable, Hashable {
    /// Requests in flight per instance.
    public var concurrency: Int
    /// Instances kept running even when idle (provisioned capacity).
    public var minInstances: Int
    /// Most instances the pool may run at once.
    public var maxInstances: Int
    /// How long an idle instance is kept before it is stopped (scale to zero).
    public var keepAlive: Duration
    /// How long a request may wait for a slot before it is rejected with 429.
    public var maxQueueWait: Duration
    /// Most requests that may wait for a slot at once; more are rejected at once.
    public var maxQueueLength: Int

    public init(
        concurrency: Int = 1, minInstances: Int = 0, maxInstances: Int = 100, keepAlive: Duration = .seconds(60),
        maxQueueWait: Duration = .seconds(10), maxQueueLength: Int = 10_000
    ) {
        self.concurrency = max(1, concurrency)
        self.maxInstances = max(1, maxInstances)
        self.minInstances = min(max(0, minInstances), self.maxInstances)
        self.keepAlive = keepAlive
        self.maxQueueWait = maxQueueWait
        self.maxQueueLength = maxQueueLength
    }
}

/// The two classes of work a pool serves. When slots are short, offline work yields:
/// a freed slot goes to a waiting latency-sensitive request first.
public enum WorkClass: Sendable, Hashable {
    /// Someone is waiting for the answer: sync invokes, function URLs.
    case latency
    /// Nobody is waiting on the connection: async tasks, triggers, batch work.
    case offline
}
