import Foundation
import Records
import Testing
import VangnetCore

/// Synthetic BSNs only: each passes the elfproef and belongs to no one we know of.
let validBSN = "123456782"

func duoLine(_ overrides: [String: String] = [:], removing: Set<String> = []) -> String {
    var fields: [String: String] = [
        "bsn": "\"\(validBSN)\"", "geboortedatum": "\"2008-03-14\"", "gemeentecode": "\"GM0344\"", "brin": "\"12AB\"",
        "onderwijssoort": "\"mbo\"", "crebo": "\"25180\"", "niveau": "\"2\"", "leerweg": "\"BOL\"",
        "inschrijvingsdatum": "\"2024-08-20\"", "uitschrijvingsdatum": "\"2025-03-01\"", "startkwalificatie": "false",
        "vsv": "true",
    ]
    for (k, v) in overrides { fields[k] = v }
    return "{"
        + fields.filter { !removing.contains($0.key) }.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
        .joined(separator: ",") + "}"
}

@Suite struct BSNTests {
    @Test(arguments: ["123456782", "111222333", "999999990"])
    func elfproefAcceptsValidNumbers(_ text: String) {
        #expect(BSN(text) != nil)
    }

    @Test(arguments: ["123456789", "12345678", "1234567820", "12345678a", "000000000", ""])
    func elfproefRejectsInvalidNumbers(_ text: String) {
        #expect(BSN(text) == nil)
    }

    @Test func bsnNeverPrints() {
        let bsn = BSN(validBSN)!
        // Computed apart, so that a failure does not print the description it checks.
        let printed = String(describing: bsn).contains(validBSN)
        let reflected = String(reflecting: bsn).contains(validBSN)
        #expect(!printed && !reflected, "the BSN's description shows its digits")
    }
}

@Suite struct RecordValidatorTests {
    let validator = RecordValidator(schema: .duoOnderwijsdeelname)

    func rejection(_ line: String) -> RecordRejection? {
        if case .failure(let r) = validator.validate(line: line, number: 7) { return r }
        return nil
    }

    @Test func validRecordIsAccepted() throws {
        let record = try validator.validate(line: duoLine(), number: 1).get()
        #expect(record.municipality == MunicipalityCode("GM0344"))
        #expect(record.fields["vsv"] == .boolean(true))
        #expect(record.fields["bsn"] == nil, "the BSN is kept apart from the other fields")
    }

    @Test func optionalFieldsMayBeAbsentOrNull() throws {
        _ = try validator.validate(
            line: duoLine(["crebo": "null"], removing: ["niveau", "leerweg", "uitschrijvingsdatum"]),
            number: 1
        ).get()
    }

    @Test(arguments: [
        (duoLine(["bsn": "\"123456789\""]), RecordRejection.Reason.invalidBSN, String?("bsn")),
        (duoLine(["bsn": "123456782"]), .invalidType, "bsn"),
        (duoLine(["bsn": "true"]), .invalidType, "bsn"),
        (duoLine(["bsn": "\"12345678\\u0032\""]), .invalidBSN, "bsn"),
        (duoLine(["gemeentecode": "\"GM9999\""]), .unknownMunicipality, "gemeentecode"),
        (duoLine(["gemeentecode": "\"Utrecht\""]), .invalidMunicipalityCode, "gemeentecode"),
        (duoLine(["geboortedatum": "\"2008-02-30\""]), .invalidDate, "geboortedatum"),
        (duoLine(["geboortedatum": "\"14-03-2008\""]), .invalidDate, "geboortedatum"),
        (duoLine(["onderwijssoort": "\"hbo\""]), .invalidValue, "onderwijssoort"),
        (duoLine(["vsv": "\"ja\""]), .invalidType, "vsv"),
        (duoLine(["brin": "\"12-B\""]), .invalidValue, "brin"),
        (duoLine(["naam": "\"Jan\""]), .unknownField, nil),
        (duoLine(removing: ["gemeentecode"]), .missingField, "gemeentecode"),
        (duoLine(removing: ["bsn"]), .missingField, "bsn"),
        (duoLine(["vsv": "null"]), .missingField, "vsv"),
        (duoLine(["gemeentecode": "\"GM\\u00303344\""]), .invalidValue, "gemeentecode"),
        (duoLine(["uitschrijvingsdatum": "20250301"]), .invalidType, "uitschrijvingsdatum"),
    ])
    func invalidFieldIsRejectedWithItsReason(line: String, reason: RecordRejection.Reason, field: String?) {
        let r = rejection(line)
        #expect(r == RecordRejection(line: 7, reason: reason, field: field))
    }

