import Records
import Testing

/// Dutch working days (docs/configuration.md, `collectWithinWorkingDays`).
@Suite struct WorkingDaysTests {
    func day(_ y: Int, _ m: Int, _ d: Int) -> CalendarDate { CalendarDate(year: y, month: m, day: d)! }

    @Test func easterFallsOnItsKnownSundays() {
        #expect(CalendarDate.easter(2024) == day(2024, 3, 31))
        #expect(CalendarDate.easter(2025) == day(2025, 4, 20))
        #expect(CalendarDate.easter(2026) == day(2026, 4, 5))
        #expect(CalendarDate.easter(2027) == day(2027, 3, 28))
        #expect(day(2026, 4, 5).weekday == 0)
    }

    @Test func nationalHolidaysAndWeekendsAreNoWorkingDays() {
        let holidays = [
            day(2026, 1, 1), day(2026, 4, 6), day(2026, 4, 27), day(2026, 5, 14), day(2026, 5, 25),
            day(2026, 12, 25), day(2025, 4, 26),  // 2025: Koningsdag on Saturday the 26th (the 27th a Sunday)
        ]
        for holiday in holidays { #expect(!holiday.isDutchWorkingDay, "\(holiday)") }
        #expect(!day(2026, 11, 28).isDutchWorkingDay && !day(2026, 11, 29).isDutchWorkingDay)
        #expect(day(2026, 4, 3).isDutchWorkingDay, "Goede Vrijdag is a working day here")
        #expect(day(2026, 5, 5).isDutchWorkingDay, "Bevrijdingsdag is a working day here")
        #expect(day(2026, 11, 23).isDutchWorkingDay)
    }

    @Test func fiveWorkingDaysBackSkipWeekendsAndHolidays() {
        // Tuesday 1 December 2026: Monday 30, Friday 27, Thursday 26, Wednesday 25, Tuesday 24 November.
        #expect(day(2026, 12, 1).workingDays(before: 5) == day(2026, 11, 24))
        // Friday 1 January 2027 and the weekend skipped: Thursday 7 January 2027 back to Wednesday 30 December.
        #expect(day(2027, 1, 7).workingDays(before: 5) == day(2026, 12, 30))
        // Over Easter 2026 (Monday 6 April): Friday 10 April back to Thursday 2 April.
        #expect(day(2026, 4, 10).workingDays(before: 5) == day(2026, 4, 2))
    }

    @Test func aDayStartsAtMidnightInTheNetherlands() {
        // Winter (CET, UTC+1) and summer (CEST, UTC+2), and both days of the switches.
        #expect(day(2026, 1, 15).startInAmsterdam == Double(day(2026, 1, 15).dayNumber) * 86_400 - 3600)
        #expect(day(2026, 7, 15).startInAmsterdam == Double(day(2026, 7, 15).dayNumber) * 86_400 - 7200)
        #expect(day(2026, 3, 29).startInAmsterdam == Double(day(2026, 3, 29).dayNumber) * 86_400 - 3600)
        #expect(day(2026, 3, 30).startInAmsterdam == Double(day(2026, 3, 30).dayNumber) * 86_400 - 7200)
        #expect(day(2026, 10, 25).startInAmsterdam == Double(day(2026, 10, 25).dayNumber) * 86_400 - 7200)
        #expect(day(2026, 10, 26).startInAmsterdam == Double(day(2026, 10, 26).dayNumber) * 86_400 - 3600)
        for d in [day(2026, 3, 30), day(2026, 10, 26), day(2026, 1, 15)] {
            #expect(CalendarDate.inAmsterdam(secondsSince1970: d.startInAmsterdam) == d)
            #expect(CalendarDate.inAmsterdam(secondsSince1970: d.startInAmsterdam - 1) == d.adding(days: -1))
        }
    }
}
