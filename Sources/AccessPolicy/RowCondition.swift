import Foundation
import Records
import VangnetCore

/// A condition a record must meet to be delivered (or to place its person in a population).
///
/// In the policy file each condition is one JSON object:
///
/// | JSON | holds when |
/// |---|---|
/// | `{"field": "vsv", "equals": true}` | the field has this value (string, boolean or integer) |
/// | `{"field": "onderwijssoort", "oneOf": ["pro", "vso"]}` | the field is one of these strings |
/// | `{"field": "geboortedatum", "ageAtLeast": 12, "ageAtMost": 26}` | the whole years from the date to the reference date lie in the range (either bound may be left out) |
/// | `{"field": "uitschrijvingsdatum", "monthsAgoAtLeast": 12, "monthsAgoAtMost": 24}` | the whole months from the date or month (`YYYY-MM`) to the reference date lie in the range |
/// | `{"anyOf": [ ... ]}` | at least one of the conditions holds |
///
/// A record that lacks the field meets no condition on it.
package indirect enum RowCondition: Sendable, Equatable {
    case equals(field: String, value: ConditionValue)
    case oneOf(field: String, values: [String])
    case age(field: String, atLeast: Int?, atMost: Int?)
    case monthsAgo(field: String, atLeast: Int?, atMost: Int?)
    case anyOf([RowCondition])

    /// Whether the record with these fields meets the condition, with ages and months taken on `referenceDate`.
    package func holds(for fields: [String: FieldValue], on referenceDate: CalendarDate) -> Bool {
        switch self {
        case .equals(let field, let expected):
            switch (expected, fields[field]) {
            case (.text(let a), .text(let b)?): return a == b
            case (.boolean(let a), .boolean(let b)?): return a == b
            case (.integer(let a), .integer(let b)?): return a == b
            default: return false
            }
        case .oneOf(let field, let values):
            guard case .text(let s)? = fields[field] else { return false }
            return values.contains(s)
        case .age(let field, let low, let high):
            guard case .text(let s)? = fields[field], let birth = CalendarDate(s) else { return false }
            return Self.within(birth.age(on: referenceDate), low, high)
        case .monthsAgo(let field, let low, let high):
            guard case .text(let s)? = fields[field], let months = Self.monthsBetween(s, and: referenceDate) else {
                return false
            }
            return Self.within(months, low, high)
        case .anyOf(let conditions):
            return conditions.contains { $0.holds(for: fields, on: referenceDate) }
        }
    }

    /// The first reference date after `reference` on which the condition could hold differently
    /// for these fields (an age or a month count rolling over); `nil` if it never can. Never later
    /// than the real change: a day early at most (a 29 February or a 31st stands for the last day
    /// the month has), so a recheck on that day finds nothing changed and asks again.
    package func nextChange(for fields: [String: FieldValue], after reference: CalendarDate) -> CalendarDate? {
        switch self {
        case .equals, .oneOf:
            return nil
        case .age(let field, _, _):
            guard case .text(let s)? = fields[field], let birth = CalendarDate(s) else { return nil }
            let thisYear = CalendarDate.clamped(year: reference.year, month: birth.month, day: birth.day)
            return thisYear > reference
                ? thisYear : CalendarDate.clamped(year: reference.year + 1, month: birth.month, day: birth.day)
        case .monthsAgo(let field, _, _):
            guard case .text(let s)? = fields[field] else { return nil }
            guard let start = CalendarDate(s) ?? (s.utf8.count == 7 ? CalendarDate(s + "-01") : nil) else { return nil }
            let thisMonth = CalendarDate.clamped(year: reference.year, month: reference.month, day: start.day)
            if thisMonth > reference { return thisMonth }
            let next = reference.month == 12 ? (reference.year + 1, 1) : (reference.year, reference.month + 1)
            return CalendarDate.clamped(year: next.0, month: next.1, day: start.day)
        case .anyOf(let conditions):
            return conditions.compactMap { $0.nextChange(for: fields, after: reference) }.min()
        }
    }

    /// The fields the condition reads.
    package var fieldNames: [String] {
        switch self {
        case .equals(let f, _), .oneOf(let f, _), .age(let f, _, _), .monthsAgo(let f, _, _): [f]
        case .anyOf(let conditions): conditions.flatMap(\.fieldNames)
        }
    }

    private static func within(_ n: Int, _ low: Int?, _ high: Int?) -> Bool {
        (low.map { n >= $0 } ?? true) && (high.map { n <= $0 } ?? true)
    }

    /// Whole months from a date (`YYYY-MM-DD`) or month (`YYYY-MM`, taken as its first day) to `reference`.
    static func monthsBetween(_ text: String, and reference: CalendarDate) -> Int? {
        let start: CalendarDate
        if let date = CalendarDate(text) {
            start = date
        } else if text.utf8.count == 7, let date = CalendarDate(text + "-01") {
            start = date
        } else {
            return nil
        }
        var months = (reference.year - start.year) * 12 + (reference.month - start.month)
        if reference.day < start.day { months -= 1 }
        return months
    }
}

extension CalendarDate {
    /// The day, or the month's last day if it has fewer.
    package static func clamped(year: Int, month: Int, day: Int) -> CalendarDate {
        var d = day
        while CalendarDate(year: year, month: month, day: d) == nil { d -= 1 }
        return CalendarDate(year: year, month: month, day: d)!
    }

}

