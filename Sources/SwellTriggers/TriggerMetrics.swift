extension TriggerManager {
    /// The Prometheus text exposition of every trigger's counters, state and Kafka lag.
    public func prometheusText() async -> String {
        var statuses: [TriggerStatus] = []
        for namespace in Set(runningIDs.map(\.namespace)).sorted() { statuses += await list(namespace: namespace) }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func labels(_ s: TriggerStatus, _ extra: String = "") -> String {
            "{namespace=\"\(s.namespace)\",\(s.workflow.map { "workflow=\"\($0)\"" } ?? "function=\"\(s.function ?? "")\""),trigger=\"\(s.name)\",type=\"\(s.type)\"\(extra)}"
        }
        let counters: [(String, String, KeyPath<TriggerCounters, Int>)] = [
            ("swell_trigger_events_total", "Events received (Kafka records fetched, timer fires, matching notification records).", \.events),
            ("swell_trigger_invocations_total", "Invocations started (Kafka) or tasks enqueued (timer, object store).", \.invocations),
            ("swell_trigger_batches_succeeded_total", "Kafka batches that succeeded.", \.succeeded),
            ("swell_trigger_failed_attempts_total", "Kafka invocation attempts that failed.", \.failedAttempts),
            ("swell_trigger_dead_lettered_total", "Kafka records produced to the dead-letter topic.", \.deadLettered),
            ("swell_trigger_results_total", "Kafka results produced to the result topic.", \.results),
        ]
        for (name, help, path) in counters {
            family(name, "counter", help)
            for s in statuses { out += "\(name)\(labels(s)) \(s.counters[keyPath: path])\n" }
        }
        family("swell_trigger_up", "gauge", "1 while the trigger delivers (running), 0 when paused or failing.")
        for s in statuses { out += "swell_trigger_up\(labels(s, ",state=\"\(s.state.rawValue)\"")) \(s.state == .running ? 1 : 0)\n" }
        family("swell_trigger_kafka_lag", "gauge", "Records between the committed offset and the high watermark, per partition.")
        for s in statuses {
            for p in s.kafka?.partitions ?? [] {
                out += "swell_trigger_kafka_lag\(labels(s, ",topic=\"\(p.topic)\",partition=\"\(p.partition)\"")) \(p.lag ?? 0)\n"
            }
        }
        family("swell_trigger_kafka_in_flight", "gauge", "Kafka batches being processed now.")
        for s in statuses { if let k = s.kafka { out += "swell_trigger_kafka_in_flight\(labels(s)) \(k.inFlight)\n" } }
        family("swell_trigger_kafka_records_per_second", "gauge", "Kafka records completed per second over the last 10 seconds.")
        for s in statuses { if let k = s.kafka { out += "swell_trigger_kafka_records_per_second\(labels(s)) \(k.recordsPerSecond)\n" } }
        return out
    }
}
