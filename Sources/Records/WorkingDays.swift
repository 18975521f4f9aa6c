/// Working days in the Netherlands: Monday to Friday, except the national holidays on which work
/// generally stops (Nieuwjaarsdag, Tweede Paasdag, Koningsdag, Hemelvaartsdag, Tweede
/// Pinksterdag, Eerste and Tweede Kerstdag). Goede Vrijdag and Bevrijdingsdag are holidays by law
/// but working days for most employers, and count as working days here.
extension CalendarDate {
    /// 0 Sunday, 1 Monday, ..., 6 Saturday.
    package var weekday: Int { ((dayNumber + 4) % 7 + 7) % 7 }  // 1970-01-01 was a Thursday

    /// Easter Sunday of `year` (the anonymous Gregorian algorithm).
    package static func easter(_ year: Int) -> CalendarDate {
        let a = year % 19
        let b = year / 100
        let c = year % 100
        let d = b / 4
        let e = b % 4
        let f = (b + 8) / 25
        let g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30
        let i = c / 4
        let k = c % 4
        let l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        let month = (h + l - 7 * m + 114) / 31
        let day = (h + l - 7 * m + 114) % 31 + 1
        return CalendarDate(year: year, month: month, day: day)!
    }

    /// Whether this is a national holiday on which work generally stops.
    package var isDutchHoliday: Bool {
        switch (month, day) {
        case (1, 1), (12, 25), (12, 26): return true
        // Koningsdag: 27 April, or the 26th when the 27th is a Sunday.
        case (4, 27): return weekday != 0
        case (4, 26): return weekday == 6
        default: break
        }
        let easter = Self.easter(year).dayNumber
        // Tweede Paasdag, Hemelvaartsdag, Tweede Pinksterdag.
        return [easter + 1, easter + 39, easter + 50].contains(dayNumber)
    }

    /// Monday to Friday and not a national holiday.
    package var isDutchWorkingDay: Bool { weekday != 0 && weekday != 6 && !isDutchHoliday }

    /// The working day `n` (at least 1) working days before this day, not counting this day.
    package func workingDays(before n: Int) -> CalendarDate {
        var day = self
        var counted = 0
        while counted < n {
            day = day.adding(days: -1)
            if day.isDutchWorkingDay { counted += 1 }
        }
        return day
    }

    /// The instant this day begins in the Netherlands (Europe/Amsterdam: midnight CET, or CEST
    /// from the day after the last Sunday of March to the last Sunday of October), in seconds
    /// since 1970 UTC.
    package var startInAmsterdam: Double {
        func lastSunday(of month: Int) -> Int {
            let last = CalendarDate(year: year, month: month, day: 31)!.dayNumber
            return last - ((last + 4) % 7 + 7) % 7
        }
        let summer = dayNumber > lastSunday(of: 3) && dayNumber <= lastSunday(of: 10)
        return Double(dayNumber) * 86_400 - (summer ? 7200 : 3600)
    }
}
