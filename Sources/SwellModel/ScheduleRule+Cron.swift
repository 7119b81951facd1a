import Foundation

extension ScheduleRule {
    /// The rule's cron expression and time zone, validated.
    public func compiled(path: String) throws(SwellError) -> (CronExpression, TimeZone) {
        let zone = try CronExpression.timeZone(named: timezone, field: "\(path).timezone")
        let cron = try CronExpression(parsing: cron, field: "\(path).cron")
        return (cron, zone)
    }

    /// Whether a window of this rule is open at `date`: some fire time f with f <= date < f + duration.
    public func isActive(at date: Date) -> Bool {
        guard let (cron, zone) = try? compiled(path: "schedule") else { return false }
        return cron.lastFire(atOrBefore: date, in: zone, within: TimeInterval(duration)).map { date < $0 + TimeInterval(duration) } ?? false
    }
}

extension ScalingConfig {
    /// The largest minimum of the schedule windows open at `date` (0 when none is).
    public func scheduledMinimum(at date: Date) -> Int {
        schedule.filter { $0.isActive(at: date) }.map(\.minInstances).max() ?? 0
    }
}
