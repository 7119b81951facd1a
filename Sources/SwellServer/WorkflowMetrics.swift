extension WorkflowEngine.Metrics {
    /// The Prometheus text of the workflow engine's counters and gauges.
    var prometheusText: String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("swell_workflow_executions_started_total", "counter", "Workflow executions started.", "\(started)")
        metric("swell_workflow_executions_succeeded_total", "counter", "Workflow executions that succeeded.", "\(succeeded)")
        metric("swell_workflow_executions_failed_total", "counter", "Workflow executions that failed.", "\(failed)")
        metric("swell_workflow_executions_timed_out_total", "counter", "Workflow executions that ran past their TimeoutSeconds.", "\(timedOut)")
        metric("swell_workflow_executions_aborted_total", "counter", "Workflow executions stopped through the API.", "\(aborted)")
        metric("swell_workflow_transitions_total", "counter", "States entered by workflow executions.", "\(transitions)")
        metric("swell_workflow_executions_open", "gauge", "Workflow executions under way.", "\(open)")
        metric("swell_workflow_journal_commits_total", "counter", "Transactions of the workflow journal (one fsync each).", "\(journal.commits)")
        metric("swell_workflow_journal_writes_total", "counter", "Writes in those transactions.", "\(journal.writes)")
        metric("swell_workflow_journal_commit_seconds_total", "counter", "Time spent committing the workflow journal.", "\(journal.commitSeconds)")
        return out
    }
}