    @Test(arguments: [
        "", "{", "[1,2]", "{\"bsn\":{\"nested\":1}}", "{\"bsn\":\"123456782\",\"bsn\":\"123456782\"}",
        "{\"a\":1} trailing", "not json",
    ])
    func malformedLineIsRejectedAsInvalidJSON(_ line: String) {
        #expect(rejection(line)?.reason == .invalidJSON)
    }

    /// Numbers as RFC 8259 writes them; an integer field takes any whose value is whole, and
    /// stores it as plain digits.
    @Test(arguments: [
        ("12", 12), ("1e1", 10), ("1E+1", 10), ("100e-1", 10), ("10.0", 10), ("1.2e1", 12), ("0.99e2", 99),
    ])
    func anIntegerFieldTakesAnyJSONNumberWhoseValueIsWhole(written: String, value: Int) throws {
        let uwv = RecordValidator(schema: .uwvInkomstenverhoudingen)
        let line =
            #"{"bsn":"123456782","gemeentecode":"GM0344","periode":"2026-10","soort":"WW","sector":"#
            + written + #","startdatum":"2026-01-01"}"#
        let record = try uwv.validate(line: line, number: 1).get()
        #expect(record.fields["sector"] == .integer(value))
    }

    @Test(arguments: [
        ("10.5", RecordRejection.Reason.invalidType), ("1e400", .invalidType), ("1.5e0", .invalidType),
        ("0e5", .invalidValue), ("-0", .invalidValue), ("100", .invalidValue), ("\"12\"", .invalidType),
        ("07", .invalidJSON), ("-07", .invalidJSON), ("1.", .invalidJSON), (".5", .invalidJSON), ("1e", .invalidJSON),
        ("1e+", .invalidJSON), ("+1", .invalidJSON), ("0x10", .invalidJSON), ("1_0", .invalidJSON),
    ])
    func aNumberThatIsNotJSONOrNotAWholeNumberInRangeIsRejected(written: String, reason: RecordRejection.Reason) {
        let uwv = RecordValidator(schema: .uwvInkomstenverhoudingen)
        let line =
            #"{"bsn":"123456782","gemeentecode":"GM0344","periode":"2026-10","soort":"WW","sector":"#
            + written + #","startdatum":"2026-01-01"}"#
        let rejected: RecordRejection.Reason? =
            if case .failure(let r) = uwv.validate(line: line, number: 1) { r.reason } else { nil }
        #expect(rejected == reason)
    }

    @Test func aLineEndingInCRIsTheSameRecord() throws {
        let crlf = try validator.validate(line: duoLine() + "\r", number: 1).get()
        let lf = try validator.validate(line: duoLine(), number: 1).get()
        #expect(crlf.fields == lf.fields)
    }

    @Test func aByteOrderMarkIsNotJSON() {
        #expect(rejection("\u{FEFF}" + duoLine())?.reason == .invalidJSON)
    }

