import Logging
import OTel
import ServiceLifecycle
import Tracing

/// OpenTelemetry trace export, configured by the standard `OTEL_*` variables.
///
/// Off unless an OTLP endpoint is given (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). Off, Swell records no span and reads no trace
/// context on the invoke path; on, swift-otel's tracer exports in batches over OTLP/HTTP
/// (`http/protobuf`, or `http/json` through `OTEL_EXPORTER_OTLP_PROTOCOL`). Swift-otel's
/// logs and metrics stay off: Swell has its own.
public enum Telemetry {
    /// Whether `environment` asks for traces to be exported.
    public static func tracingWanted(_ environment: [String: String]) -> Bool {
        let disabled = environment["OTEL_SDK_DISABLED"]?.lowercased() == "true"
        let exporter = environment["OTEL_TRACES_EXPORTER"]?.lowercased()
        let endpoint = [environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], environment["OTEL_EXPORTER_OTLP_ENDPOINT"]]
            .contains { !($0 ?? "").isEmpty }
        return !disabled && exporter != "none" && (endpoint || exporter == "console")
    }

    /// Installs swift-otel's tracer as the process's tracer and returns the service that
    /// exports its spans (it flushes what is left at shutdown).
    static func bootstrapTracing(environment: [String: String]) throws -> any Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "swell"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.diagnosticLogLevel = .warning
        var environment = environment
        // Swift-otel reads these too; ours win, so that OTEL_METRICS_EXPORTER and
        // OTEL_LOGS_EXPORTER cannot replace Swell's own metrics and logs.
        environment["OTEL_METRICS_EXPORTER"] = "none"
        environment["OTEL_LOGS_EXPORTER"] = "none"
        return try OTel.bootstrap(configuration: configuration, environment: environment)
    }
}
