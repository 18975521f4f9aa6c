import Foundation
import Records
import VangnetCore

/// What one consumer receives for one purpose: its region's population and the purpose's fields.
///
/// Made by ``Policy/mayPull(consumer:purpose:)`` alone: its initialiser is internal to this module,
/// and that decision is its one caller.
package struct DeliveryScope: Sendable {
    package let purpose: PolicyDocument.Purpose
    package let region: RegionNumber

    /// The day ages and months are counted to, for a pull made on `today`.
    package func referenceDate(on today: CalendarDate) -> CalendarDate { purpose.referenceDay.date(on: today) }

    /// Whether a population-dataset record places its person in this purpose's population
    /// (its region is checked by the caller).
    package func admitsToPopulation(_ fields: [String: FieldValue], on referenceDate: CalendarDate) -> Bool {
        purpose.population.allSatisfy { $0.holds(for: fields, on: referenceDate) }
    }

    /// Whether a record of `dataset`, of a person already in the population, meets the purpose's
    /// further conditions for that dataset.
    package func admitsRecord(
        _ fields: [String: FieldValue],
        of dataset: DatasetID,
        on referenceDate: CalendarDate
    ) -> Bool {
        purpose.conditions(for: dataset).allSatisfy { $0.holds(for: fields, on: referenceDate) }
    }

    /// Whether a record committed at `committedAt` is still within this purpose's retention at `now`.
    package func withinRetention(committedAt: Date, now: Date) -> Bool {
        committedAt > now.addingTimeInterval(-Double(purpose.retentionDays) * 86_400)
    }

    /// The datasets the purpose delivers, in id order.
    package var datasets: [DatasetID] { purpose.fields.keys.map { DatasetID($0) }.sorted() }

    /// Every field of `dataset` this purpose delivers of some version, in a stable order; empty
    /// if none.
    package func deliveredFields(of dataset: DatasetID) -> [String] { purpose.allFields(of: dataset) }
}