extension RowCondition: CustomStringConvertible {
    /// The condition in words, for explanations: `vsv = true`, `age (from geboortedatum) 12 to 26`.
    package var description: String {
        func range(_ low: Int?, _ high: Int?, _ unit: String) -> String {
            switch (low, high) {
            case let (l?, h?): "\(l) to \(h) \(unit)"
            case let (l?, nil): "at least \(l) \(unit)"
            case let (nil, h?): "at most \(h) \(unit)"
            case (nil, nil): "any number of \(unit)"
            }
        }
        switch self {
        case .equals(let f, let v): return "\(f) = \(v)"
        case .oneOf(let f, let vs): return "\(f) is one of \(vs.joined(separator: ", "))"
        case .age(let f, let l, let h): return "age (from \(f)) \(range(l, h, "years")) on the reference date"
        case .monthsAgo(let f, let l, let h): return "\(f) \(range(l, h, "months")) before the reference date"
        case .anyOf(let cs): return "any of: " + cs.map { "(\($0))" }.joined(separator: " or ")
        }
    }
}

extension RowCondition: Codable {
    private enum Key: String, CodingKey {
        case field, equals, oneOf, ageAtLeast, ageAtMost, monthsAgoAtLeast, monthsAgoAtMost, anyOf
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let kinds = [
            c.contains(.equals), c.contains(.oneOf), c.contains(.ageAtLeast) || c.contains(.ageAtMost),
            c.contains(.monthsAgoAtLeast) || c.contains(.monthsAgoAtMost), c.contains(.anyOf),
        ]
        guard kinds.filter({ $0 }).count == 1 else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "a condition has exactly one of: equals, oneOf, ageAtLeast/ageAtMost, monthsAgoAtLeast/monthsAgoAtMost, anyOf"
                )
            )
        }
        if c.contains(.anyOf) {
            self = .anyOf(try c.decode([RowCondition].self, forKey: .anyOf))
            return
        }
        let field = try c.decode(String.self, forKey: .field)
        if c.contains(.equals) {
            self = .equals(field: field, value: try c.decode(ConditionValue.self, forKey: .equals))
        } else if c.contains(.oneOf) {
            self = .oneOf(field: field, values: try c.decode([String].self, forKey: .oneOf))
        } else if kinds[2] {
            self = .age(
                field: field,
                atLeast: try c.decodeIfPresent(Int.self, forKey: .ageAtLeast),
                atMost: try c.decodeIfPresent(Int.self, forKey: .ageAtMost)
            )
        } else {
            self = .monthsAgo(
                field: field,
                atLeast: try c.decodeIfPresent(Int.self, forKey: .monthsAgoAtLeast),
                atMost: try c.decodeIfPresent(Int.self, forKey: .monthsAgoAtMost)
            )
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .equals(let f, let v):
            try c.encode(f, forKey: .field)
            try c.encode(v, forKey: .equals)
        case .oneOf(let f, let vs):
            try c.encode(f, forKey: .field)
            try c.encode(vs, forKey: .oneOf)
        case .age(let f, let l, let h):
            try c.encode(f, forKey: .field)
            try c.encodeIfPresent(l, forKey: .ageAtLeast)
            try c.encodeIfPresent(h, forKey: .ageAtMost)
        case .monthsAgo(let f, let l, let h):
            try c.encode(f, forKey: .field)
            try c.encodeIfPresent(l, forKey: .monthsAgoAtLeast)
            try c.encodeIfPresent(h, forKey: .monthsAgoAtMost)
        case .anyOf(let cs):
            try c.encode(cs, forKey: .anyOf)
        }
    }
}

/// A literal in a row condition.
package enum ConditionValue: Sendable, Codable, Equatable, CustomStringConvertible {
    case text(String)
    case boolean(Bool)
    case integer(Int)

    package init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .boolean(b)
        } else if let i = try? c.decode(Int.self) {
            self = .integer(i)
        } else {
            self = .text(try c.decode(String.self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .boolean(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        }
    }

    package var description: String {
        switch self {
        case .text(let s): "\"\(s)\""
        case .boolean(let b): String(b)
        case .integer(let i): String(i)
        }
    }
}

/// The day ages and months are counted to: the day of the pull, or the most recent occurrence of
/// a fixed day of the year (a peildatum such as 1 October). JSON: `"today"` or `"MM-DD"`.
package enum ReferenceDay: Sendable, Equatable, Codable, CustomStringConvertible {
    case today
    case annual(month: Int, day: Int)

    /// The reference date for a pull made on `today`.
    package func date(on today: CalendarDate) -> CalendarDate {
        switch self {
        case .today:
            return today
        case .annual(let month, let day):
            let year = (today.month, today.day) >= (month, day) ? today.year : today.year - 1
            // 29 February in a year without one: the 28th.
            return CalendarDate(year: year, month: month, day: day) ?? CalendarDate(
                year: year,
                month: month,
                day: day - 1
            )!
        }
    }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text == "today" {
            self = .today
            return
        }
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let m = Int(parts[0]), let d = Int(parts[1]),
            CalendarDate(year: 2024, month: m, day: d) != nil
        else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "expected \"today\" or a day of the year as \"MM-DD\""
                )
            )
        }
        self = .annual(month: m, day: d)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    package var description: String {
        switch self {
        case .today: "today"
        case .annual(let m, let d): (m < 10 ? "0" : "") + "\(m)-" + (d < 10 ? "0" : "") + "\(d)"
        }
    }
}
