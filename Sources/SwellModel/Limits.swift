/// Platform-wide size limits.
public enum Limits {
    /// Largest synchronous invoke request and function response: 6 MB, as Lambda.
    public static let maxPayloadBytes = 6 * 1024 * 1024
    /// Largest code package upload.
    public static let maxCodeBytes = 250 * 1024 * 1024
    /// Longest single log line kept; longer ones are cut.
    public static let maxLogLineBytes = 16 * 1024
    /// Bytes of log text returned by `X-Swell-Log-Type: Tail`.
    public static let logTailBytes = 4096
}
