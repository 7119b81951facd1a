import Foundation
import SwellModel
import Testing

@Suite struct CronExpressionTests {
    static let field = "functions.grade.scaling.schedule[0].cron"

    func cron(_ text: String) throws(SwellError) -> CronExpression {
        try CronExpression(parsing: text, field: Self.field)
    }

    func zone(_ name: String) throws(SwellError) -> TimeZone {
        try CronExpression.timeZone(named: name, field: "timezone")
    }

    func date(_ iso: String) -> Date {
        guard let d = try? Date(iso, strategy: .iso8601) else { fatalError("bad test date \(iso)") }
        return d
    }

    func iso(_ d: Date?) -> String? {
        d.map { $0.formatted(.iso8601) }
    }

    /// The next `count` fire times after `start`, as UTC ISO 8601 strings.
    func fires(_ text: String, after start: String, in zoneName: String = "UTC", count: Int = 3) throws -> [String] {
        let expression = try cron(text)
        let tz = try zone(zoneName)
        var result: [String] = []
        var t = date(start)
        for _ in 0..<count {
            guard let next = expression.next(after: t, in: tz) else { break }
            result.append(iso(next)!)
            t = next
        }
        return result
    }

    func error(_ text: String) -> SwellError? {
        do {
            _ = try cron(text)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Parsing

    @Test func sixFieldsAreSecondMinuteHourDayMonthWeekday() throws {
        #expect(try fires("5 4 3 2 1 *", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-02T03:04:05Z", "2027-01-02T03:04:05Z"])
    }

    @Test func fiveFieldsHaveSecondZero() throws {
        #expect(try fires("30 9 * * *", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-01T09:30:00Z", "2026-01-02T09:30:00Z"])
        #expect(try fires("4 3 2 1 *", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-02T03:04:00Z"])
    }

    @Test func textIsKeptAsWritten() throws {
        let c = try cron("  0\t*/5  * * * *  ")
        #expect(c.text == "  0\t*/5  * * * *  ")
        #expect(c.description == c.text)
        #expect(try fires("  0\t*/5  * * * *  ", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z"])
        #expect(try cron("0 0 * * * *") == cron("0 0 * * * *"))
        #expect(Set([try cron("@daily"), try cron("@daily"), try cron("@hourly")]).count == 2)
    }

    @Test func wildcardMatchesEveryValue() throws {
        #expect(try fires("* * * * * *", after: "2026-01-01T23:59:58Z") == ["2026-01-01T23:59:59Z", "2026-01-02T00:00:00Z", "2026-01-02T00:00:01Z"])
    }

    @Test func ranges() throws {
        #expect(try fires("0 0 9-11 * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-02T09:00:00Z"])
        #expect(try fires("0 0 0 1 3-5 *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z"])
        #expect(try fires("0 7-7 * * * *", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-01T00:07:00Z", "2026-01-01T01:07:00Z"])
    }

    @Test func lists() throws {
        #expect(try fires("0 0,15,45 * * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T00:15:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:15:00Z"])
        #expect(try fires("0 0 1-2,22 * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T22:00:00Z", "2026-01-02T01:00:00Z"])
        #expect(try fires("0 45,15 * * * *", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-01T00:15:00Z", "2026-01-01T00:45:00Z"])
    }

    @Test func steps() throws {
        #expect(try fires("*/10 * * * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:40Z"])
        #expect(try fires("*/10 * * * * *", after: "2026-01-01T00:00:45Z", count: 3)
            == ["2026-01-01T00:00:50Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:10Z"])
        #expect(try fires("0 10-30/10 * * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:30:00Z", "2026-01-01T01:10:00Z"])
        #expect(try fires("0 50/5 * * * *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"])
        #expect(try fires("15/20 * * * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T00:00:15Z", "2026-01-01T00:00:35Z", "2026-01-01T00:00:55Z", "2026-01-01T00:01:15Z"])
        #expect(try fires("0 0 */6 * * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"])
        #expect(try fires("0 0 0 1 */5 *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-06-01T00:00:00Z", "2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z"])
        #expect(try fires("0 */60 * * * *", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"])
    }

    @Test func monthNamesAnyCase() throws {
        #expect(try fires("0 0 0 1 JAN,jul *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"])
        #expect(try fires("0 0 0 1 Mar-MAY *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"])
        #expect(try fires("0 0 0 1 dec *", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-12-01T00:00:00Z"])
    }

    /// 2026-01-01 is a Thursday.
    @Test func dayNamesAndSevenIsSunday() throws {
        let sundays = ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]
        for text in ["0 0 0 * * 0", "0 0 0 * * 7", "0 0 0 * * SUN", "0 0 0 * * sun", "0 0 0 ? * Sun"] {
            #expect(try fires(text, after: "2026-01-01T00:00:00Z", count: 2) == sundays, "\(text)")
        }
        #expect(try fires("0 0 12 * * mon", after: "2026-01-01T00:00:00Z", count: 2) == fires("0 0 12 * * 1", after: "2026-01-01T00:00:00Z", count: 2))
        #expect(try fires("0 0 12 * * MON-FRI", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", "2026-01-05T12:00:00Z", "2026-01-06T12:00:00Z"])
        let fridayToSunday = ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"]
        for text in ["0 0 0 * * 5-7", "0 0 0 * * FRI-SUN", "0 0 0 * * FRI-SAT,SUN", "0 0 0 * * 0,5,6"] {
            #expect(try fires(text, after: "2026-01-01T00:00:00Z", count: 4) == fridayToSunday, "\(text)")
        }
        #expect(try fires("0 0 0 * * */2", after: "2026-01-01T00:00:00Z", count: 4) // Sun, Tue, Thu, Sat
            == ["2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z"])
        #expect(try fires("0 0 0 * * TUE,THU", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z", "2026-01-13T00:00:00Z"])
    }

    @Test func questionMarkMeansAnyDay() throws {
        #expect(try fires("0 0 0 ? * MON", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"])
        #expect(try fires("0 0 0 15 * ?", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z"])
        #expect(try fires("0 0 0 ? * ?", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"])
    }

    @Test func macros() throws {
        let start = "2026-05-15T10:20:30Z"
        #expect(try fires("@yearly", after: start, count: 2) == ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"])
        #expect(try fires("@annually", after: start, count: 2) == ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"])
        #expect(try fires("@monthly", after: start, count: 2) == ["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"])
        #expect(try fires("@weekly", after: start, count: 2) == ["2026-05-17T00:00:00Z", "2026-05-24T00:00:00Z"]) // Sundays
        #expect(try fires("@daily", after: start, count: 2) == ["2026-05-16T00:00:00Z", "2026-05-17T00:00:00Z"])
        #expect(try fires("@midnight", after: start, count: 2) == ["2026-05-16T00:00:00Z", "2026-05-17T00:00:00Z"])
        #expect(try fires("@hourly", after: start, count: 2) == ["2026-05-15T11:00:00Z", "2026-05-15T12:00:00Z"])
        #expect(try fires(" @DAILY ", after: start, count: 1) == ["2026-05-16T00:00:00Z"])
        #expect(try cron("@daily").text == "@daily")
    }

    // MARK: - Rejections

    @Test func rejectionsNameTheFieldAndTheProblem() {
        let cases: [(String, String)] = [
            ("", "cron: expression is empty (expected 6 fields: second minute hour day-of-month month day-of-week, or the classic 5 without the second)"),
            ("   ", "cron: expression is empty (expected 6 fields: second minute hour day-of-month month day-of-week, or the classic 5 without the second)"),
            ("* * * *", "cron: expected 6 fields (second minute hour day-of-month month day-of-week) or 5 (without the second), got 4"),
            ("* * * * * * *", "cron: expected 6 fields (second minute hour day-of-month month day-of-week) or 5 (without the second), got 7"),
            ("60 * * * * *", "cron: field 'second' value '60' is out of range 0-59"),
            ("0 60 * * * *", "cron: field 'minute' value '60' is out of range 0-59"),
            ("0 0 24 * * *", "cron: field 'hour' value '24' is out of range 0-23"),
            ("0 0 0 0 * *", "cron: field 'day-of-month' value '0' is out of range 1-31"),
            ("0 0 0 32 * *", "cron: field 'day-of-month' value '32' is out of range 1-31"),
            ("0 0 0 1 0 *", "cron: field 'month' value '0' is out of range 1-12"),
            ("0 0 0 1 13 *", "cron: field 'month' value '13' is out of range 1-12"),
            ("0 0 0 * * 8", "cron: field 'day-of-week' value '8' is out of range 0-7"),
            ("99999999999999999999 * * * * *", "cron: field 'second' value '99999999999999999999' is out of range 0-59"),
            ("0 0 10-25 * * *", "cron: field 'hour' value '25' is out of range 0-23"),
            ("0 0 0 * * FUNDAY", "cron: field 'day-of-week' value 'FUNDAY' is not a day name or 0-7"),
            ("0 0 0 * * MONDAY", "cron: field 'day-of-week' value 'MONDAY' is not a day name or 0-7"),
            ("0 0 0 * * 1.5", "cron: field 'day-of-week' value '1.5' is not a day name or 0-7"),
            ("0 0 0 1 JANUARY *", "cron: field 'month' value 'JANUARY' is not a month name or 1-12"),
            ("0 0 0 1 MON *", "cron: field 'month' value 'MON' is not a month name or 1-12"),
            ("0 0 0 JAN * *", "cron: field 'day-of-month' value 'JAN' is not a number"),
            ("0 x * * * *", "cron: field 'minute' value 'x' is not a number"),
            ("0 MON * * * *", "cron: field 'minute' value 'MON' is not a number"),
            ("0 5-1 * * * *", "cron: field 'minute' range '5-1' is reversed (5 is after 1)"),
            ("0 0 0 * * SAT-MON", "cron: field 'day-of-week' range 'SAT-MON' is reversed (6 is after 1)"),
            ("0 0 0 * * 5-0", "cron: field 'day-of-week' range '5-0' is reversed (5 is after 0)"),
            ("0 0 0 1 DEC-JAN *", "cron: field 'month' range 'DEC-JAN' is reversed (12 is after 1)"),
            ("0 1-2-3 * * * *", "cron: field 'minute' value '1-2-3' is not a range a-b"),
            ("0 -5 * * * *", "cron: field 'minute' value '-5' is not a range a-b"),
            ("0 5- * * * *", "cron: field 'minute' value '5-' is not a range a-b"),
            ("*/0 * * * * *", "cron: field 'second' step '0' in '*/0' must be at least 1"),
            ("0 0 1-5/0 * * *", "cron: field 'hour' step '0' in '1-5/0' must be at least 1"),
            ("*/61 * * * * *", "cron: field 'second' step '61' in '*/61' is larger than the field's 60 values"),
            ("0 0 0 1 */13 *", "cron: field 'month' step '13' in '*/13' is larger than the field's 12 values"),
            ("*/x * * * * *", "cron: field 'second' step 'x' in '*/x' is not a number"),
            ("*/-1 * * * * *", "cron: field 'second' step '-1' in '*/-1' is not a number"),
            ("*/ * * * * *", "cron: field 'second' value '*/' has no step after '/'"),
            ("*/2/3 * * * * *", "cron: field 'second' value '*/2/3' has more than one '/'"),
            ("/5 * * * * *", "cron: field 'second' value '/5' has no value before '/'"),
            ("1,,2 * * * * *", "cron: field 'second' has an empty list element in '1,,2'"),
            ("0 1, * * * *", "cron: field 'minute' has an empty list element in '1,'"),
            ("? * * * * *", "cron: field 'second' does not accept '?' (only day-of-month and day-of-week do)"),
            ("0 0 0 1 ? *", "cron: field 'month' does not accept '?' (only day-of-month and day-of-week do)"),
            ("0 0 0 ?,1 * *", "cron: field 'day-of-month' accepts '?' only as the whole field (got '?,1')"),
            ("0 0 0 * * ?/2", "cron: field 'day-of-week' accepts '?' only as the whole field (got '?/2')"),
            ("@every 5m", "cron: unknown macro '@every' (expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"),
            ("@reboot", "cron: unknown macro '@reboot' (expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"),
            ("@daily 5", "cron: macro '@daily' must stand alone (got 1 more field)"),
            ("@hourly * *", "cron: macro '@hourly' must stand alone (got 2 more fields)"),
        ]
        for (text, message) in cases {
            let e = error(text)
            #expect(e?.message == message, "\(text)")
            #expect(e?.field == Self.field, "\(text)")
            #expect(e?.code == .invalidField, "\(text)")
        }
        #expect(error("0 0 0 * * FUNDAY")?.description
            == "functions.grade.scaling.schedule[0].cron: cron: field 'day-of-week' value 'FUNDAY' is not a day name or 0-7")
    }

    // MARK: - next(after:in:)

    @Test func nextIsStrictlyAfter() throws {
        let c = try cron("0 50 18 * * *")
        let utc = try zone("UTC")
        #expect(iso(c.next(after: date("2026-01-01T18:50:00Z"), in: utc)) == "2026-01-02T18:50:00Z")
        #expect(iso(c.next(after: date("2026-01-01T18:49:59Z"), in: utc)) == "2026-01-01T18:50:00Z")
        #expect(iso(c.next(after: date("2026-01-01T18:49:59Z").addingTimeInterval(0.5), in: utc)) == "2026-01-01T18:50:00Z")
        #expect(iso(c.next(after: date("2026-01-01T18:50:00Z").addingTimeInterval(0.25), in: utc)) == "2026-01-02T18:50:00Z")
        #expect(iso(c.next(after: date("2026-01-01T18:50:00Z").addingTimeInterval(-0.25), in: utc)) == "2026-01-01T18:50:00Z")
    }

    @Test func nextCrossesMinuteHourDayMonthAndYear() throws {
        #expect(try fires("30 * * * * *", after: "2026-01-01T00:00:45Z", count: 1) == ["2026-01-01T00:01:30Z"])
        #expect(try fires("0 5 * * * *", after: "2026-01-01T00:06:00Z", count: 1) == ["2026-01-01T01:05:00Z"])
        #expect(try fires("0 0 3 * * *", after: "2026-01-31T04:00:00Z", count: 1) == ["2026-02-01T03:00:00Z"])
        #expect(try fires("0 0 0 15 * *", after: "2026-12-20T00:00:00Z", count: 1) == ["2027-01-15T00:00:00Z"])
        #expect(try fires("0 0 0 1 1 *", after: "2026-12-31T23:59:59Z", count: 1) == ["2027-01-01T00:00:00Z"])
        #expect(try fires("59 59 23 31 12 *", after: "2026-12-31T23:59:59Z", count: 1) == ["2027-12-31T23:59:59Z"])
        #expect(try fires("59 59 23 * * *", after: "2026-02-28T23:59:58Z", count: 2) == ["2026-02-28T23:59:59Z", "2026-03-01T23:59:59Z"])
        #expect(try fires("0 0 0 1 FEB *", after: "2026-03-01T00:00:00Z", count: 1) == ["2027-02-01T00:00:00Z"])
    }

    @Test func leapDay() throws {
        #expect(try fires("0 0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"])
        // 2100 is not a leap year: eight years to the next February 29th.
        #expect(try fires("0 0 0 29 2 *", after: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00Z"])
        #expect(try fires("0 0 0 29 2 *", after: "1999-03-01T00:00:00Z", count: 1) == ["2000-02-29T00:00:00Z"]) // 2000 is
        #expect(try fires("0 0 12 28-29 FEB *", after: "2027-02-28T12:00:00Z", count: 2) == ["2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z"])
    }

    @Test func thirtyFirstSkipsShortMonths() throws {
        #expect(try fires("0 0 0 31 * *", after: "2026-01-31T00:00:00Z", count: 5)
            == ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z"])
        #expect(try fires("0 0 0 30 * *", after: "2026-01-30T00:00:00Z", count: 2) == ["2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"])
        #expect(try fires("0 0 0 29-31 * *", after: "2026-01-31T00:00:00Z", count: 2) == ["2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z"])
    }

    @Test func neverFiringExpressionsGiveNil() throws {
        let utc = try zone("UTC")
        for text in ["0 0 0 30 2 *", "0 0 0 31 4,6,9,11 *", "0 0 0 30-31 FEB ?"] {
            let c = try cron(text)
            #expect(c.next(after: date("2026-01-01T00:00:00Z"), in: utc) == nil, "\(text)")
            #expect(c.previous(before: date("2026-01-01T00:00:00Z"), in: utc) == nil, "\(text)")
            #expect(c.lastFire(atOrBefore: date("2026-01-01T00:00:00Z"), in: utc, within: 86_400 * 3650) == nil, "\(text)")
        }
        // With day-of-week restricted too, the OR rule makes it fire on Mondays in February.
        #expect(try fires("0 0 0 30 2 MON", after: "2026-01-01T00:00:00Z", count: 2) == ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"])
    }

    /// Both day fields restricted: a day matches if either does. 2026-01-02 is a Friday.
    @Test func dayOfMonthOrDayOfWeekWhenBothRestricted() throws {
        #expect(try fires("0 0 0 13 * FRI", after: "2026-01-01T00:00:00Z", count: 5)
            == ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z"])
        // Not "the first Monday": days 1-7 and every Monday.
        #expect(try fires("0 0 0 1-7 * MON", after: "2026-01-06T00:00:00Z", count: 4)
            == ["2026-01-07T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z"])
        #expect(try fires("0 0 0 1-7 * MON", after: "2026-01-31T00:00:00Z", count: 3)
            == ["2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z", "2026-02-03T00:00:00Z"])
    }

    /// A day field starting with `*` counts as unrestricted (Vixie): then both fields must match.
    @Test func dayOfMonthAndDayOfWeekWhenOneStartsWithStar() throws {
        // Mondays that fall on an odd day of the month.
        #expect(try fires("0 0 0 */2 * MON", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z"])
        // `*/1` is every day of the week and counts as a wildcard: every 13th.
        #expect(try fires("0 0 0 13 * */1", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-13T00:00:00Z"])
        #expect(try fires("0 0 0 13 * *", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-13T00:00:00Z"])
        #expect(try fires("0 0 0 * * FRI", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-01-02T00:00:00Z"])
    }

    @Test func timeZoneShanghaiVersusUTC() throws {
        #expect(try fires("0 50 18 * * MON-FRI", after: "2026-11-20T00:00:00Z", in: "Asia/Shanghai", count: 3)
            == ["2026-11-20T10:50:00Z", "2026-11-23T10:50:00Z", "2026-11-24T10:50:00Z"])
        #expect(try fires("0 50 18 * * MON-FRI", after: "2026-11-20T00:00:00Z", in: "UTC", count: 2)
            == ["2026-11-20T18:50:00Z", "2026-11-23T18:50:00Z"])
        // Monday 01:30 in Shanghai is Sunday 17:30 UTC: the day is the local day.
        #expect(try fires("0 30 1 * * MON", after: "2026-11-20T00:00:00Z", in: "Asia/Shanghai", count: 1) == ["2026-11-22T17:30:00Z"])
        #expect(try fires("0 0 0 1 * *", after: "2026-11-20T00:00:00Z", in: "Asia/Shanghai", count: 1) == ["2026-11-30T16:00:00Z"])
        #expect(try fires("@daily", after: "2026-11-20T00:00:00Z", in: "Europe/Berlin", count: 1) == ["2026-11-20T23:00:00Z"])
    }

    /// America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT. Missing wall times are skipped that day.
    @Test func springForwardGapIsSkipped() throws {
        let ny = "America/New_York"
        #expect(try fires("0 30 2 * * *", after: "2026-03-07T08:00:00Z", in: ny, count: 2) == ["2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"])
        #expect(try fires("0 30 2 * * *", after: "2026-03-06T08:00:00Z", in: ny, count: 2) == ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"])
        #expect(try fires("0 0 * * * *", after: "2026-03-08T06:30:00Z", in: ny, count: 3)
            == ["2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z", "2026-03-08T09:00:00Z"]) // 01:30 EST → 03:00 EDT
        #expect(try fires("0 */30 * * * *", after: "2026-03-08T06:00:00Z", in: ny, count: 3)
            == ["2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"])
        #expect(try fires("0 0 3 * * *", after: "2026-03-08T05:00:00Z", in: ny, count: 2) == ["2026-03-08T07:00:00Z", "2026-03-09T07:00:00Z"])
        #expect(try fires("59 59 1 * * *", after: "2026-03-08T05:00:00Z", in: ny, count: 1) == ["2026-03-08T06:59:59Z"])
        #expect(try fires("0 0 2-3 8 MAR *", after: "2026-03-08T05:00:00Z", in: ny, count: 2) == ["2026-03-08T07:00:00Z", "2027-03-08T07:00:00Z"])
    }

    /// America/New_York, 2026-11-01: 02:00 EDT falls back to 01:00 EST. Repeated wall times fire once, the first time.
    @Test func fallBackOverlapFiresOnce() throws {
        let ny = "America/New_York"
        #expect(try fires("0 30 1 * * *", after: "2026-11-01T04:00:00Z", in: ny, count: 2) == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
        // From inside the repeated hour (01:00 EST), 01:30 has already fired.
        #expect(try fires("0 30 1 * * *", after: "2026-11-01T06:00:00Z", in: ny, count: 1) == ["2026-11-02T06:30:00Z"])
        #expect(try fires("0 0 * * * *", after: "2026-11-01T04:30:00Z", in: ny, count: 3)
            == ["2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"]) // 01:00 EDT, 02:00 EST, 03:00 EST
        #expect(try fires("0 0 2 * * *", after: "2026-11-01T04:00:00Z", in: ny, count: 1) == ["2026-11-01T07:00:00Z"])
        // Every ten seconds: pauses during the repeated hour.
        #expect(try fires("*/10 * * * * *", after: "2026-11-01T05:59:40Z", in: ny, count: 3)
            == ["2026-11-01T05:59:50Z", "2026-11-01T07:00:00Z", "2026-11-01T07:00:10Z"])
        #expect(try fires("*/10 * * * * *", after: "2026-11-01T06:20:05Z", in: ny, count: 1) == ["2026-11-01T07:00:00Z"])
        #expect(try fires("*/10 * * * * *", after: "2026-11-01T05:59:40Z", in: "UTC", count: 3)
            == ["2026-11-01T05:59:50Z", "2026-11-01T06:00:00Z", "2026-11-01T06:00:10Z"])
    }

    /// Australia/Lord_Howe moves its clocks by 30 minutes; 2026-10-04 02:00 jumps to 02:30, 2026-04-05 02:00 falls back to 01:30.
    @Test func halfHourDaylightSaving() throws {
        let lh = "Australia/Lord_Howe"
        #expect(try fires("0 15 2 * * *", after: "2026-10-02T00:00:00Z", in: lh, count: 2)
            == ["2026-10-02T15:45:00Z", "2026-10-04T15:15:00Z"]) // 3rd 02:15 +10:30, skipped on the 4th, 5th 02:15 +11
        #expect(try fires("0 45 1 * * *", after: "2026-04-04T00:00:00Z", in: lh, count: 2)
            == ["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]) // 01:45 +11 (first occurrence), 01:45 +10:30
    }

    /// next(), previous() and lastFire() agree with a scan of the wall clock every 20 seconds through Foundation's Calendar,
    /// around daylight-saving changes in several zones.
    @Test func nextAgreesWithBruteForceScan() throws {
        struct Spec {
            var text: String
            var seconds: Set<Int> = [0], minutes: Set<Int> = Set(0...59), hours: Set<Int> = Set(0...23)
            var days: Set<Int> = Set(1...31), months: Set<Int> = Set(1...12), weekdays: Set<Int> = Set(0...6)
            var either = false
        }
        let specs = [
            Spec(text: "0 */15 * * * *", minutes: [0, 15, 30, 45]),
            Spec(text: "0 30 2 * * *", minutes: [30], hours: [2]),
            Spec(text: "0 0 * * * *", minutes: [0]),
            Spec(text: "0 45 1 * * *", minutes: [45], hours: [1]),
            Spec(text: "0 0,30 1-3 * * SUN", minutes: [0, 30], hours: [1, 2, 3], weekdays: [0]),
            Spec(text: "0 10 0,12 2,5 * FRI", minutes: [10], hours: [0, 12], days: [2, 5], weekdays: [5], either: true),
            Spec(text: "*/20 */7 * * * *", seconds: [0, 20, 40], minutes: Set(stride(from: 0, through: 59, by: 7))),
        ]
        let windows: [(String, String)] = [
            ("America/New_York", "2026-03-06T00:00:00Z"), ("America/New_York", "2026-10-30T00:00:00Z"),
            ("Europe/Berlin", "2026-03-27T00:00:00Z"), ("Europe/Berlin", "2026-10-23T00:00:00Z"),
            ("Australia/Lord_Howe", "2026-04-03T00:00:00Z"), ("Australia/Lord_Howe", "2026-10-02T00:00:00Z"),
            ("Asia/Shanghai", "2026-11-19T00:00:00Z"), ("UTC", "2028-02-27T00:00:00Z"),
        ]
        for (zoneName, startText) in windows {
            let tz = try zone(zoneName)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = tz
            let start = date(startText), end = start.addingTimeInterval(5 * 86_400)
            // Wall clocks every 20 seconds, with the rule that a repeated wall time counts only the first time.
            var walls: [(Date, DateComponents)] = []
            var latest: [Int] = []
            var t = start
            while t <= end {
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: t)
                let key = [c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!]
                if latest.lexicographicallyPrecedes(key) {
                    walls.append((t, c))
                    latest = key
                }
                t.addTimeInterval(20)
            }
            for spec in specs {
                let expected = walls.filter { _, c in
                    let dom = spec.days.contains(c.day!), dow = spec.weekdays.contains(c.weekday! - 1)
                    return spec.seconds.contains(c.second!) && spec.minutes.contains(c.minute!) && spec.hours.contains(c.hour!)
                        && spec.months.contains(c.month!) && (spec.either ? dom || dow : dom && dow)
                }.map(\.0)
                let c = try cron(spec.text)
                var actual: [Date] = []
                var cursor = start.addingTimeInterval(-1)
                while let next = c.next(after: cursor, in: tz), next <= end {
                    actual.append(next)
                    cursor = next
                }
                #expect(actual == expected, "\(spec.text) in \(zoneName) from \(startText)")
                #expect(!expected.isEmpty, "\(spec.text) in \(zoneName) from \(startText)")

                // Walking backwards gives the same fire times.
                var backwards: [Date] = []
                cursor = end.addingTimeInterval(1)
                while let previous = c.previous(before: cursor, in: tz), previous >= start {
                    backwards.append(previous)
                    cursor = previous
                }
                #expect(backwards.reversed() == expected, "\(spec.text) in \(zoneName) from \(startText), backwards")

                // lastFire at sample instants is the latest expected fire at or before them.
                var sample = start.addingTimeInterval(1234)
                while sample <= end {
                    let want = expected.last { $0 <= sample }
                    let got = c.lastFire(atOrBefore: sample, in: tz, within: sample.timeIntervalSince(start))
                    #expect(got == want, "\(spec.text) in \(zoneName) at \(iso(sample)!)")
                    sample.addTimeInterval(3 * 3600 + 1111)
                }
            }
        }
    }

    // MARK: - previous, lastFire and windows

    @Test func previousIsStrictlyBefore() throws {
        let c = try cron("0 50 18 * * *")
        let utc = try zone("UTC")
        #expect(iso(c.previous(before: date("2026-01-02T18:50:00Z"), in: utc)) == "2026-01-01T18:50:00Z")
        #expect(iso(c.previous(before: date("2026-01-02T18:50:00Z").addingTimeInterval(0.5), in: utc)) == "2026-01-02T18:50:00Z")
        #expect(iso(try cron("0 0 0 29 2 *").previous(before: date("2026-01-01T00:00:00Z"), in: utc)) == "2024-02-29T00:00:00Z")
        #expect(iso(try cron("0 0 0 29 2 *").previous(before: date("2104-01-01T00:00:00Z"), in: utc)) == "2096-02-29T00:00:00Z")
        #expect(iso(try cron("@yearly").previous(before: date("2026-01-01T00:00:00Z"), in: utc)) == "2025-01-01T00:00:00Z")
        #expect(iso(try cron("59 59 23 31 12 *").previous(before: date("2026-06-01T00:00:00Z"), in: utc)) == "2025-12-31T23:59:59Z")
    }

    @Test func lastFireIsAtOrBeforeAndWithin() throws {
        let c = try cron("0 50 18 * * MON-FRI")
        let shanghai = try zone("Asia/Shanghai")
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-20T10:50:00Z"), in: shanghai, within: 0)) == "2026-11-20T10:50:00Z")
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-20T10:50:00Z").addingTimeInterval(0.5), in: shanghai, within: 1)) == "2026-11-20T10:50:00Z")
        #expect(c.lastFire(atOrBefore: date("2026-11-20T10:49:59Z"), in: shanghai, within: 3600) == nil)
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-20T10:49:59Z"), in: shanghai, within: 86_400)) == "2026-11-19T10:50:00Z")
        // Saturday and Sunday: Friday's fire.
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-22T12:00:00Z"), in: shanghai, within: 3 * 86_400)) == "2026-11-20T10:50:00Z")
        #expect(c.lastFire(atOrBefore: date("2026-11-22T12:00:00Z"), in: shanghai, within: 86_400) == nil)
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-20T12:00:00Z"), in: shanghai, within: 4210)) == "2026-11-20T10:50:00Z")
        #expect(c.lastFire(atOrBefore: date("2026-11-20T12:00:00Z"), in: shanghai, within: 4199) == nil)
        #expect(c.lastFire(atOrBefore: date("2026-11-20T12:00:00Z"), in: shanghai, within: -1) == nil)
        // An every-second expression over two days is still immediate.
        let everySecond = try cron("* * * * * *")
        #expect(iso(everySecond.lastFire(atOrBefore: date("2026-11-20T12:00:00Z").addingTimeInterval(0.9), in: shanghai, within: 2 * 86_400)) == "2026-11-20T12:00:00Z")
    }

    @Test func lastFireAcrossDaylightSavingChanges() throws {
        let ny = try zone("America/New_York")
        let c = try cron("0 30 1 * * *")
        // 01:05 EST in the repeated hour: 01:30 fired 35 minutes ago, at 01:30 EDT.
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-01T06:05:00Z"), in: ny, within: 3600)) == "2026-11-01T05:30:00Z")
        #expect(c.lastFire(atOrBefore: date("2026-11-01T06:05:00Z"), in: ny, within: 1800) == nil)
        #expect(iso(c.lastFire(atOrBefore: date("2026-11-01T06:35:00Z"), in: ny, within: 86_400)) == "2026-11-01T05:30:00Z")
        // 02:30 does not exist on 2026-03-08.
        let gap = try cron("0 30 2 * * *")
        #expect(gap.lastFire(atOrBefore: date("2026-03-08T12:00:00Z"), in: ny, within: 86_400) == nil)
        #expect(iso(gap.lastFire(atOrBefore: date("2026-03-08T12:00:00Z"), in: ny, within: 2 * 86_400)) == "2026-03-07T07:30:00Z")
        #expect(iso(gap.lastFire(atOrBefore: date("2026-03-09T12:00:00Z"), in: ny, within: 86_400)) == "2026-03-09T06:30:00Z")
    }

    /// A scheduled scaling rule: `{ cron: "0 50 18 * * MON-FRI", timezone: Asia/Shanghai, duration: 7200 }`.
    @Test func scalingWindow() throws {
        let c = try cron("0 50 18 * * MON-FRI")
        let shanghai = try zone("Asia/Shanghai")
        func start(_ at: String) -> String? { iso(c.windowStart(containing: date(at), duration: 7200, in: shanghai)) }
        #expect(start("2026-11-20T10:49:59Z") == nil)
        #expect(start("2026-11-20T10:50:00Z") == "2026-11-20T10:50:00Z")
        #expect(start("2026-11-20T11:00:00Z") == "2026-11-20T10:50:00Z")
        #expect(start("2026-11-20T12:49:59Z") == "2026-11-20T10:50:00Z")
        #expect(start("2026-11-20T12:50:00Z") == nil)
        #expect(start("2026-11-21T11:00:00Z") == nil) // Saturday
        #expect(start("2026-11-23T11:00:00Z") == "2026-11-23T10:50:00Z")
        #expect(c.windowStart(containing: date("2026-11-20T11:00:00Z"), duration: 0, in: shanghai) == nil)
        // Overlapping windows: the latest start.
        let hourly = try cron("@hourly")
        #expect(iso(hourly.windowStart(containing: date("2026-11-20T10:30:00Z"), duration: 7200, in: shanghai)) == "2026-11-20T10:00:00Z")
    }

    // MARK: - Time zones

    @Test func timeZoneNames() throws {
        #expect(try zone("Asia/Shanghai").secondsFromGMT(for: date("2026-11-20T00:00:00Z")) == 8 * 3600)
        #expect(try zone("UTC").secondsFromGMT(for: date("2026-07-01T00:00:00Z")) == 0)
        #expect(try zone("GMT").secondsFromGMT(for: date("2026-07-01T00:00:00Z")) == 0)
        #expect(try zone("Europe/Berlin").secondsFromGMT(for: date("2026-07-01T00:00:00Z")) == 2 * 3600)
        #expect(try zone("America/New_York").secondsFromGMT(for: date("2026-01-01T00:00:00Z")) == -5 * 3600)
        #expect(try zone("Asia/Kolkata").secondsFromGMT(for: date("2026-01-01T00:00:00Z")) == 19_800)
        #expect(try zone("Etc/GMT-8").secondsFromGMT(for: date("2026-01-01T00:00:00Z")) == 8 * 3600)
    }

    @Test func unknownTimeZonesAreRejected() {
        let cases: [(String, String)] = [
            ("Mars/Olympus", "timezone: 'Mars/Olympus' is not a known IANA time zone name (e.g. UTC, Asia/Shanghai, Europe/Berlin)"),
            ("Asia/Shanghai ", "timezone: 'Asia/Shanghai ' is not a known IANA time zone name (e.g. UTC, Asia/Shanghai, Europe/Berlin)"),
            ("PST", "timezone: 'PST' is not a known IANA time zone name (e.g. UTC, Asia/Shanghai, Europe/Berlin)"),
            ("GMT+8", "timezone: 'GMT+8' is not a known IANA time zone name (e.g. UTC, Asia/Shanghai, Europe/Berlin)"),
            ("", "timezone: is empty (expected an IANA time zone name, e.g. UTC, Asia/Shanghai, Europe/Berlin)"),
        ]
        for (name, message) in cases {
            do {
                _ = try CronExpression.timeZone(named: name, field: "functions.tick.triggers[0].timezone")
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.message == message)
                #expect(error.field == "functions.tick.triggers[0].timezone")
                #expect(error.code == .invalidField)
            }
        }
    }
}
