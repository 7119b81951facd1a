import Foundation

// Fire times of a cron expression: the search over wall-clock times and their mapping to
// instants in a time zone.

extension CronExpression {
    /// How far `next(after:in:)` and `previous(before:in:)` search: one full cycle of the
    /// Gregorian calendar (400 years, a whole number of weeks), so a `nil` means the
    /// expression can never fire (e.g. February 30th).
    static let searchYears = 400

    /// The first fire time strictly after `date`, on the wall clock of `timeZone`
    /// (Gregorian calendar), or `nil` if the expression never fires (e.g. `0 0 0 30 2 *`).
    ///
    /// Fire times are whole seconds. Daylight-saving changes:
    /// - **Spring forward (gap):** a wall-clock time that does not exist that day is skipped
    ///   for that day; it does not fire at a shifted instant. In America/New_York,
    ///   `0 30 2 * * *` does not fire on 2026-03-08 (02:00 jumps to 03:00); its next fire
    ///   after 2026-03-07 02:30 is 2026-03-09 02:30 EDT.
    /// - **Fall back (overlap):** a wall-clock time that occurs twice fires once, at its first
    ///   occurrence (daylight time). In America/New_York on 2026-11-01, `0 30 1 * * *` fires
    ///   at 01:30 EDT (05:30Z) and not at 01:30 EST (06:30Z). This holds for every field, so a
    ///   sub-hourly schedule such as `*/10 * * * * *` pauses during the repeated hour; use
    ///   the `UTC` zone for schedules that must tick evenly.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        guard let after = CronCalendar.wholeSeconds(date, rounding: .down) else { return nil }
        let zone = CronZone(timeZone)
        var wall = CronWallTime(naive: after + zone.offset(at: after) + 1)
        let lastYear = wall.year + Self.searchYears
        while let match = firstMatch(atOrAfter: wall, throughYear: lastYear) {
            // Walls in a gap have no instant; a wall repeated by a fall-back that already
            // fired (its first occurrence is not after `date`) is passed over.
            if let instant = zone.instant(for: match), instant > after {
                return Date(timeIntervalSince1970: TimeInterval(instant))
            }
            wall = CronWallTime(naive: match.naive + 1)
        }
        return nil
    }

    /// The last fire time strictly before `date`, or `nil` if there is none in the previous
    /// 400 years. Same rules as ``next(after:in:)``.
    public func previous(before date: Date, in timeZone: TimeZone) -> Date? {
        guard let before = CronCalendar.wholeSeconds(date, rounding: .up) else { return nil }
        let limit = before - 1
        let lower = limit - (Self.searchYears + 1) * 366 * 86_400
        return latestFire(notAfter: limit, notBefore: lower, zone: CronZone(timeZone))
            .map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// The last fire time `f` with `date - within <= f <= date`, if any. Same rules as
    /// ``next(after:in:)``. The search walks back over matching wall-clock values, not
    /// second by second, so it is cheap for any `within`.
    public func lastFire(atOrBefore date: Date, in timeZone: TimeZone, within: TimeInterval) -> Date? {
        guard within >= 0, let limit = CronCalendar.wholeSeconds(date, rounding: .down),
              let lower = CronCalendar.wholeSeconds(date.addingTimeInterval(-within), rounding: .up)
        else { return nil }
        return latestFire(notAfter: limit, notBefore: lower, zone: CronZone(timeZone))
            .map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// The start `f` of the window `[f, f + duration)` that contains `date`, where `f` is a
    /// fire time: what a scheduled scaling rule needs to know whether it is in force at `date`.
    /// When windows overlap, the latest start. `nil` when no window contains `date`.
    public func windowStart(containing date: Date, duration: TimeInterval, in timeZone: TimeZone) -> Date? {
        guard duration > 0, let fire = lastFire(atOrBefore: date, in: timeZone, within: duration) else { return nil }
        return fire.addingTimeInterval(duration) > date ? fire : nil
    }

    /// The latest fire instant in `lower...limit` (seconds since 1970).
    func latestFire(notAfter limit: Int, notBefore lower: Int, zone: CronZone) -> Int? {
        guard lower <= limit else { return nil }
        // After a fall-back, walls up to `limit + earlier offset` may have their first
        // occurrence at or before `limit`; start from there and filter by instant.
        let offset = max(zone.offset(at: limit), zone.offset(at: limit - 86_400))
        var wall = CronWallTime(naive: limit + offset)
        // The wall clock is within a day of the instant, so no match before this year counts.
        let firstYear = CronWallTime(naive: lower - 86_400).year
        while let match = lastMatch(atOrBefore: wall, fromYear: firstYear) {
            if let instant = zone.instant(for: match) {
                // Instants grow with wall times (first occurrences), so none further back is in range.
                if instant < lower { return nil }
                if instant <= limit { return instant }
            }
            wall = CronWallTime(naive: match.naive - 1)
        }
        return nil
    }

    /// The first wall time at or after `start` that the expression allows, up to the end of `lastYear`.
    /// Steps field by field: month, day, hour, minute, second, each to its next allowed value.
    func firstMatch(atOrAfter start: CronWallTime, throughYear lastYear: Int) -> CronWallTime? {
        var (y, mo, d, h, mi, s) = (start.year, start.month, start.day, start.hour, start.minute, start.second)
        while y <= lastYear {
            guard let month = months.next(atOrAfter: mo) else {
                (y, mo, d, h, mi, s) = (y + 1, 1, 1, 0, 0, 0)
                continue
            }
            if month != mo { (mo, d, h, mi, s) = (month, 1, 0, 0, 0) }
            let daysInMonth = CronCalendar.daysInMonth(year: y, month: mo)
            var day = d
            while day <= daysInMonth, !allowsDay(year: y, month: mo, day: day) { day += 1 }
            if day > daysInMonth {
                (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0)
                continue
            }
            if day != d { (d, h, mi, s) = (day, 0, 0, 0) }
            guard let hour = hours.next(atOrAfter: h) else {
                (d, h, mi, s) = (d + 1, 0, 0, 0)
                continue
            }
            if hour != h { (h, mi, s) = (hour, 0, 0) }
            guard let minute = minutes.next(atOrAfter: mi) else {
                (h, mi, s) = (h + 1, 0, 0)
                continue
            }
            if minute != mi { (mi, s) = (minute, 0) }
            guard let second = seconds.next(atOrAfter: s) else {
                (mi, s) = (mi + 1, 0)
                continue
            }
            return CronWallTime(year: y, month: mo, day: d, hour: h, minute: mi, second: second)
        }
        return nil
    }

    /// The last wall time at or before `start` that the expression allows, back to the start of `firstYear`.
    func lastMatch(atOrBefore start: CronWallTime, fromYear firstYear: Int) -> CronWallTime? {
        var (y, mo, d, h, mi, s) = (start.year, start.month, start.day, start.hour, start.minute, start.second)
        while y >= firstYear {
            guard let month = months.previous(atOrBefore: mo) else {
                (y, mo, d, h, mi, s) = (y - 1, 12, 31, 23, 59, 59)
                continue
            }
            if month != mo { (mo, d, h, mi, s) = (month, 31, 23, 59, 59) }
            let daysInMonth = CronCalendar.daysInMonth(year: y, month: mo)
            if d > daysInMonth { (d, h, mi, s) = (daysInMonth, 23, 59, 59) }
            var day = d
            while day >= 1, !allowsDay(year: y, month: mo, day: day) { day -= 1 }
            if day < 1 {
                (mo, d, h, mi, s) = (mo - 1, 31, 23, 59, 59)
                continue
            }
            if day != d { (d, h, mi, s) = (day, 23, 59, 59) }
            guard let hour = hours.previous(atOrBefore: h) else {
                (d, h, mi, s) = (d - 1, 23, 59, 59)
                continue
            }
            if hour != h { (h, mi, s) = (hour, 59, 59) }
            guard let minute = minutes.previous(atOrBefore: mi) else {
                (h, mi, s) = (h - 1, 59, 59)
                continue
            }
            if minute != mi { (mi, s) = (minute, 59) }
            guard let second = seconds.previous(atOrBefore: s) else {
                (mi, s) = (mi - 1, 59)
                continue
            }
            return CronWallTime(year: y, month: mo, day: d, hour: h, minute: mi, second: second)
        }
        return nil
    }
}

/// A wall-clock time without a zone, in the proleptic Gregorian calendar.
struct CronWallTime: Equatable, CustomStringConvertible {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    }

    /// The wall time `naive` seconds after 1970-01-01 00:00:00 (on the wall clock, no zone).
    init(naive: Int) {
        let days = naive >= 0 ? naive / 86_400 : -((-naive + 86_399) / 86_400)
        let secondOfDay = naive - days * 86_400
        (year, month, day) = CronCalendar.civil(fromDays: days)
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
    }

    /// Seconds since 1970-01-01 00:00:00 on the wall clock (as if the zone were UTC).
    var naive: Int {
        CronCalendar.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    var description: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second))"
    }
}