    @Test func bytesThatAreNotUTF8AreRejectedByTheFieldTheyAreIn() {
        var bytes = Array(duoLine(["onderwijssoort": "\"mbX\""]).utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "X"))!
        bytes[at] = 0xFF
        let rejected: RecordRejection? =
            if case .failure(let r) = bytes.withUnsafeBytes({ validator.validate(line: $0, number: 7) }) { r } else {
                nil
            }
        #expect(rejected == RecordRejection(line: 7, reason: .invalidValue, field: "onderwijssoort"))
    }

    /// One reason per record: the first faulty field in the line's own order, then a missing one.
    @Test func theFirstFaultInTheLinesOrderIsTheReason() {
        let line =
            #"{"vsv":"ja","bsn":"123456789","geboortedatum":"2008-03-14","gemeentecode":"GM0344","brin":"12AB","#
            + #""onderwijssoort":"mbo","inschrijvingsdatum":"2024-08-20"}"#
        #expect(rejection(line) == RecordRejection(line: 7, reason: .invalidType, field: "vsv"))
        let bsnFirst = line.replacingOccurrences(of: #""vsv":"ja","#, with: "").replacingOccurrences(
            of: "}",
            with: #","vsv":"ja"}"#
        )
        #expect(rejection(bsnFirst) == RecordRejection(line: 7, reason: .invalidBSN, field: "bsn"))
        let onlyMissing = duoLine(removing: ["vsv"])
        #expect(rejection(onlyMissing) == RecordRejection(line: 7, reason: .missingField, field: "vsv"))
        let missingAndFaulty = duoLine(["brin": "\"1-2\""], removing: ["vsv"])
        #expect(rejection(missingAndFaulty) == RecordRejection(line: 7, reason: .invalidValue, field: "brin"))
    }

    @Test func oversizedRecordIsRejected() {
        let small = RecordValidator(schema: .duoOnderwijsdeelname, maxRecordBytes: 64)
        if case .failure(let r) = small.validate(line: duoLine(), number: 3) {
            #expect(r.reason == .recordTooLarge)
        } else {
            Issue.record("accepted")
        }
    }

    @Test func rejectionNeverQuotesTheValue() {
        let r = rejection(duoLine(["bsn": "\"123456789\""]))
        #expect(r != nil)
        #expect(!String(describing: r!).contains("123456789"))
    }

    @Test func rejectionNeverQuotesAnUnknownKey() {
        // A BSN given as a key must not come back in the receipt.
        let r = rejection(#"{"123456782":"x"}"#)
        #expect(r?.reason == .unknownField)
        let named = String(describing: r!).contains("123456782")  // computed apart: a failure must not print it
        #expect(!named, "the rejection names the unknown key")
    }
}

@Suite struct LineSplitterTests {
    func lines(_ chunks: [String], max: Int = 100) -> [String] {
        var splitter = LineSplitter(maxLineBytes: max)
        var out: [String] = []
        func drain() {
            while let line = splitter.next() {
                switch line {
                case .line(let bytes, let n): out.append("\(n):" + String(decoding: bytes, as: UTF8.self))
                case .oversized(let n): out.append("\(n):oversized")
                }
            }
        }
        for chunk in chunks {
            splitter.feed(Array(chunk.utf8))
            drain()
        }
        splitter.finish()
        drain()
        return out
    }

    @Test func linesAreReassembledAcrossChunks() {
        #expect(lines(["ab", "c\nde", "f\n\ng", "h"]) == ["1:abc", "2:def", "4:gh"])
    }

    @Test func blankLinesAreNoRecordsButKeepTheirNumbers() {
        #expect(lines(["a\n  \n\t\r\n", "\r\nb\n \t"]) == ["1:a", "5:b"])
    }

    @Test func oversizedLineIsReportedNotBuffered() {
        #expect(lines(["aaaa", "aaaa\nb\n"], max: 5) == ["1:oversized", "2:b"])
        #expect(lines(["aaaaaa\n", "b"], max: 5) == ["1:oversized", "2:b"], "oversized within one chunk")
        #expect(lines(["b\naaa", "aaa", "aaa"], max: 5) == ["1:b", "2:oversized"], "oversized at the end")
        #expect(lines(["aaaaa\n"], max: 5) == ["1:aaaaa"], "exactly the limit is a line")
    }

    @Test func aLineIsTheSameWhereverTheChunksAreCut() {
        let text = "first\n\nsecond line\nthird\n\n\nlast"
        let whole = lines([text])
        #expect(whole == ["1:first", "3:second line", "4:third", "7:last"])
        for size in 1...text.utf8.count {
            let bytes = Array(text.utf8)
            let chunks = stride(from: 0, to: bytes.count, by: size).map {
                String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self)
            }
            #expect(lines(chunks) == whole, "cut every \(size) bytes")
        }
    }

    @Test func nothingAfterTheLastNewlineIsNoLine() {
        #expect(lines(["a\n", "b\n"]) == ["1:a", "2:b"])
        #expect(lines([]) == [])
        #expect(lines(["\n\n"]) == [])
    }
}

@Suite struct CalendarDateTests {
    @Test func ageCountsWholeYears() {
        let birth = CalendarDate("2008-03-14")!
        #expect(birth.age(on: CalendarDate("2026-03-13")!) == 17)
        #expect(birth.age(on: CalendarDate("2026-03-14")!) == 18)
    }

