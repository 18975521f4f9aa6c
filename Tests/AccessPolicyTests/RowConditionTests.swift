import AccessPolicy
import Foundation
import Records
import Testing
import VangnetCore

/// Property tests: random records and random reference dates, each condition checked against an
/// oracle written differently from the implementation (date arithmetic on yyyymmdd integers).
@Suite struct RowConditionTests {
    /// Random values from a seeded generator, so a failure can be replayed from its seed.
    struct Generator {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(seed: state) }
        mutating func next() -> UInt64 { random.next() }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func bool() -> Bool { next() & 1 == 1 }
        mutating func date(years: ClosedRange<Int>) -> CalendarDate {
            let year = int(years)
            let month = int(1...12)
            let days = [
                31, (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                31,
            ][month - 1]
            return CalendarDate(year: year, month: month, day: int(1...days))!
        }
    }

    static func key(_ d: CalendarDate) -> Int { d.year * 10_000 + d.month * 100 + d.day }
    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Whole years: the yyyymmdd difference divided by 10,000.
    static func oracleAge(_ birth: CalendarDate, _ ref: CalendarDate) -> Int { floorDiv(key(ref) - key(birth), 10_000) }

    /// Whole months: the difference of (months since year 0) * 100 + day, divided by 100.
    static func oracleMonths(_ start: CalendarDate, _ ref: CalendarDate) -> Int {
        floorDiv(
            ((ref.year * 12 + ref.month) * 100 + ref.day) - ((start.year * 12 + start.month) * 100 + start.day),
            100
        )
    }

    static let sorts = ["vo", "vso", "pro", "mbo"]
    static let levels = ["entree", "1", "2", "3", "4"]

    func randomRecord(
        _ g: inout Generator
    ) -> (
        fields: [String: FieldValue], birth: CalendarDate?, left: CalendarDate?, sort: String?, level: String?,
        vsv: Bool?
    ) {
        var fields: [String: FieldValue] = [:]
        let birth = g.int(0...9) == 0 ? nil : g.date(years: 1990...2020)
        let left = g.int(0...4) == 0 ? nil : g.date(years: 2018...2027)
        let sort = g.int(0...9) == 0 ? nil : Self.sorts[g.int(0...3)]
        let level = g.bool() ? nil : Self.levels[g.int(0...4)]
        let vsv = g.int(0...9) == 0 ? nil : g.bool()
        if let birth { fields["geboortedatum"] = .text(birth.description) }
        if let left { fields["uitschrijvingsdatum"] = .text(left.description) }
        if let sort { fields["onderwijssoort"] = .text(sort) }
        if let level { fields["niveau"] = .text(level) }
        if let vsv { fields["vsv"] = .boolean(vsv) }
        return (fields, birth, left, sort, level, vsv)
    }

