import Foundation
import Records
import VangnetCore

/// What one consumer receives for one purpose: its region's population and the purpose's fields.
///
/// Made by ``Policy/mayPull(consumer:purpose:)`` alone: its initialiser is internal to this module,
/// and that decision is its one caller.
public struct DeliveryScope: Sendable {
    public let purpose: PolicyDocument.Purpose
    public let region: RegionNumber
    let schemas: [DatasetID: DatasetSchema]

    /// The day ages and months are counted to, for a pull made on `today`.
    public func referenceDate(on today: CalendarDate) -> CalendarDate { purpose.referenceDay.date(on: today) }

    /// Whether a population-dataset record places its person in this purpose's population
    /// (its region is checked by the caller).
    public func admitsToPopulation(_ fields: [String: FieldValue], on referenceDate: CalendarDate) -> Bool {
        purpose.population.allSatisfy { $0.holds(for: fields, on: referenceDate) }
    }

    /// Whether a record of `dataset`, of a person already in the population, meets the purpose's
    /// further conditions for that dataset.
    public func admitsRecord(_ fields: [String: FieldValue], of dataset: DatasetID, on referenceDate: CalendarDate) -> Bool {
        purpose.conditions(for: dataset).allSatisfy { $0.holds(for: fields, on: referenceDate) }
    }

    /// Whether a record committed at `committedAt` is still within this purpose's retention at `now`.
    public func withinRetention(committedAt: Date, now: Date) -> Bool {
        committedAt > now.addingTimeInterval(-Double(purpose.retentionDays) * 86_400)
    }

    /// The datasets the purpose delivers, in id order.
    public var datasets: [DatasetID] { purpose.fields.keys.map { DatasetID($0) }.sorted() }

    /// The fields of `dataset` this purpose delivers, in a stable order; empty if none.
    public func deliveredFields(of dataset: DatasetID) -> [String] { purpose.fields[dataset.value] ?? [] }

    /// The record reduced to the purpose's fields: nothing else leaves the gateway.
    public func project(_ fields: [String: FieldValue], of dataset: DatasetID) -> [(name: String, value: FieldValue?)] {
        deliveredFields(of: dataset).map { ($0, fields[$0]) }
    }
}