/// A time zone's offsets, and wall-clock times mapped to instants by the cron rules.
struct CronZone {
    let timeZone: TimeZone

    init(_ timeZone: TimeZone) { self.timeZone = timeZone }

    /// Seconds east of UTC at the instant `seconds` after 1970.
    func offset(at seconds: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// The instant of `wall` in this zone: `nil` when the wall time falls in a gap (it does
    /// not exist that day), the earlier instant when it occurs twice.
    func instant(for wall: CronWallTime) -> Int? {
        let naive = wall.naive
        // The instant is within 14 hours of `naive`; the offsets a day either side cover
        // both sides of any one transition near it.
        var tried: [Int] = []
        var earliest: Int?
        for probe in [naive - 86_400, naive, naive + 86_400] {
            let offset = offset(at: probe)
            guard !tried.contains(offset) else { continue }
            tried.append(offset)
            let instant = naive - offset
            if self.offset(at: instant) == offset, instant < (earliest ?? .max) { earliest = instant }
        }
        return earliest
    }
}

/// Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
public enum CronCalendar {
    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given date. Counts in 400-year eras starting on March 1st,
    /// so that the leap day is the last day of its year.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01; the inverse of `days(year:month:day:)`.
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 = Sunday … 6 = Saturday. 1970-01-01 was a Thursday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let d = days(year: year, month: month, day: day)
        return ((d % 7) + 7 + 4) % 7
    }

    /// `date` as whole seconds since 1970, rounded as asked; `nil` for dates too far out
    /// (beyond about ±3000 years) to search.
    static func wholeSeconds(_ date: Date, rounding rule: FloatingPointRoundingRule) -> Int? {
        let t = date.timeIntervalSince1970
        guard t.isFinite, abs(t) < 1e11 else { return nil }
        return Int(t.rounded(rule))
    }
}
