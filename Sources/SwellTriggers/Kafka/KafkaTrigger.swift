import Foundation
import Logging
import NIOCore
import SwellInvoker
import Tracing
import SwellKafka
import SwellModel

/// A Kafka topic source. The trigger is a member of its consumer group (``KafkaGroupMember``,
/// Kafka's group protocol with the range assignor), so the nodes running it (and any other
/// consumer of the group) split the topics' partitions. One fetch loop reads the partitions
/// assigned to this node (through a client of its own), ``KafkaDispatchState`` decides which
/// records may run, each batch runs in its own task (invoke → retries with backoff → result or
/// dead-letter topic), and every half second the offsets of finished work are committed to the
/// consumer group with the member's generation.
///
/// A rebalance revokes every partition: no more records are handed out, batches in flight get
/// ``revokeGrace`` to finish, what is done is committed, and the rest is abandoned uncommitted
/// (the next owner runs those records again), then the member joins the new generation.
///
/// Concurrency is the trigger's `concurrency`, however many partitions there are. A crash
/// never skips a record: the committed offset of a partition never passes a record that is
/// not done, so at most the records fetched and not yet committed run again after a restart.
public actor KafkaTrigger: TriggerRunner, KafkaGroupHandler {
    let id: TriggerID
    let config: TriggerConfig
    let kafka: KafkaTriggerConfig
    let invoker: Invoker
    /// Starts the executions of a workflow's trigger (`id.kind == .workflow`).
    let workflows: (any WorkflowTriggerHost)?
    let clients: KafkaClients
    let logger: Logger
    let group: String
    let bootstrap: String
    /// Records fetched and not yet done, per partition, at most.
    let window: Int
    /// The qualifier every batch invokes, parsed once (the manifest validated it).
    let qualifier: Result<Qualifier, SwellError>

    private var state: KafkaDispatchState
    private var paused: Bool
    private var counters = TriggerCounters()
    private var error: (String, Date)?
    private var running: [Int: Task<Void, Never>] = [:]
    /// Records completed per second over the last 10 seconds (a ring indexed by the second).
    private var completions = CompletionRate()
    private var knownPartitions: [String: Set<Int32>] = [:]
    private var lastMetadata: Double = 0
    private let signal = WakeSignal()
    private var windowTimer: Task<Void, Never>?
    private var producer: KafkaProducer?
    /// The fetch loop waits for finished work to free room in the window.
    private var waitingForRoom = false
    /// The group membership (set while running) and its last failure.
    private var member: KafkaGroupMember?
    private var groupClient: KafkaClient?
    private var groupError: (String, Date)?
    /// The generation of the current assignment (-1: none yet).
    private var generation: Int32 = -1
    /// The topics' partitions when the trigger first looked (those that appear later are read
    /// from the earliest offset when the group has no commit for them).
    private var initialPartitions: [String: Set<Int32>] = [:]
    /// How long revoked partitions' batches in flight may take to finish before they are abandoned.
    let revokeGrace: Double
    let groupSettings: KafkaGroupMembership.Settings

    public init(id: TriggerID, config: TriggerConfig, kafka: KafkaTriggerConfig, invoker: Invoker, clients: KafkaClients, paused: Bool, logger: Logger,
                workflows: (any WorkflowTriggerHost)? = nil, groupSettings: KafkaGroupMembership.Settings = .init(), revokeGrace: Double = 4) {
        self.groupSettings = groupSettings
        self.revokeGrace = revokeGrace
        self.id = id
        self.config = config
        self.kafka = kafka
        self.invoker = invoker
        self.workflows = workflows
        self.clients = clients
        self.paused = paused
        self.logger = logger
        self.group = kafka.groupID ?? id.defaultGroupID
        self.bootstrap = kafka.brokers.joined(separator: ",")
        self.window = max(500, 2 * kafka.concurrency * kafka.batchSize)
        self.qualifier = Result { () throws(SwellError) in try Qualifier(parsing: config.qualifier) }
        self.state = KafkaDispatchState(ordering: kafka.ordering, batchSize: kafka.batchSize, maxWait: kafka.maxWait)
    }

    // MARK: The fetch loop

    public func run() async {
        let consumer = KafkaClient(configuration: .init(bootstrapServers: kafka.brokers, clientID: "swell-\(group)", maxAttempts: 3), logger: logger)
        producer = await clients.producer(for: kafka.brokers)
        // Joins, heartbeats and commits go through a client of their own: a JoinGroup waits for
        // the whole rebalance, which must hold up neither fetches nor produces.
        let groupClient = KafkaClient(configuration: .init(bootstrapServers: kafka.brokers, clientID: "swell-\(group)", maxAttempts: 3), logger: logger)
        self.groupClient = groupClient
        let member = KafkaGroupMember(client: groupClient, group: group, topics: kafka.topics, settings: groupSettings, logger: logger)
        self.member = member
        let membership = Task { await member.run(handler: self) }
        let committer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                await self?.commit()
            }
        }
        var failures = 0
        while !Task.isCancelled {
            if paused {
                // Nothing is fetched while paused, but the lag shown keeps growing with the topic.
                await commit()
                await refreshHighWatermarks(consumer)
                await sleepUntilWoken(for: .seconds(2))
                continue
            }
            do {
                try await refreshPartitions(consumer)
                let positions = state.fetchPositions(window: window)
                if positions.isEmpty {
                    // Every partition's window is full: wait for work to finish.
                    waitingForRoom = true
                    await sleepUntilWoken(for: .milliseconds(200))
                    waitingForRoom = false
                    continue
                }
                var byTopic: [String: [Int32: Int64]] = [:]
                for (tp, offset) in positions { byTopic[tp.topic, default: [:]][tp.partition] = offset }
                // Topics are fetched side by side, so that a quiet topic's wait does not hold up a busy one.
                // (Tasks awaited in turn rather than a task group: the latter crashed in the
                // Swift 6.3 runtime when completing a child here.)
                let fetches = byTopic.map { topic, partitions in
                    (topic, Task { try await consumer.fetch(topic: topic, partitions: partitions, maxWait: .milliseconds(500)) })
                }
                var results: [(String, Result<[Int32: KafkaFetchedPartition], any Error>)] = []
                for (topic, task) in fetches {
                    do {
                        results.append((topic, .success(try await task.value)))
                    } catch {
                        results.append((topic, .failure(error)))
                    }
                }
                guard !Task.isCancelled, !paused else { continue }
                let now = Date().timeIntervalSince1970
                for (topic, result) in results {
                    let partitions = byTopic[topic]!
                    let fetched: [Int32: KafkaFetchedPartition]
                    switch result {
                    case .success(let f):
                        fetched = f
                    case .failure(KafkaError.broker(.offsetOutOfRange, let context)):
                        logger.warning("offset out of range; resetting to the start position", metadata: ["trigger": "\(id)", "context": "\(context)"])
                        try await resetPartitions(consumer, topic: topic, partitions: Array(partitions.keys))
                        continue
                    case .failure(let error):
                        throw error
                    }
                    var truncated: [Int32] = []
                    for (partition, result) in fetched {
                        let tp = TopicPartition(topic, partition)
                        guard state.position(tp) == partitions[partition] else { continue }
                        // The log is shorter than where we read (the broker lost or truncated it,
                        // e.g. restarted with empty storage): read it again from its start.
                        if result.highWatermark >= 0, partitions[partition]! > result.highWatermark, result.records.isEmpty {
                            truncated.append(partition)
                            continue
                        }
                        counters.events += result.records.count
                        state.add(tp, records: result.records, nextOffset: result.nextOffset, highWatermark: result.highWatermark, now: now)
                    }
                    if !truncated.isEmpty {
                        logger.warning("the partitions' logs end before the trigger's position; reading them from their start",
                                       metadata: ["trigger": "\(id)", "topic": "\(topic)", "partitions": "\(truncated.sorted())"])
                        let starts = try await consumer.listOffsets(topic: topic, partitions: truncated, at: .earliest)
                        // Unless a rebalance took the partition meanwhile.
                        for (p, offset) in starts where state.isReading(TopicPartition(topic, p)) {
                            state.assign(TopicPartition(topic, p), position: offset, committed: nil)
                        }
                    }
                }
                dispatch()
                failures = 0
                if error != nil { error = nil }
            } catch is CancellationError {
                break
            } catch {
                failures += 1
                self.error = (describe(error), Date())
                lastMetadata = 0
                logger.warning("kafka trigger cannot fetch", metadata: ["trigger": "\(id)", "error": "\(describe(error))"])
                await sleepUntilWoken(for: .milliseconds(Int64(min(30_000, 250 << min(failures, 7)))))
            }
        }
        // Shutting down: let running batches finish for a while, then commit what is done.
        windowTimer?.cancel()
        let deadline = Date().addingTimeInterval(10)
        while !running.isEmpty && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for t in running.values { t.cancel() }
        committer.cancel()
        await commit()
        // Leaving the group (after revoking and committing) lets the others take the partitions at once.
        membership.cancel()
        await membership.value
        await consumer.close()
        await groupClient.close()
    }

    /// Looks up the topics' partitions (every 5 s, and after an error), so that a missing
    /// topic or an unreachable cluster shows as the trigger's error. When a topic gained
    /// partitions, the group leader asks for a rebalance: only a new assignment hands them out.
    private func refreshPartitions(_ consumer: KafkaClient) async throws {
        let now = Date().timeIntervalSince1970
        guard now - lastMetadata >= 5 else { return }
        let metadata = try await consumer.metadata(topics: kafka.topics)
        var grew: [String] = []
        for topic in kafka.topics {
            guard let meta = metadata[topic] else { throw KafkaError.broker(.unknownTopicOrPartition, context: "Metadata \(topic)") }
            let current = Set(meta.partitions.map(\.partition))
            if initialPartitions[topic] == nil { initialPartitions[topic] = current }
            if let known = knownPartitions[topic], !current.subtracting(known).isEmpty { grew.append(topic) }
            knownPartitions[topic, default: []].formUnion(current)
        }
        lastMetadata = now
        if !grew.isEmpty, let member, await member.identity.leader {
            logger.notice("kafka trigger: topics gained partitions; rebalancing the group", metadata: ["trigger": "\(id)", "topics": "\(grew)"])
            await member.requestRejoin()
        }
    }

    // MARK: Group membership (KafkaGroupHandler)

    /// Starts reading the assigned partitions at the group's committed offsets, else at the
    /// start position (the earliest offset for partitions that appeared after the trigger started).
    public func assign(_ partitions: KafkaPartitionSet, generation: Int32) async {
        self.generation = generation
        guard let groupClient else { return }
        for (topic, list) in partitions.sorted(by: { $0.key < $1.key }) where !list.isEmpty {
            do {
                let committed = try await groupClient.fetchCommittedOffsets(group: group, topic: topic, partitions: list)
                let missing = list.filter { committed[$0] == nil }
                var starts: [Int32: Int64] = [:]
                if !missing.isEmpty {
                    let initial = initialPartitions[topic]
                    let early = missing.filter { p in kafka.startFromEarliest || (initial.map { !$0.contains(p) } ?? false) }
                    let late = missing.filter { !early.contains($0) }
                    if !early.isEmpty { starts.merge(try await groupClient.listOffsets(topic: topic, partitions: early, at: .earliest)) { $1 } }
                    if !late.isEmpty { starts.merge(try await groupClient.listOffsets(topic: topic, partitions: late, at: .latest)) { $1 } }
                }
                for p in list {
                    let tp = TopicPartition(topic, p)
                    if let c = committed[p] {
                        state.assign(tp, position: c, committed: c)
                    } else if let s = starts[p] {
                        state.assign(tp, position: s, committed: nil)
                    }
                }
            } catch {
                // Without a start offset the partition cannot be read: rejoin, and try again then.
                noteError("starting assigned partitions of \(topic) failed: \(describe(error))")
                await member?.requestRejoin()
                return
            }
        }
        wakeUp()
    }

    /// Stops handing out the revoked partitions' records, lets their batches in flight finish
    /// for up to ``revokeGrace`` seconds, commits what is done, and abandons the rest: the
    /// commit stays below every record not done, so the next owner runs those again.
    public func revoke(_ partitions: KafkaPartitionSet) async {
        let sources = partitions.flatMap { topic, list in list.map { TopicPartition(topic, $0) } }
        for tp in sources { state.revoke(tp) }
        // At shutdown (the membership task is cancelled) running batches already had their time.
        let deadline = Date().addingTimeInterval(Task.isCancelled ? 0 : revokeGrace)
        while Date() < deadline, sources.contains(where: { !state.inFlight(of: $0).isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await commit()
        var abandoned = 0
        for tp in sources {
            for batchID in state.unassign(tp) {
                running.removeValue(forKey: batchID)?.cancel()
                abandoned += 1
            }
        }
        if abandoned > 0 {
            logger.notice("kafka trigger: batches of revoked partitions abandoned uncommitted", metadata: ["trigger": "\(id)", "batches": "\(abandoned)"])
        }
        generation = -1
        dispatch()
    }

    public func groupFailure(_ message: String?) async {
        if let message {
            groupError = (message, Date())
            logger.warning("kafka trigger", metadata: ["trigger": "\(id)", "error": "\(message)"])
        } else {
            groupError = nil
        }
    }

    /// Learns the partitions' high watermarks with a fetch whose records are dropped (a
    /// Fetch reports the watermark exactly; ListOffsets(latest) can fall short on some brokers).
    private func refreshHighWatermarks(_ consumer: KafkaClient) async {
        var byTopic: [String: [Int32: Int64]] = [:]
        for tp in state.assigned { if let p = state.position(tp) { byTopic[tp.topic, default: [:]][tp.partition] = p } }
        for (topic, positions) in byTopic {
            guard let fetched = try? await consumer.fetch(topic: topic, partitions: positions, maxWait: .milliseconds(10), partitionMaxBytes: 1)
            else { continue }
            for (p, result) in fetched { state.observe(TopicPartition(topic, p), highWatermark: result.highWatermark) }
        }
    }

    private func resetPartitions(_ consumer: KafkaClient, topic: String, partitions: [Int32]) async throws {
        let starts = try await consumer.listOffsets(topic: topic, partitions: partitions, at: kafka.startFromEarliest ? .earliest : .latest)
        for (p, offset) in starts where state.isReading(TopicPartition(topic, p)) {
            state.assign(TopicPartition(topic, p), position: offset, committed: nil)
        }
    }

    // MARK: Dispatch

    /// Starts batches while there are free slots and records allowed to run.
    private func dispatch() {
        guard !paused else { return }
        let now = Date().timeIntervalSince1970
        while running.count < kafka.concurrency, let batch = state.nextBatch(now: now) {
            counters.invocations += 1
            // On one of the Runtime API loops: the invocation and its answer need no hop
            // through the cooperative pool (none at all when the instance's `next` waits there).
            running[batch.id] = Task(executorPreference: invoker.runtime.taskExecutors.next()) { [weak self] in
                await self?.processTraced(batch)
            }
        }
        if running.count < kafka.concurrency, let due = state.wakeAt() {
            windowTimer?.cancel()
            windowTimer = Task { [weak self] in
                guard (try? await Task.sleep(for: .milliseconds(Int64(max(1, (due - now) * 1000))))) != nil else { return }
                await self?.dispatch()
            }
        }
    }

    /// Runs one batch, in a consumer span of its own when tracing is on (its invocations are children).
    /// Off the actor: the event is encoded and the function invoked on the cooperative pool, and
    /// the actor is entered once the batch has an outcome (and on failures and result produces).
    private nonisolated func processTraced(_ batch: KafkaBatch) async {
        guard invoker.tracing else { return await process(batch) }
        await withSpan("kafka \(batch.source.topic) process", context: .topLevel, ofKind: .consumer) { span in
            span.attributes["messaging.system"] = "kafka"
            span.attributes["messaging.operation.type"] = "process"
            span.attributes["messaging.destination.name"] = batch.source.topic
            span.attributes["messaging.destination.partition.id"] = String(batch.source.partition)
            span.attributes["messaging.batch.message_count"] = batch.records.count
            span.attributes["swell.trigger"] = id.description
            await process(batch)
        }
    }

    /// Runs one batch to its end: success (and its results produced), or dead-lettered.
    /// Without a dead-letter topic, a failing batch is retried until it succeeds.
    private nonisolated func process(_ batch: KafkaBatch) async {
        let event = KafkaEvent.encode(batch, bootstrapServers: bootstrap)
        if id.kind == .workflow { return await startExecution(batch, event: event) }
        var attempts = 0
        var retries = 0
        while !Task.isCancelled {
            var failure: (type: String, message: String)?
            do {
                let response = try await invoker.invoke(
                    namespace: id.namespace, name: id.function, qualifier: try qualifier.get(),
                    payload: event, workClass: .offline)
                attempts += 1
                switch response.result {
                case .success(let bytes):
                    if let topic = kafka.resultTopic {
                        guard await produceResults(bytes, of: batch, to: topic) else { return }
                    }
                    await succeeded(batch)
                    return
                case .failure(let kind, let e):
                    failure = (e.errorType.isEmpty ? kind.rawValue : e.errorType, e.errorMessage)
                }
            } catch {
                // Abandoned (its partition was revoked) or shutting down.
                if Task.isCancelled { return }
                // A throttle or an unknown function/qualifier is not the records' fault: retry, no attempt counted.
                failure = nil
                await noteError("\(id.function):\(config.qualifier) could not be invoked: \(error.message)")
                retries += 1
                try? await Task.sleep(for: backoff(retries))
                continue
            }
            await countFailedAttempt()
            retries += 1
            if let topic = kafka.deadLetterTopic, attempts >= kafka.maxAttempts, let failure {
                guard await deadLetter(batch, failure: failure, to: topic) else { return }
                await finished(batch)
                return
            }
            try? await Task.sleep(for: backoff(retries))
        }
    }

    /// A workflow's trigger: the batch (its Kafka event) is one execution's input, as
    /// EventBridge Pipes hands a Kafka batch to Step Functions. The batch is done (its offsets
    /// may be committed) once the start is journaled; a start that fails is retried with
    /// backoff (no attempt counted: starting is not the records' fault). The execution's name
    /// derives from the batch's partition and offsets, so a batch that runs again after a crash
    /// before the commit finds its execution instead of starting another.
    private nonisolated func startExecution(_ batch: KafkaBatch, event: ByteBuffer) async {
        guard let workflows else {
            await noteError("no workflow engine to start \(id.function) with")
            return
        }
        let name = TriggerDelivery.executionName(Self.executionKey(trigger: id.name, batch))
        let input = Data(event.readableBytesView)
        var retries = 0
        while !Task.isCancelled {
            do {
                _ = try await workflows.startExecution(
                    namespace: id.namespace, workflow: id.function, qualifier: config.qualifier, name: name, input: input)
                await succeeded(batch)
                return
            } catch {
                if Task.isCancelled { return }
                await noteError("workflow \(id.function):\(config.qualifier) could not be started: \(error.message)")
                retries += 1
                try? await Task.sleep(for: backoff(retries))
            }
        }
    }

    /// The idempotency identity of a batch: trigger, partition and the offsets it spans.
    static func executionKey(trigger: String, _ batch: KafkaBatch) -> String {
        let first = batch.records.first?.offset ?? -1
        let last = batch.records.last?.offset ?? -1
        return "kafka:\(trigger):\(batch.source.topic)-\(batch.source.partition)@\(first)-\(last)"
    }

    private func countFailedAttempt() {
        counters.failedAttempts += 1
    }

    private func succeeded(_ batch: KafkaBatch) {
        counters.succeeded += 1
        completions.add(batch.records.count, at: Date().timeIntervalSince1970)
        finished(batch)
    }

    private func finished(_ batch: KafkaBatch) {
        state.finish(batch.id)
        running.removeValue(forKey: batch.id)
        dispatch()
        // The fetch loop waits for room; most finished batches free none (a record only leaves
        // the window when every record before it is done), so it is woken only when there is.
        if waitingForRoom, state.hasRoom(window: window) { wakeUp() }
    }

    private nonisolated func backoff(_ retry: Int) -> Duration {
        let base = min(kafka.maxRetryDelay, kafka.retryDelay * pow(2, Double(min(retry - 1, 30))))
        let jittered = base * Double.random(in: 0.5...1.0)
        return .milliseconds(Int64(max(10, jittered * 1000)))
    }

    /// Produces the function's return value with the source key. With several records in the
    /// batch, a JSON array of exactly one element per record is split, element by record;
    /// any other value is produced once, keyed like the batch's first record.
    /// - Returns: false when cancelled before the broker acknowledged.
    private func produceResults(_ bytes: ByteBuffer, of batch: KafkaBatch, to topic: String) async -> Bool {
        var records: [KafkaProducerRecord] = []
        let whole = Array(bytes.readableBytesView)
        if batch.records.count > 1, let elements = Self.arrayElements(whole), elements.count == batch.records.count {
            // Each element's JSON text as the function wrote it: split, not decoded and encoded again.
            for (r, element) in zip(batch.records, elements) {
                records.append(KafkaProducerRecord(key: r.key, value: Array(whole[element]), headers: sourceHeaders(batch.source, r)))
            }
        } else {
            records.append(KafkaProducerRecord(key: batch.records[0].key, value: whole, headers: sourceHeaders(batch.source, batch.records[0])))
        }
        guard await produceUntilAcknowledged(topic: topic, records) else { return false }
        counters.results += records.count
        return true
    }

    /// The byte ranges of the elements when `bytes` are exactly one JSON array.
    static func arrayElements(_ bytes: [UInt8]) -> [Range<Int>]? {
        var scanner = JSONScanner(bytes)
        guard scanner.peek() == UInt8(ascii: "[") else { return nil }
        var ranges: [Range<Int>] = []
        do {
            try scanner.array { _, s throws(SwellError) in ranges.append(try s.value()) }
        } catch {
            return nil
        }
        scanner.skipSpace()
        return scanner.atEnd ? ranges : nil
    }

    private func deadLetter(_ batch: KafkaBatch, failure: (type: String, message: String), to topic: String) async -> Bool {
        let records = batch.records.map { r in
            KafkaProducerRecord(key: r.key, value: r.value, headers: r.headers + sourceHeaders(batch.source, r) + [
                KafkaHeader(key: "swell-error-type", value: Array(failure.type.utf8)),
                KafkaHeader(key: "swell-error-message", value: Array(failure.message.prefix(4096).utf8)),
                KafkaHeader(key: "swell-attempts", value: Array(String(kafka.maxAttempts).utf8)),
            ])
        }
        guard await produceUntilAcknowledged(topic: topic, records) else { return false }
        counters.deadLettered += records.count
        logger.warning("records sent to the dead-letter topic", metadata: [
            "trigger": "\(id)", "source": "\(batch.source)", "offsets": "\(batch.records.first!.offset)...\(batch.records.last!.offset)", "error": "\(failure.type): \(failure.message)",
        ])
        return true
    }

    private func sourceHeaders(_ source: TopicPartition, _ r: KafkaRecord) -> [KafkaHeader] {
        [
            KafkaHeader(key: "swell-source-topic", value: Array(source.topic.utf8)),
            KafkaHeader(key: "swell-source-partition", value: Array(String(source.partition).utf8)),
            KafkaHeader(key: "swell-source-offset", value: Array(String(r.offset).utf8)),
        ]
    }

    /// Sends records, retrying with backoff while the broker is unreachable.
    private func produceUntilAcknowledged(topic: String, _ records: [KafkaProducerRecord]) async -> Bool {
        guard let producer else { return false }
        var retry = 0
        while !Task.isCancelled {
            do {
                try await producer.send(topic: topic, records)
                return true
            } catch {
                retry += 1
                noteError("producing to \(topic) failed: \(describe(error))")
                try? await Task.sleep(for: .milliseconds(Int64(min(10_000, 100 << min(retry, 7)))))
            }
        }
        return false
    }

    // MARK: Commits

    /// Commits every partition's offset up to its lowest record not yet done.
    private func commit() async {
        let points = state.commitPoints()
        guard !points.isEmpty, let member else { return }
        var offsets: [String: [Int32: Int64]] = [:]
        for (tp, o) in points { offsets[tp.topic, default: [:]][tp.partition] = o }
        do {
            // Not committed when the generation is no longer current (a rebalance began): the
            // member rejoins, and the revoke commits again with the generation still valid.
            if try await member.commit(offsets) { state.committed(points) }
        } catch {
            noteError("committing offsets of group \(group) failed: \(describe(error))")
        }
    }

    // MARK: Status and control

    private func noteError(_ message: String) {
        error = (message, Date())
        logger.warning("kafka trigger", metadata: ["trigger": "\(id)", "error": "\(message)"])
    }

    private func describe(_ error: any Error) -> String {
        if let k = error as? KafkaError {
            switch k {
            case .broker(.unknownTopicOrPartition, let context):
                return "topic not found on \(bootstrap) (\(context))"
            default:
                let text = "\(k)"
                return text.contains(kafka.brokers[0]) ? text : "\(text) (brokers \(bootstrap))"
            }
        }
        return "\(error) (brokers \(bootstrap))"
    }

    private func sleepUntilWoken(for duration: Duration) async {
        await signal.wait(for: duration)
    }

    private func wakeUp() {
        signal.wake()
    }

    public func setPaused(_ paused: Bool) {
        self.paused = paused
        if !paused { dispatch() }
        wakeUp()
    }

    public func status() -> TriggerStatus {
        let now = Date().timeIntervalSince1970
        let failure = error ?? groupError
        let state: TriggerStatus.State = paused ? .paused : (failure == nil ? .running : .failing)
        var s = TriggerStatus(id: id, config: config, state: state, counters: counters)
        s.error = failure?.0
        s.errorAt = failure?.1
        var partitions: [KafkaTriggerStatus.Partition] = []
        var totalLag: Int64 = 0
        for p in self.state.partitionStatus() {
            let base = p.committed ?? p.position
            let lag: Int64? = p.highWatermark >= 0 ? max(0, p.highWatermark - base) : nil
            totalLag += lag ?? 0
            partitions.append(.init(topic: p.source.topic, partition: p.source.partition, position: p.position, committed: p.committed,
                                    highWatermark: p.highWatermark, lag: lag, outstanding: p.outstanding))
        }
        let rate = completions.perSecond(at: now)
        s.kafka = KafkaTriggerStatus(groupId: group, partitions: partitions, lag: totalLag, inFlight: running.count, recordsPerSecond: rate)
        return s
    }
}

/// Completions counted per second in a ring of ten one-second slots.
struct CompletionRate {
    private var slots = [Int](repeating: 0, count: 10)
    private var seconds = [Int](repeating: -1, count: 10)

    mutating func add(_ count: Int, at now: Double) {
        let second = Int(now)
        let i = second % 10
        if seconds[i] != second {
            seconds[i] = second
            slots[i] = 0
        }
        slots[i] += count
    }

    /// The mean over the ten seconds before `now`.
    func perSecond(at now: Double) -> Double {
        let second = Int(now)
        var total = 0
        for i in 0..<10 where seconds[i] > second - 10 { total += slots[i] }
        return Double(total) / 10
    }
}
