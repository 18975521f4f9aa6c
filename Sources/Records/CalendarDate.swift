/// A proleptic Gregorian calendar date, parsed from `YYYY-MM-DD` without Foundation.
package struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let year: Int
    package let month: Int
    package let day: Int

    package init?(year: Int, month: Int, day: Int) {
        guard (1900...2200).contains(year), (1...12).contains(month), day >= 1,
            day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// `nil` unless `text` is exactly `YYYY-MM-DD` and names a real day.
    package init?(_ text: some StringProtocol) {
        let u = Array(text.utf8)
        guard let date = u.withUnsafeBytes({ CalendarDate(ascii: $0) }) else { return nil }
        self = date
    }

    /// `nil` unless the bytes are exactly `YYYY-MM-DD` and name a real day.
    package init?(ascii u: UnsafeRawBufferPointer) {
        guard u.count == 10, u[4] == 0x2D, u[7] == 0x2D else { return nil }
        func number(_ r: Range<Int>) -> Int? {
            var n = 0
            for k in r {
                guard (0x30...0x39).contains(u[k]) else { return nil }
                n = n * 10 + Int(u[k] - 0x30)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Whole years from `self` (a birth date) to `date`.
    package func age(on date: CalendarDate) -> Int {
        var years = date.year - year
        if (date.month, date.day) < (month, day) { years -= 1 }
        return years
    }

    package static func < (a: Self, b: Self) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    package var description: String {
        func pad(_ n: Int, _ w: Int) -> String {
            String(repeating: "0", count: max(0, w - String(n).count)) + String(n)
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension CalendarDate {
    /// Days since 1970-01-01 (negative before), by the civil-from-days algorithm (H. Hinnant).
    package var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `dayNumber` days after 1970-01-01 (`nil` outside the years this type holds).
    package init?(dayNumber n: Int) {
        let z = n + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// The day `n` days later (earlier for negative `n`).
    package func adding(days n: Int) -> CalendarDate { CalendarDate(dayNumber: dayNumber + n)! }

    /// The calendar day in the Netherlands (Europe/Amsterdam: CET, and CEST from the last Sunday
    /// of March to the last Sunday of October, switching at 01:00 UTC, as the EU has since 1996)
    /// at `secondsSince1970` UTC. Plain arithmetic: the delivery index asks it for every record.
    package static func inAmsterdam(secondsSince1970 t: Double) -> CalendarDate {
        let utcDay = Int((t / 86_400).rounded(.down))
        let utc = CalendarDate(dayNumber: utcDay)!
        func lastSunday(of month: Int) -> Int {
            let last = CalendarDate(year: utc.year, month: month, day: 31)!.dayNumber
            return last - ((last + 4) % 7 + 7) % 7  // 1970-01-01 was a Thursday
        }
        let summerStart = Double(lastSunday(of: 3)) * 86_400 + 3600
        let summerEnd = Double(lastSunday(of: 10)) * 86_400 + 3600
        let offset: Double = t >= summerStart && t < summerEnd ? 7200 : 3600
        return CalendarDate(dayNumber: Int(((t + offset) / 86_400).rounded(.down)))!
    }
}