    @Test(arguments: ["2024-02-29", "2000-02-29"]) func leapDaysExist(_ s: String) { #expect(CalendarDate(s) != nil) }
    @Test(arguments: ["2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-1-10"])
    func impossibleDatesAreRefused(_ s: String) { #expect(CalendarDate(s) == nil) }
}

@Suite struct ReferenceDataTests {
    @Test func everyMunicipalityIsInExactlyOneOfFortyRegions() {
        let reference = ReferenceData.embedded
        #expect(reference.municipalities.count == 342)
        #expect(reference.regions.count == 40)
        do {
            let actual = reference.regions.values.reduce(0) { $0 + $1.municipalities.count }
            #expect(actual == 342)
        }
        #expect(reference.region(of: MunicipalityCode("GM0344")!) == RegionNumber(19))
        #expect(reference.region(of: MunicipalityCode("GM0363")!) == RegionNumber(21))
    }
}

@Suite struct SyntheticRecordsTests {
    @Test func syntheticRecordsAreValidAndBSNsPassTheElfproef() {
        var synth = SyntheticRecords(seed: 7)
        let people = synth.people(200)
        let duo = RecordValidator(schema: .duoOnderwijsdeelname)
        let uwv = RecordValidator(schema: .uwvInkomstenverhoudingen)
        for (i, person) in people.enumerated() {
            #expect(BSN(person.bsn) != nil)
            #expect(
                (try? duo.validate(line: synth.duoLine(for: person, earlyLeaver: i % 2 == 0), number: i).get()) != nil
            )
            #expect((try? uwv.validate(line: synth.uwvLine(for: person), number: i).get()) != nil)
        }
    }

    /// Synthetic mbo reports are valid for the institution whose BRIN numbers they were made for,
    /// on the day the data describes, and name only those numbers.
    @Test func syntheticMboReportsAreValidForTheirInstitution() {
        var synth = SyntheticRecords(seed: 11)
        let today = synth.today
        let own = RecordValidator(schema: .mboNietToelaatbaar, createdOn: today, institutions: ["92MB", "93MB"])
        let other = RecordValidator(schema: .mboNietToelaatbaar, createdOn: today, institutions: ["91MB"])
        var valid = 0
        var mismatched = 0
        var reasons: Set<String> = []
        for (i, person) in synth.people(300).enumerated() {
            let line = synth.mboLine(for: person, brin: ["92MB", "93MB"])
            if let record = try? own.validate(line: line, number: i).get() {
                valid += 1
                if case .text(let reason)? = FlatJSON.decodeFields(record.storedFields)["reden"] {
                    reasons.insert(reason)
                }
            }
            if case .failure(let rejection) = other.validate(line: line, number: i),
                rejection.reason == .institutionMismatch
            {
                mismatched += 1
            }
        }
        #expect(valid == 300)
        #expect(mismatched == 300)
        #expect(reasons.count == 7, "every reason occurs")
    }
}

/// Record identity and the lines of a batch of changes (docs/envelope.md, "Records and their identity").
@Suite struct IdentityAndWithdrawalTests {
    let validator = RecordValidator(schema: .duoOnderwijsdeelname)

    func identity(_ line: String) throws -> [UInt8] { try validator.validate(line: line, number: 1).get().identity }

    @Test func theKeyFieldsInSchemaOrderAreTheIdentityWhateverTheOrderOfTheLine() throws {
        let a = try identity(duoLine())
        let reordered =
            #"{"vsv":true,"startkwalificatie":false,"inschrijvingsdatum":"2024-08-20","brin":"12AB","onderwijssoort":"mbo","gemeentecode":"GM0344","geboortedatum":"2008-03-14","bsn":"123456782"}"#
        #expect(try identity(reordered) == a)
        #expect(a == Array("12AB\u{0}2024-08-20\u{0}".utf8))
        #expect(
            try identity(duoLine(["niveau": "\"4\"", "vsv": "false"])) == a,
            "other fields change the record, not its identity"
        )
        #expect(try identity(duoLine(["inschrijvingsdatum": "\"2024-08-21\""])) != a)
        // The same bytes from the stored fields (what a migration or a rebuild uses).
        let stored = try validator.validate(line: duoLine(), number: 1).get()
        #expect(DatasetSchema.duoOnderwijsdeelname.identity(of: stored.fields) == a)
        #expect(DatasetSchema.duoOnderwijsdeelname.keyFields == ["brin", "inschrijvingsdatum"])
        #expect(DatasetSchema.uwvInkomstenverhoudingen.keyFields == ["periode", "soort", "startdatum"])
    }