    @Test func ageBoundsMatchTheOracle() {
        var g = Generator(state: 1)
        for _ in 0..<20_000 {
            let r = randomRecord(&g)
            let ref = g.date(years: 2020...2035)
            let low = g.bool() ? g.int(0...20) : nil
            let high = g.bool() ? g.int(10...30) : nil
            let condition = RowCondition.age(field: "geboortedatum", atLeast: low, atMost: high)
            let expected =
                r.birth.map { b in
                    let age = Self.oracleAge(b, ref)
                    return (low == nil || age >= low!) && (high == nil || age <= high!)
                } ?? false
            #expect(
                condition.holds(for: r.fields, on: ref) == expected,
                "age \(low.map(String.init) ?? "-")...\(high.map(String.init) ?? "-"), born \(r.birth?.description ?? "-"), reference \(ref)"
            )
        }
    }

    @Test func monthBoundsMatchTheOracle() {
        var g = Generator(state: 2)
        for _ in 0..<20_000 {
            let r = randomRecord(&g)
            let ref = g.date(years: 2019...2028)
            let low = g.bool() ? g.int(-3...24) : nil
            let high = g.bool() ? g.int(0...36) : nil
            let condition = RowCondition.monthsAgo(field: "uitschrijvingsdatum", atLeast: low, atMost: high)
            let expected =
                r.left.map { d in
                    let months = Self.oracleMonths(d, ref)
                    return (low == nil || months >= low!) && (high == nil || months <= high!)
                } ?? false
            #expect(
                condition.holds(for: r.fields, on: ref) == expected,
                "months \(low.map(String.init) ?? "-")...\(high.map(String.init) ?? "-"), left \(r.left?.description ?? "-"), reference \(ref)"
            )
        }
    }

    @Test func monthFieldsCountFromTheFirstOfTheMonth() {
        var g = Generator(state: 3)
        for _ in 0..<5_000 {
            let month = g.date(years: 2020...2027)
            let ref = g.date(years: 2020...2028)
            let first = CalendarDate(year: month.year, month: month.month, day: 1)!
            let text = String(first.description.prefix(7))
            let n = Self.oracleMonths(first, ref)
            #expect(
                RowCondition.monthsAgo(field: "periode", atLeast: n, atMost: n).holds(
                    for: ["periode": .text(text)],
                    on: ref
                )
            )
            #expect(
                !RowCondition.monthsAgo(field: "periode", atLeast: n + 1, atMost: nil).holds(
                    for: ["periode": .text(text)],
                    on: ref
                )
            )
        }
    }

    @Test func equalsOneOfAndAnyOfMatchTheOracle() {
        var g = Generator(state: 4)
        let kwetsbaar = RowCondition.anyOf([
            .oneOf(field: "onderwijssoort", values: ["pro", "vso"]), .equals(field: "niveau", value: .text("entree")),
        ])
        for _ in 0..<20_000 {
            let r = randomRecord(&g)
            let ref = g.date(years: 2020...2030)
            #expect(
                RowCondition.equals(field: "vsv", value: .boolean(true)).holds(for: r.fields, on: ref)
                    == (r.vsv == true)
            )
            #expect(
                RowCondition.equals(field: "vsv", value: .boolean(false)).holds(for: r.fields, on: ref)
                    == (r.vsv == false)
            )
            #expect(
                RowCondition.equals(field: "vsv", value: .text("true")).holds(for: r.fields, on: ref) == false,
                "types never coerce"
            )
            #expect(
                kwetsbaar.holds(for: r.fields, on: ref) == (r.sort == "pro" || r.sort == "vso" || r.level == "entree")
            )
        }
    }

    @Test func theDefaultPurposesSelectWhatTheirNamesSay() {
        var g = Generator(state: 5)
        for _ in 0..<20_000 {
            let r = randomRecord(&g)
            let ref = g.date(years: 2024...2030)
            let age = r.birth.map { Self.oracleAge($0, ref) }
            let inAgeRange = age.map { (12...26).contains($0) } ?? false
            var fields = r.fields
            let qualified = g.bool()
            fields["startkwalificatie"] = .boolean(qualified)
            let vsvPopulation = PolicyDocument.Purpose.vsvOpvolging.population.allSatisfy {
                $0.holds(for: fields, on: ref)
            }
            #expect(vsvPopulation == (r.vsv == true && !qualified && inAgeRange))
            let kwetsbaar = PolicyDocument.Purpose.kwetsbareJongeren.population.allSatisfy {
                $0.holds(for: fields, on: ref)
            }
            #expect(kwetsbaar == ((r.sort == "pro" || r.sort == "vso" || r.level == "entree") && inAgeRange))
            let yearLater = PolicyDocument.Purpose.vsvEenJaarLater.population.allSatisfy {
                $0.holds(for: fields, on: ref)
            }
            let monthsSinceLeaving = r.left.map { Self.oracleMonths($0, ref) }
            do {
                let expected = (vsvPopulation && monthsSinceLeaving.map { (12...23).contains($0) } == true)
                #expect(yearLater == expected)
            }
        }
    }

    @Test func referenceDayIsTheMostRecentPeildatum() throws {
        var g = Generator(state: 6)
        let peildatum = ReferenceDay.annual(month: 10, day: 1)
        for _ in 0..<5_000 {
            let today = g.date(years: 2020...2030)
            let ref = peildatum.date(on: today)
            #expect(ref.month == 10 && ref.day == 1)
            #expect(ref <= today)
            #expect(
                CalendarDate(year: ref.year + 1, month: 10, day: 1)! > today,
                "the most recent one, not an older one"
            )
            #expect(ReferenceDay.today.date(on: today) == today)
        }
        #expect(
            ReferenceDay.annual(month: 2, day: 29).date(on: CalendarDate("2026-03-05")!) == CalendarDate("2026-02-28")
        )
    }

    @Test func conditionsDecodeFromTheirJSONFormsAndRefuseAmbiguity() throws {
        func decode(_ json: String) throws -> RowCondition {
            try JSONDecoder().decode(RowCondition.self, from: Data(json.utf8))
        }
        #expect(try decode(#"{"field":"vsv","equals":true}"#) == .equals(field: "vsv", value: .boolean(true)))
        #expect(
            try decode(#"{"field":"niveau","equals":"entree"}"#) == .equals(field: "niveau", value: .text("entree"))
        )
        #expect(
            try decode(#"{"field":"geboortedatum","ageAtMost":26}"#)
                == .age(field: "geboortedatum", atLeast: nil, atMost: 26)
        )
        #expect(
            try decode(#"{"field":"periode","monthsAgoAtLeast":0,"monthsAgoAtMost":2}"#)
                == .monthsAgo(field: "periode", atLeast: 0, atMost: 2)
        )
        #expect(
            try decode(#"{"anyOf":[{"field":"vsv","equals":true},{"field":"niveau","oneOf":["1"]}]}"#)
                == .anyOf([.equals(field: "vsv", value: .boolean(true)), .oneOf(field: "niveau", values: ["1"])])
        )
        #expect(throws: DecodingError.self) { try decode(#"{"field":"vsv","equals":true,"oneOf":["x"]}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"field":"vsv"}"#) }
        for condition in PolicyDocument.Purpose.defaults.flatMap(\.population) {
            #expect(
                try decode(String(decoding: JSONEncoder().encode(condition), as: UTF8.self)) == condition,
                "round trip of \(condition)"
            )
        }
    }
}
