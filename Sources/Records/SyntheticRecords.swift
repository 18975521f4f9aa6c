import VangnetCore

/// Synthetic, realistic-looking records for demos, tests and benchmarks.
///
/// BSNs are random nine-digit numbers that pass the elfproef (the same test a real BSN passes),
/// municipalities come from the reference list. Deterministic for a given seed.
package struct SyntheticRecords {
    private var rng: SplitMix64
    private let reference: ReferenceData
    /// The day the data describes: leaving dates fall 6 to 22 months before it, UWV periods in
    /// the 9 months up to it.
    package let today: CalendarDate

    package init(
        seed: UInt64,
        reference: ReferenceData = .embedded,
        today: CalendarDate = CalendarDate(year: 2026, month: 11, day: 23)!
    ) {
        self.rng = SplitMix64(seed: seed)
        self.reference = reference
        self.today = today
    }

    /// `YYYY-MM` of the month `n` months before `today`'s.
    private func month(_ n: Int) -> String {
        let index = today.year * 12 + (today.month - 1) - n
        let m = index % 12 + 1
        return "\(index / 12)-\(m < 10 ? "0" : "")\(m)"
    }

    /// A synthetic person: a BSN (as digits) and a municipality of residence.
    package struct Person: Sendable {
        package let bsn: String
        package let municipality: MunicipalityCode
        package let birthDate: CalendarDate

        package init(bsn: String, municipality: MunicipalityCode, birthDate: CalendarDate) {
            self.bsn = bsn
            self.municipality = municipality
            self.birthDate = birthDate
        }
    }

    /// `count` people living in `municipalities` (or anywhere, if empty), born between 1998 and 2012.
    package mutating func people(_ count: Int, in municipalities: [MunicipalityCode] = []) -> [Person] {
        let all = municipalities.isEmpty ? reference.municipalities.keys.sorted() : municipalities
        return (0..<count).map { _ in
            Person(
                bsn: bsn(),
                municipality: all[Int(rng.next() % UInt64(all.count))],
                birthDate: CalendarDate(
                    year: 1998 + Int(rng.next() % 15),
                    month: 1 + Int(rng.next() % 12),
                    day: 1 + Int(rng.next() % 28)
                )!
            )
        }
    }

    /// A random BSN that passes the elfproef.
    package mutating func bsn() -> String {
        while true {
            var digits = (0..<8).map { _ in Int(rng.next() % 10) }
            digits[0] = 1 + Int(rng.next() % 9)
            let sum = digits.enumerated().reduce(0) { $0 + $1.element * (9 - $1.offset) }
            let last = sum % 11
            guard last < 10 else { continue }
            digits.append(last)
            return digits.map(String.init).joined()
        }
    }

    /// A DUO onderwijsdeelname line for `person`; `earlyLeaver` makes an early school leaver
    /// without a starting qualification.
    package mutating func duoLine(for person: Person, earlyLeaver: Bool) -> String {
        let sort = ["vo", "mbo", "mbo", "pro", "vso"][Int(rng.next() % 5)]
        let level = ["entree", "1", "2", "3", "4"][Int(rng.next() % 5)]
        var line =
            "{\"bsn\":\"\(person.bsn)\",\"geboortedatum\":\"\(person.birthDate)\",\"gemeentecode\":\"\(person.municipality)\""
        line += ",\"brin\":\"\(10 + rng.next() % 90)\(letter())\(letter())\",\"onderwijssoort\":\"\(sort)\""
        if sort == "mbo" {
            line +=
                ",\"crebo\":\"\(25000 + rng.next() % 999)\",\"niveau\":\"\(level)\",\"leerweg\":\"\(rng.next() % 2 == 0 ? "BOL" : "BBL")\""
        }
        line += ",\"inschrijvingsdatum\":\"\(2022 + rng.next() % 3)-08-\(10 + rng.next() % 20)\""
        if earlyLeaver { line += ",\"uitschrijvingsdatum\":\"\(month(6 + Int(rng.next() % 17)))-1\(rng.next() % 10)\"" }
        line +=
            ",\"diploma\":false,\"startkwalificatie\":\(earlyLeaver ? "false" : (rng.next() % 2 == 0 ? "true" : "false")),\"vsv\":\(earlyLeaver)}"
        return line
    }

    /// A UWV inkomstenverhouding line for `person`.
    package mutating func uwvLine(for person: Person) -> String {
        let kind = ["dienstverband", "dienstverband", "WW", "Wajong", "ZW"][Int(rng.next() % 5)]
        var line =
            "{\"bsn\":\"\(person.bsn)\",\"gemeentecode\":\"\(person.municipality)\",\"periode\":\"\(month(Int(rng.next() % 9)))\",\"soort\":\"\(kind)\""
        if kind == "dienstverband" {
            line +=
                ",\"sector\":\(1 + rng.next() % 68),\"uren_per_week\":\(8 + rng.next() % 32),\"loonklasse\":\"\(["0-1000", "1000-2000", "2000-3000"][Int(rng.next() % 3)])\""
        }
        line += ",\"startdatum\":\"\(month(9 + Int(rng.next() % 3)))-01\"}"
        return line
    }

    /// The reasons an mbo institution gives for not admitting an applicant, as the dataset lists them.
    static let admissionRefusals = [
        "vooropleiding", "capaciteit", "bindend-studieadvies", "grondslag", "aanvullende-eisen", "na-aanmelddatum",
        "intake",
    ]

    /// An mbo niet-toelaatbaar line for `person`: reported by the institution of one of `brin`,
    /// applied for in the spring before `today` and decided on within three months.
    package mutating func mboLine(for person: Person, brin: [String]) -> String {
        let institution = brin[Int(rng.next() % UInt64(brin.count))]
        let level = ["entree", "2", "3", "4"][Int(rng.next() % 4)]
        let applied = CalendarDate(year: today.year, month: 2 + Int(rng.next() % 3), day: 1 + Int(rng.next() % 28))!
        let decided = min(applied.adding(days: 7 + Int(rng.next() % 80)), today)
        let reason = Self.admissionRefusals[Int(rng.next() % UInt64(Self.admissionRefusals.count))]
        return
            "{\"bsn\":\"\(person.bsn)\",\"geboortedatum\":\"\(person.birthDate)\",\"gemeentecode\":\"\(person.municipality)\""
            + ",\"brin\":\"\(institution)\",\"crebo\":\"\(25000 + rng.next() % 999)\",\"niveau\":\"\(level)\""
            + ",\"aanmelddatum\":\"\(applied)\",\"besluitdatum\":\"\(decided)\",\"reden\":\"\(reason)\"}"
    }

    private mutating func letter() -> Character { Character(Unicode.Scalar(UInt8(65 + rng.next() % 26))) }
}

/// A small, fast, seedable PRNG (SplitMix64), for reproducible synthetic data and property
/// tests. Not for secrets.
package struct SplitMix64: Sendable {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
