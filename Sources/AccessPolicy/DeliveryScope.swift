import Records
import VangnetCore

/// What one consumer receives for one purpose: its region's population and the purpose's fields.
///
/// Only ``Policy/mayPull(consumer:purpose:)`` makes one.
public struct DeliveryScope: Sendable {
    public let purpose: PolicyDocument.Purpose
    public let region: RegionNumber

    /// Whether a population-dataset record places its person in this purpose's population,
    /// evaluated on `referenceDate` (ages are taken on that day).
    public func admitsToPopulation(_ fields: [String: FieldValue], on referenceDate: CalendarDate) -> Bool {
        purpose.population.allSatisfy { $0.holds(for: fields[$0.field], on: referenceDate) }
    }

    /// The fields of `dataset` this purpose delivers, in a stable order; empty if none.
    public func deliveredFields(of dataset: DatasetID) -> [String] { purpose.fields[dataset.value] ?? [] }

    /// The record reduced to the purpose's fields: nothing else leaves the gateway.
    public func project(_ fields: [String: FieldValue], of dataset: DatasetID) -> [(name: String, value: FieldValue?)] {
        deliveredFields(of: dataset).map { ($0, fields[$0]) }
    }
}

extension RowCondition {
    /// Whether `value` meets this condition; a missing value meets none.
    func holds(for value: FieldValue?, on referenceDate: CalendarDate) -> Bool {
        guard let value else { return false }
        if let expected = equals {
            switch (expected, value) {
            case (.text(let a), .text(let b)): if a != b { return false }
            case (.boolean(let a), .boolean(let b)): if a != b { return false }
            case (.integer(let a), .integer(let b)): if a != b { return false }
            default: return false
            }
        }
        if let allowed = oneOf {
            guard case .text(let s) = value, allowed.contains(s) else { return false }
        }
        if ageAtLeast != nil || ageAtMost != nil {
            guard case .text(let s) = value, let birth = CalendarDate(s) else { return false }
            let age = birth.age(on: referenceDate)
            if let low = ageAtLeast, age < low { return false }
            if let high = ageAtMost, age > high { return false }
        }
        return true
    }
}