    @Test func aWithdrawalNamesTheRecordByItsKeyAndCarriesNothingElse() throws {
        let line = #"{"bsn":"123456782","brin":"12AB","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#
        guard case .success(.withdrawal(let withdrawal)) = validator.validateChange(line: line, number: 3) else {
            Issue.record("a withdrawal was not accepted")
            return
        }
        #expect(withdrawal.identity == (try identity(duoLine())) && withdrawal.line == 3)
        // In a batch of changes a record line is a record.
        guard case .success(.record) = validator.validateChange(line: duoLine(), number: 1) else {
            Issue.record("a record was refused")
            return
        }
    }

    @Test(arguments: [
        (
            #"{"bsn":"123456782","brin":"12AB","inschrijvingsdatum":"2024-08-20","vsv":true,"withdrawn":true}"#,
            RecordRejection.Reason.withdrawalWithFields, "vsv"
        ),
        (#"{"bsn":"123456782","brin":"12AB","withdrawn":true}"#, .missingField, "inschrijvingsdatum"),
        (#"{"brin":"12AB","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#, .missingField, "bsn"),
        (
            #"{"bsn":"123456782","brin":"12AB","inschrijvingsdatum":"2024-08-20","withdrawn":false}"#, .invalidValue,
            "withdrawn"
        ),
        (#"{"bsn":"123456789","brin":"12AB","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#, .invalidBSN, "bsn"),
    ])
    func aWithdrawalThatIsNotExactlyOneIsRejected(line: String, reason: RecordRejection.Reason, field: String) {
        guard case .failure(let rejection) = validator.validateChange(line: line, number: 1) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.reason == reason && rejection.field == field)
    }

    @Test func aCompletePictureHoldsNoWithdrawal() {
        let line = #"{"bsn":"123456782","brin":"12AB","inschrijvingsdatum":"2024-08-20","withdrawn":true}"#
        guard case .failure(let rejection) = validator.validate(line: line, number: 1) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.reason == .withdrawalNotAllowed && rejection.field == "withdrawn")
    }
}

/// The calendar arithmetic the delivery index uses for every record, against Foundation's.
@Suite struct CalendarArithmeticTests {
    @Test func dayNumbersRoundTripAndAgreeWithFoundation() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        for n in stride(from: -25_000, through: 80_000, by: 37) {
            let date = try #require(CalendarDate(dayNumber: n))
            #expect(date.dayNumber == n)
            let c = calendar.dateComponents(
                [.year, .month, .day],
                from: Date(timeIntervalSince1970: Double(n) * 86_400)
            )
            #expect((date.year, date.month, date.day) == (c.year!, c.month!, c.day!))
        }
        #expect(CalendarDate("2024-02-28")!.adding(days: 1) == CalendarDate("2024-02-29")!)
        #expect(CalendarDate("2026-12-31")!.adding(days: 1) == CalendarDate("2027-01-01")!)
    }

    @Test func theDayInAmsterdamIsFoundationsAcrossEverySummerTimeSwitch() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "Europe/Amsterdam"))
        // Every 20 minutes around each switch and midnight, and every 7 hours over 30 years.
        var instants: [Double] = []
        for year in 1997...2040 {
            for (month, day) in [(3, 31), (10, 31)] {
                let last = CalendarDate(year: year, month: month, day: day)!.dayNumber
                let sunday = last - ((last + 4) % 7 + 7) % 7
                instants += stride(
                    from: Double(sunday) * 86_400 - 6 * 3600,
                    through: Double(sunday) * 86_400 + 30 * 3600,
                    by: 1200
                ).map { $0 }
            }
        }
        instants += stride(from: 852_076_800.0, through: 1_800_000_000, by: 25_200).map { $0 }
        for t in instants {
            let ours = CalendarDate.inAmsterdam(secondsSince1970: t)
            let c = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: t))
            #expect((ours.year, ours.month, ours.day) == (c.year!, c.month!, c.day!), "at \(t)")
        }
    }
}
